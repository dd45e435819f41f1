-- A transition (a bets_view row the version guard accepted) now tells its followers what the row
-- was before the write in full measure: its status (migration 011), its payout and the time of its
-- last event. A follower that sums over closed bets by the day they closed (tenant_daily_revenue)
-- can then take back exactly what the row counted before when a bet is settled again or cancelled
-- after settlement. Stake, odds, currency, user and placing time are fixed by version 1, so the row
-- as written already says what they were.
--
-- Bookkeeping for the transition, not part of the read model; NULL on insert. New nullable columns
-- without a default change the catalog only: no rewrite of bets_view, no lock held while workers run
-- beyond the moment of the ALTER.
ALTER TABLE bets_view ADD COLUMN previous_payout numeric(20,4);
ALTER TABLE bets_view ADD COLUMN previous_event_at bigint;

-- upsert_bet_view() (migration 011) wrote bets_view and user_exposure from SQL of its own: a second
-- statement of every follower's change, in another language, which each new read model would have to
-- copy, and which does not keep the columns above. One bet is re-folded through every read model by
-- `projector repair --tenant N --bet ID` instead.
DROP FUNCTION upsert_bet_view(bigint, text);
