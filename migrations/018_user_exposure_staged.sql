-- user_exposure_staged: where a large addition to user_exposure waits for a moment on Citus, inside
-- the transaction that writes it, as bets_view's batches do in bets_view_staged (migration 017,
-- whose notes hold for this table too). A flush of a backlog moves the exposure of about as many
-- users as it writes bets. Unlike bets_view's, these rows are shared between flushes: the addition
-- from this table keeps Citus's shard lock, so flushes adding to the same users take turns rather
-- than deadlock across nodes (src/db/dialect.ts, stagedInsert).
--
-- The columns are the addition's as it is bound (projections/exposure/statements.ts, EXPOSURE_SUMS:
-- its key, then its sums; held to this table by a test), the batch and the row's place in it.
CREATE TABLE user_exposure_staged (
  batch_id         uuid    NOT NULL,
  ordinal          bigint  NOT NULL,
  tenant_id        bigint  NOT NULL,
  user_id          text,
  currency         text,
  open_bets        bigint,
  open_stake       numeric,
  potential_payout numeric
);

DO $$
BEGIN
  -- Nested: pg_dist_partition exists only where Citus does, and plpgsql plans a statement when it runs.
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('user_exposure_staged', 'tenant_id', colocate_with => 'bets_view');
  END IF;
END
$$;

-- As bets_view_staged: the writer role stages and deletes its own batches; no other role may touch
-- it; no row-level security (Citus's COPY refuses a table that has it).
REVOKE ALL ON user_exposure_staged FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON user_exposure_staged TO bet_projector_writer;
