-- A newer producer must be able to store an event type this release does not know yet: during a
-- rolling upgrade the producers may run ahead of the workers, and the workers hold such a bet at
-- the last version they can fold instead of folding past it (docs/architecture.md, "A type this
-- version does not know"). Which types a producer may append is the validator's to say
-- (src/events/validate.ts); the table keeps the shape of a type name, and keeps the placing event
-- at version 1 for every version of it (V1_BET_PLACED, V2_BET_PLACED, ...).
--
-- Dropping a check and adding one NOT VALID take a brief lock and read no rows: every stored event
-- passed the stricter checks they replace.
ALTER TABLE bet_events DROP CONSTRAINT bet_events_event_type_check;

ALTER TABLE bet_events ADD CONSTRAINT bet_events_event_type_shape
  CHECK (event_type ~ '^V[0-9]+_[A-Z][A-Z0-9_]*$') NOT VALID;

ALTER TABLE bet_events DROP CONSTRAINT bet_events_placed_is_version_1;

ALTER TABLE bet_events ADD CONSTRAINT bet_events_placed_is_version_1
  CHECK ((event_type ~ '^V[0-9]+_BET_PLACED$') = (version = 1)) NOT VALID;
