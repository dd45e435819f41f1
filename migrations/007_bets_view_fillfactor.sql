-- Room on each page for the next versions of its rows. A live bet is updated a few times (accepted,
-- settled, cashed out); with free space on its page the update is HOT: the new row version stays on
-- the page and neither index is touched. Measured with the worker's flusher on 100k events from an
-- empty table: 100 % of updates HOT (94-95 % at the default fillfactor 100), 309 instead of 318
-- bytes of WAL per event; throughput within the run-to-run noise there. It matters more on a table
-- whose pages are full, where an update that cannot stay on its page adds an entry to both indexes.
-- Settled bets are never updated again, so the rebuild fills its shadow packed and copies this
-- setting to it before the swap (projections/bets/rebuild.ts): an active row moves to a roomy page
-- on its first update. On Citus, ALTER TABLE … SET propagates to the shards.
ALTER TABLE bets_view SET (fillfactor = 70);
