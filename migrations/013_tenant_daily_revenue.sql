-- tenant_daily_revenue: per tenant, currency and UTC day, what the finance team reads every morning.
--   turnover: the stakes of the bets placed that day (the day of the placing event's timestamp);
--   ggr (gross gaming revenue): stake − payout of the bets closed that day as won, lost, cashed out
--   or partially won (the day of the closing event's timestamp); void, cancelled and rejected bets
--   add nothing to it, and a bet settled again or cancelled after settlement takes back what it
--   added before.
-- A follower of bets_view like user_exposure (projections/revenue): added to in the transaction that
-- writes bets_view, from the row transitions its version guard accepted; checked and set against
-- bets_view by `projector lag` and `projector repair`.
CREATE TABLE tenant_daily_revenue (
  tenant_id   bigint        NOT NULL,
  currency    text          NOT NULL,
  day         date          NOT NULL,
  -- Sums of numeric(20,4) stakes and payouts: exact, never rounded.
  turnover    numeric(28,4) NOT NULL,
  ggr         numeric(28,4) NOT NULL,
  version     bigint        NOT NULL DEFAULT 1,
  updated_at  timestamptz   NOT NULL DEFAULT now(),
  CONSTRAINT tenant_daily_revenue_pkey PRIMARY KEY (tenant_id, currency, day)
) WITH (
  -- Today's row of each tenant and currency is rewritten by nearly every flush: room for HOT updates.
  fillfactor = 50
);

DO $$
BEGIN
  -- Nested: pg_dist_partition exists only where Citus does, and plpgsql plans a statement when it runs.
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('tenant_daily_revenue', 'tenant_id', colocate_with => 'bets_view');
  END IF;
END
$$;

-- The same protection as bets_view: the writer role writes it, a reader sees its own tenant's rows.
REVOKE ALL ON tenant_daily_revenue FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON tenant_daily_revenue TO bet_projector_writer;
GRANT SELECT ON tenant_daily_revenue TO bet_projector_reader;
ALTER TABLE tenant_daily_revenue ENABLE ROW LEVEL SECURITY;
CREATE POLICY writer_all_tenants ON tenant_daily_revenue TO bet_projector_writer USING (true) WITH CHECK (true);
CREATE POLICY reader_own_tenant ON tenant_daily_revenue FOR SELECT TO bet_projector_reader
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);

-- The revenue of the bets already in the view. Workers of an older release keep writing bets_view
-- without adding to this table until they are replaced: `projector repair` after the rollout sets
-- it exactly (docs/upgrading.md).
INSERT INTO tenant_daily_revenue (tenant_id, currency, day, turnover, ggr)
SELECT tenant_id, currency, day, sum(turnover), sum(ggr)
FROM (
  SELECT tenant_id, currency, (placed_at AT TIME ZONE 'UTC')::date AS day, amount AS turnover, 0 AS ggr
  FROM bets_view
  WHERE placed_at IS NOT NULL AND amount IS NOT NULL AND currency IS NOT NULL
  UNION ALL
  SELECT tenant_id, currency,
         (('epoch'::timestamptz + last_updated_timestamp * interval '1 millisecond') AT TIME ZONE 'UTC')::date,
         0, amount - coalesce(payout, 0)
  FROM bets_view
  WHERE status IN ('won', 'lost', 'cashed_out', 'partially_won') AND amount IS NOT NULL AND currency IS NOT NULL
) contributions
GROUP BY tenant_id, currency, day;
