-- Room on each page for the next versions of its rows. A live bet is updated a few times (accepted,
-- settled, cashed out); with free space on its page the update is HOT: the new row version stays on
-- the page and neither index is touched. The worker's flush ceiling at 100-event batches went from
-- about 23,500 to 27,000-30,000 events/s with it (bench, same machine, alternating runs).
-- Settled bets are never updated again, so the rebuild fills its shadow packed and copies this
-- setting to it before the swap (projections/bets/rebuild.ts): an active row moves to a roomy page
-- on its first update. On Citus, ALTER TABLE … SET propagates to the shards.
ALTER TABLE bets_view SET (fillfactor = 70);
