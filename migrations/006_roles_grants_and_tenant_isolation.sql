-- Least privilege and tenant isolation, enforced by the database rather than by convention.
--
-- Roles (cluster-wide, NOLOGIN groups; login roles join them, see README "Security"):
--   the migrator            the login role that runs `projector migrate` (and `projector rebuild`,
--                           which swaps tables): it owns the schema. Not created here.
--   bet_projector_writer    producers and workers: append to bet_events and read it -- no UPDATE,
--                           DELETE or TRUNCATE, so the log is append-only by grant -- and write
--                           bets_view, checkpoints and dead letters.
--   bet_projector_reader    services that read the view: SELECT on bets_view only, and only the
--                           rows of the tenant named by the session setting app.tenant_id.
--
-- Creating the group roles needs CREATEROLE; without it, create them first (README) and rerun.
DO $$
DECLARE
  missing text[] := ARRAY(
    SELECT r FROM unnest(ARRAY['bet_projector_writer', 'bet_projector_reader']) AS r
    WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r));
BEGIN
  IF cardinality(missing) = 0 THEN
    RETURN;
  END IF;
  IF NOT (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RAISE EXCEPTION 'roles % do not exist and % may not create roles: create them as NOLOGIN roles (README "Security") and run migrate again',
      array_to_string(missing, ', '), current_user;
  END IF;
  IF 'bet_projector_writer' = ANY (missing) THEN
    CREATE ROLE bet_projector_writer NOLOGIN;
  END IF;
  IF 'bet_projector_reader' = ANY (missing) THEN
    CREATE ROLE bet_projector_reader NOLOGIN;
  END IF;
END
$$;

-- Nothing is granted to PUBLIC: every privilege below is named.
REVOKE ALL ON bet_events, bets_view, projection_checkpoints, dead_letters FROM PUBLIC;
REVOKE ALL ON FUNCTION upsert_bet_view(bigint, text) FROM PUBLIC;

-- The log: append and read. No UPDATE, DELETE or TRUNCATE for anyone but its owner.
GRANT SELECT, INSERT ON bet_events TO bet_projector_writer;
GRANT SELECT ON bets_fold TO bet_projector_writer;
GRANT SELECT, INSERT, UPDATE ON projection_checkpoints TO bet_projector_writer;
GRANT SELECT, INSERT, UPDATE ON dead_letters TO bet_projector_writer;
GRANT EXECUTE ON FUNCTION upsert_bet_view(bigint, text) TO bet_projector_writer;

-- The view's grants and row-level security live in one function, because `projector rebuild`
-- swaps in a new bets_view table and must give it exactly the same protection before the swap.
CREATE FUNCTION secure_bets_view_table(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', target);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %s TO bet_projector_writer', target);
  EXECUTE format('GRANT SELECT ON %s TO bet_projector_reader', target);
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  -- The writer (worker, producer in immediate mode, repair) sees and writes every tenant.
  EXECUTE format('CREATE POLICY writer_all_tenants ON %s TO bet_projector_writer USING (true) WITH CHECK (true)', target);
  -- A reader sees the tenant of app.tenant_id; unset (or empty) it sees nothing.
  EXECUTE format($p$CREATE POLICY reader_own_tenant ON %s FOR SELECT TO bet_projector_reader
                    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)$p$, target);
END
$$;
REVOKE ALL ON FUNCTION secure_bets_view_table(regclass) FROM PUBLIC;

SELECT secure_bets_view_table('bets_view');
