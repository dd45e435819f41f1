-- The append-only source of truth. Keyed by tenant_id first so that Citus can distribute it by
-- tenant and every unique key stays enforceable on one shard.
CREATE TABLE bet_events (
  tenant_id        bigint      NOT NULL,
  aggregate_id     text        NOT NULL,
  version          integer     NOT NULL CHECK (version >= 1),
  idempotency_key  text        NOT NULL,
  event_type       text        NOT NULL CHECK (event_type IN (
                     'V1_BET_PLACED', 'V1_BET_ACCEPTED', 'V1_BET_REJECTED',
                     'V1_BET_CANCELLED', 'V1_BET_SETTLED', 'V1_BET_CASHED_OUT')),
  event_data       jsonb       NOT NULL,
  "timestamp"      bigint      NOT NULL,
  recorded_at      timestamptz NOT NULL DEFAULT now(),
  -- Optimistic concurrency: exactly one writer wins each version of a bet.
  CONSTRAINT bet_events_pkey PRIMARY KEY (tenant_id, aggregate_id, version),
  -- Idempotent append: a retried event is recognised by its key and not stored twice.
  CONSTRAINT bet_events_idempotency_key UNIQUE (tenant_id, idempotency_key)
);

-- "Events after timestamp T": the lag report, repair --since and the reconciliation sweep.
CREATE INDEX bet_events_timestamp_idx ON bet_events ("timestamp");
