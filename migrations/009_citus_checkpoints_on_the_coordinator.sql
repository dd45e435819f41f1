-- On Citus, projection_checkpoints becomes a table of the coordinator instead of a reference table.
-- Every flush writes a checkpoint in its transaction; a reference table is written on every node,
-- so each flush paid a write and a two-phase commit participant on every node for one small row.
-- As a local table it is written on the coordinator, inside the same distributed transaction as the
-- view's shards (Citus commits the shards' prepared transactions with the coordinator's, and
-- recovers them from its record if it crashes in between): the checkpoint still commits with the
-- data, and a flush's transaction has one participant less (README, Citus). Only the projector,
-- connected to the coordinator, reads it. dead_letters stays a reference table: it is written only when a
-- message is bad, and is then readable from any node. On plain PostgreSQL this does nothing.
DO $$
BEGIN
  -- Nested: pg_dist_partition exists only where Citus does, and plpgsql plans a statement when it runs.
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    IF EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'projection_checkpoints'::regclass) THEN
      PERFORM undistribute_table('projection_checkpoints');
    END IF;
  END IF;
END
$$;
