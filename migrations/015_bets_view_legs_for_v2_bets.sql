-- V2 bets (docs/architecture.md, "Events evolve"): a bet has 1 to 20 legs, a combined price and the
-- channel it came through. V1 events are read as V2 ones (one leg, no market, no channel); stored
-- events are never rewritten.
--
-- legs: the legs in the event's order, each {"selection", "odds", "market"} (market null when the
-- event gave none; odds the event's decimal string). combined_odds: the exact product of the legs'
-- odds (20 legs of 4 places need 80: unconstrained numeric). odds and selection keep their meaning
-- for a bet of one leg and are NULL for an accumulator.
--
-- New nullable columns without a default change the catalog only: no rewrite of bets_view, no lock
-- held while workers run beyond the moment of the ALTER. Rows written before this migration get them
-- from `projector rebuild` (docs/upgrading.md); until then user_exposure reads such a row's odds.
ALTER TABLE bets_view ADD COLUMN legs jsonb;
ALTER TABLE bets_view ADD COLUMN legs_count integer;
ALTER TABLE bets_view ADD COLUMN combined_odds numeric;
ALTER TABLE bets_view ADD COLUMN channel text;

-- The exact product of the legs' odds, for the rebuild's set-based fold (the worker's fold computes
-- the same in Node: src/events/decimal.ts). NUMERIC multiplication keeps every digit.
CREATE FUNCTION legs_combined_odds(legs jsonb) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  product numeric := 1;
  leg jsonb;
BEGIN
  FOR leg IN SELECT jsonb_array_elements(legs) LOOP
    product := product * (leg ->> 'odds')::numeric;
  END LOOP;
  RETURN product;
END
$$;

-- bets_fold (migration 005) folded V1 events only, by hand. The fold in SQL is now generated from the
-- one declaration of what each event does (projections/bets/eventFolds.ts), and nothing reads the
-- view any more: a stale second statement of the fold would be wrong about every V2 bet.
DROP VIEW bets_fold;
