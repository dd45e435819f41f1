-- The denormalized read model, written only by the application (Citus refuses triggers on
-- distributed tables). Every row is the fold of its bet's events 1..version.
CREATE TABLE bets_view (
  tenant_id               bigint        NOT NULL,
  bet_id                  text          NOT NULL,
  idempotency_key         text,
  user_id                 text,
  amount                  numeric(20,4),
  odds                    numeric(12,4),
  selection               text,
  currency                text,
  status                  text          NOT NULL,
  payout                  numeric(20,4),
  version                 integer       NOT NULL,
  last_event_type         text          NOT NULL,
  placed_at               timestamptz,
  last_updated_timestamp  bigint        NOT NULL,
  projected_at            timestamptz   NOT NULL DEFAULT now(),
  CONSTRAINT bets_view_pkey PRIMARY KEY (tenant_id, bet_id)
);

CREATE INDEX bets_view_user_idx ON bets_view (tenant_id, user_id);
