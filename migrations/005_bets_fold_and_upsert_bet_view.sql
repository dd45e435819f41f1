-- A bet is placed by its first event and only by it (the validator already refuses anything else);
-- stated here so the database guarantees what the SQL fold below relies on.
ALTER TABLE bet_events ADD CONSTRAINT bet_events_placed_is_version_1
  CHECK ((event_type = 'V1_BET_PLACED') = (version = 1));

CREATE TYPE bet_fold_latest AS (status text, event_type text, "timestamp" bigint);

-- The fold of bet_events in SQL, one row per bet, with the same rules as the reducer
-- (projections/bets/reducer.ts): the placing event's fields survive later events; status, type and
-- timestamp come from the latest version; payout from the latest event that carries one.
-- Written for speed: the placing event is version 1 (constraint above), so its fields need no
-- ordering, and the latest event's fields come from one ordered aggregate of a composite instead
-- of one per field (4.9 s -> 3.7 s for 1M events here). The rebuild fills its shadow table from
-- this view and upsert_bet_view() re-folds one bet with it; tests hold it equal to the reducer.
-- Grouped by the distribution column, so on Citus it runs on every shard in parallel.
CREATE VIEW bets_fold AS
SELECT tenant_id, bet_id, idempotency_key, user_id, amount, odds, selection, currency,
       (latest).status AS status, payout, version, (latest).event_type AS last_event_type, placed_at,
       (latest)."timestamp" AS last_updated_timestamp
FROM (
  SELECT
    tenant_id,
    aggregate_id AS bet_id,
    max(idempotency_key) FILTER (WHERE version = 1) AS idempotency_key,
    max(event_data ->> 'user_id') FILTER (WHERE version = 1) AS user_id,
    max((event_data ->> 'amount')::numeric(20,4)) FILTER (WHERE version = 1) AS amount,
    max((event_data ->> 'odds')::numeric(12,4)) FILTER (WHERE version = 1) AS odds,
    max(event_data ->> 'selection') FILTER (WHERE version = 1) AS selection,
    max(event_data ->> 'currency') FILTER (WHERE version = 1) AS currency,
    (array_agg(ROW(
       CASE
         WHEN event_type = 'V1_BET_PLACED' THEN 'placed'
         WHEN event_type = 'V1_BET_ACCEPTED' THEN 'accepted'
         WHEN event_type = 'V1_BET_REJECTED' THEN 'rejected'
         WHEN event_type = 'V1_BET_CANCELLED' THEN 'cancelled'
         WHEN event_type = 'V1_BET_SETTLED' THEN event_data ->> 'result'
         WHEN event_type = 'V1_BET_CASHED_OUT' THEN 'cashed_out'
       END, event_type, "timestamp")::bet_fold_latest ORDER BY version DESC))[1] AS latest,
    ((array_agg(event_data ->> 'payout' ORDER BY version DESC)
        FILTER (WHERE event_type IN ('V1_BET_SETTLED', 'V1_BET_CASHED_OUT')))[1])::numeric(20,4) AS payout,
    max(version) AS version,
    'epoch'::timestamptz + max("timestamp") FILTER (WHERE version = 1) * interval '1 millisecond' AS placed_at
  FROM bet_events
  GROUP BY tenant_id, aggregate_id
) folded;

-- For operators at a psql prompt: re-fold one bet from its events into bets_view.
-- Version-guarded like every other write path; returns true if the row changed.
CREATE FUNCTION upsert_bet_view(p_tenant_id bigint, p_bet_id text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  changed integer;
BEGIN
  INSERT INTO bets_view AS v (tenant_id, bet_id, idempotency_key, user_id, amount, odds, selection, currency,
                              status, payout, version, last_event_type, placed_at, last_updated_timestamp,
                              projected_at)
  SELECT f.tenant_id, f.bet_id, f.idempotency_key, f.user_id, f.amount, f.odds, f.selection, f.currency,
         f.status, f.payout, f.version, f.last_event_type, f.placed_at, f.last_updated_timestamp,
         clock_timestamp()
  FROM bets_fold f
  WHERE f.tenant_id = p_tenant_id AND f.bet_id = p_bet_id
  ON CONFLICT (tenant_id, bet_id) DO UPDATE SET
    idempotency_key = EXCLUDED.idempotency_key, user_id = EXCLUDED.user_id, amount = EXCLUDED.amount,
    odds = EXCLUDED.odds, selection = EXCLUDED.selection, currency = EXCLUDED.currency,
    status = EXCLUDED.status, payout = EXCLUDED.payout, version = EXCLUDED.version,
    last_event_type = EXCLUDED.last_event_type, placed_at = EXCLUDED.placed_at,
    last_updated_timestamp = EXCLUDED.last_updated_timestamp, projected_at = EXCLUDED.projected_at
  WHERE v.version < EXCLUDED.version;
  GET DIAGNOSTICS changed = ROW_COUNT;
  RETURN changed > 0;
END
$$;
