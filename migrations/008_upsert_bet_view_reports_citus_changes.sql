-- upsert_bet_view() again, with the same meaning: it now tells whether the row changed from the
-- INSERT's RETURNING instead of GET DIAGNOSTICS ROW_COUNT. On Citus an INSERT … SELECT … ON CONFLICT
-- … WHERE into a distributed table reports a row count for a row the version guard refused (it
-- counts the rows selected, not the rows written), so the function answered true for a bet whose
-- row did not change. The fold is read first and written with INSERT … VALUES, which Citus routes to
-- the bet's shard and whose RETURNING names exactly the rows written, on both platforms.
CREATE OR REPLACE FUNCTION upsert_bet_view(p_tenant_id bigint, p_bet_id text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  f bets_fold%ROWTYPE;
  changed boolean;
BEGIN
  SELECT * INTO f FROM bets_fold WHERE tenant_id = p_tenant_id AND bet_id = p_bet_id;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO bets_view AS v (tenant_id, bet_id, idempotency_key, user_id, amount, odds, selection, currency,
                              status, payout, version, last_event_type, placed_at, last_updated_timestamp,
                              projected_at)
  VALUES (f.tenant_id, f.bet_id, f.idempotency_key, f.user_id, f.amount, f.odds, f.selection, f.currency,
          f.status, f.payout, f.version, f.last_event_type, f.placed_at, f.last_updated_timestamp,
          clock_timestamp())
  ON CONFLICT (tenant_id, bet_id) DO UPDATE SET
    idempotency_key = EXCLUDED.idempotency_key, user_id = EXCLUDED.user_id, amount = EXCLUDED.amount,
    odds = EXCLUDED.odds, selection = EXCLUDED.selection, currency = EXCLUDED.currency,
    status = EXCLUDED.status, payout = EXCLUDED.payout, version = EXCLUDED.version,
    last_event_type = EXCLUDED.last_event_type, placed_at = EXCLUDED.placed_at,
    last_updated_timestamp = EXCLUDED.last_updated_timestamp, projected_at = EXCLUDED.projected_at
  WHERE v.version < EXCLUDED.version
  RETURNING true INTO changed;
  RETURN coalesce(changed, false);
END
$$;
