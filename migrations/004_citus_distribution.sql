-- On Citus, distribute the event store and the view by tenant in one colocation group (so the
-- rebuild's INSERT ... SELECT and the repair joins run on the shards), and replicate the small
-- bookkeeping tables to every node. On plain PostgreSQL this migration does nothing.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('bet_events', 'tenant_id');
    PERFORM create_distributed_table('bets_view', 'tenant_id', colocate_with => 'bet_events');
    PERFORM create_reference_table('projection_checkpoints');
    PERFORM create_reference_table('dead_letters');
  END IF;
END
$$;
