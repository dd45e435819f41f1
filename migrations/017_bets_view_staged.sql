-- bets_view_staged: where a large batch of bets_view rows waits for a moment on Citus, inside the
-- transaction that writes it (src/db/dialect.ts, `staged`). The batch goes in as one
-- INSERT … SELECT FROM unnest with no ON CONFLICT, which Citus sends to the shards as COPY; then one
-- INSERT … SELECT between colocated tables runs the UPSERT on every shard it touches, without the
-- coordinator writing each row into a task's text; then the batch's rows are deleted, before the
-- COMMIT. Other transactions never see a row of it. Unused on plain PostgreSQL, where one statement
-- binds the batch as arrays.
--
-- The columns are bets_view's as the UPSERT binds them (projections/bets/columns.ts, held to this
-- table by a test), the batch and the row's place in it (the order rows are written in, so every
-- writer locks bets_view's rows in one order). Logged, though its rows live for one transaction:
-- Citus moves a shard online by logical replication together with its colocated shards, and an
-- unlogged table cannot be published (the cluster suite's shard move failed on it).
CREATE TABLE bets_view_staged (
  batch_id               uuid    NOT NULL,
  ordinal                bigint  NOT NULL,
  tenant_id              bigint  NOT NULL,
  bet_id                 text    NOT NULL,
  idempotency_key        text,
  user_id                text,
  amount                 numeric,
  odds                   numeric,
  selection              text,
  currency               text,
  legs                   jsonb,
  legs_count             integer,
  combined_odds          numeric,
  channel                text,
  status                 text,
  payout                 numeric,
  version                integer,
  last_event_type        text,
  placed_at              bigint,
  last_updated_timestamp bigint
);

DO $$
BEGIN
  -- Nested: pg_dist_partition exists only where Citus does, and plpgsql plans a statement when it runs.
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('bets_view_staged', 'tenant_id', colocate_with => 'bets_view');
  END IF;
END
$$;

-- The writer role stages and deletes its own batches; no other role may touch it. No row-level
-- security: the writer sees every tenant in any case, and Citus refuses the COPY it routes rows with
-- into a table that has it.
REVOKE ALL ON bets_view_staged FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON bets_view_staged TO bet_projector_writer;
