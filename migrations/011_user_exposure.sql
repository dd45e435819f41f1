-- user_exposure: per tenant, user and currency, the bets still open (placed or accepted) — how many,
-- their stake, and what they could pay out if they all won (stake × odds) — for risk limits checked
-- before the next bet is accepted.
--
-- It is maintained in the very statement that writes bets_view, from the row transitions the version
-- guard accepted: the UPSERT returns each written row with the status it had before (NULL when the
-- row is new), and the same statement adds the difference to user_exposure. A replay, a duplicate or
-- a slower writer is refused by the guard and so adds nothing; two writers racing on one bet each see
-- the other's committed row as "before". So no bet is counted twice or missed, whichever path writes
-- (worker, immediate mode, repair, the sweep, upsert_bet_view()).
--
-- previous_status is set on every update (the status before that write) and NULL on insert; it is
-- bookkeeping for the transition, not part of the read model.
ALTER TABLE bets_view ADD COLUMN previous_status text;

CREATE TABLE user_exposure (
  tenant_id         bigint        NOT NULL,
  user_id           text          NOT NULL,
  currency          text          NOT NULL,
  open_bets         bigint        NOT NULL,
  -- Sums of numeric(20,4) stakes and of their products with numeric(12,4) odds: exact, never rounded.
  open_stake        numeric(28,4) NOT NULL,
  potential_payout  numeric(36,8) NOT NULL,
  -- Moves by one with every change, for readers that compare-and-act on a user's exposure.
  version           bigint        NOT NULL DEFAULT 1,
  updated_at        timestamptz   NOT NULL DEFAULT now(),
  CONSTRAINT user_exposure_pkey PRIMARY KEY (tenant_id, user_id, currency)
) WITH (
  -- A user's row is rewritten whenever one of their bets opens or closes: half of every page kept
  -- free, so nearly every update stays on its page (HOT) and the primary key is not touched.
  fillfactor = 50
);

DO $$
BEGIN
  -- Nested: pg_dist_partition exists only where Citus does, and plpgsql plans a statement when it runs.
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('user_exposure', 'tenant_id', colocate_with => 'bets_view');
  END IF;
END
$$;

-- The same protection as bets_view: the writer role writes it, a reader sees its own tenant's rows.
REVOKE ALL ON user_exposure FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON user_exposure TO bet_projector_writer;
GRANT SELECT ON user_exposure TO bet_projector_reader;
ALTER TABLE user_exposure ENABLE ROW LEVEL SECURITY;
CREATE POLICY writer_all_tenants ON user_exposure TO bet_projector_writer USING (true) WITH CHECK (true);
CREATE POLICY reader_own_tenant ON user_exposure FOR SELECT TO bet_projector_reader
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);

-- The exposure of the bets already in the view.
INSERT INTO user_exposure (tenant_id, user_id, currency, open_bets, open_stake, potential_payout)
SELECT tenant_id, user_id, currency, count(*), sum(coalesce(amount, 0)), sum(coalesce(amount, 0) * coalesce(odds, 0))
FROM bets_view
WHERE status IN ('placed', 'accepted') AND user_id IS NOT NULL AND currency IS NOT NULL
GROUP BY tenant_id, user_id, currency;

-- upsert_bet_view() (a psql-prompt re-fold of one bet) keeps user_exposure in step too.
CREATE OR REPLACE FUNCTION upsert_bet_view(p_tenant_id bigint, p_bet_id text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  f bets_fold%ROWTYPE;
  written bets_view%ROWTYPE;
  delta integer;
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
    last_updated_timestamp = EXCLUDED.last_updated_timestamp, projected_at = EXCLUDED.projected_at,
    previous_status = v.status
  WHERE v.version < EXCLUDED.version
  RETURNING * INTO written;
  IF written.tenant_id IS NULL THEN
    RETURN false;
  END IF;
  delta := (written.status IN ('placed', 'accepted'))::integer
         - coalesce((written.previous_status IN ('placed', 'accepted'))::integer, 0);
  IF delta <> 0 AND written.user_id IS NOT NULL AND written.currency IS NOT NULL THEN
    INSERT INTO user_exposure AS x (tenant_id, user_id, currency, open_bets, open_stake, potential_payout)
    VALUES (written.tenant_id, written.user_id, written.currency, delta,
            delta * coalesce(written.amount, 0), delta * coalesce(written.amount, 0) * coalesce(written.odds, 0))
    ON CONFLICT (tenant_id, user_id, currency) DO UPDATE SET
      open_bets = x.open_bets + EXCLUDED.open_bets, open_stake = x.open_stake + EXCLUDED.open_stake,
      potential_payout = x.potential_payout + EXCLUDED.potential_payout, version = x.version + 1,
      updated_at = EXCLUDED.updated_at;
  END IF;
  RETURN true;
END
$$;
