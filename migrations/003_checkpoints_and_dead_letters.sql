-- Where each projection is in each Kafka partition. Written in the same transaction as the view
-- rows, so after a crash the database, not Kafka's committed offset, says what was applied.
CREATE TABLE projection_checkpoints (
  projection            text        NOT NULL,
  topic                 text        NOT NULL,
  partition             integer     NOT NULL,
  next_offset           bigint      NOT NULL,
  last_event_timestamp  bigint,
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT projection_checkpoints_pkey PRIMARY KEY (projection, topic, partition)
);

-- Messages that could not be decoded or validated: kept whole, with where they came from and why,
-- so that nothing accepted by Kafka is lost and none stalls its partition.
CREATE TABLE dead_letters (
  topic          text        NOT NULL,
  partition      integer     NOT NULL,
  kafka_offset   bigint      NOT NULL,
  message_key    text,
  payload        bytea,
  tenant_id      bigint,
  reason         text        NOT NULL,
  first_seen_at  timestamptz NOT NULL DEFAULT now(),
  replayed_at    timestamptz,
  replay_result  text,
  -- A redelivered bad message is the same dead letter, not a second one.
  CONSTRAINT dead_letters_pkey PRIMARY KEY (topic, partition, kafka_offset)
);
