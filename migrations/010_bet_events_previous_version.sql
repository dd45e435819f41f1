-- The store itself refuses a hole in a bet's versions: every event after the first names its
-- predecessor, which must be stored. Until now the append path checked this with a query of its own
-- after the insert — on Citus a second trip to every shard the batch touches. A foreign key is
-- checked by the insert itself, on the shard that holds the bet (the key includes tenant_id, the
-- distribution column, so Citus accepts it), in the same statement.
--
-- previous_version is set by the application (version - 1, NULL for version 1) rather than
-- generated, because adding a stored generated column rewrites the table; a plain nullable column
-- and NOT VALID constraints take a brief lock and leave the stored events as they are. They are
-- enforced for every event appended from now on: older rows were checked by the application when
-- they were appended.
ALTER TABLE bet_events ADD COLUMN previous_version integer;

ALTER TABLE bet_events ADD CONSTRAINT bet_events_previous_version_is_version_minus_1
  CHECK (previous_version IS NOT DISTINCT FROM (CASE WHEN version > 1 THEN version - 1 END)) NOT VALID;

ALTER TABLE bet_events ADD CONSTRAINT bet_events_previous_version_stored
  FOREIGN KEY (tenant_id, aggregate_id, previous_version)
  REFERENCES bet_events (tenant_id, aggregate_id, version) NOT VALID;
