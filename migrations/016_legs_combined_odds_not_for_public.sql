-- legs_combined_odds() (migration 015) was created with PostgreSQL's default: EXECUTE for PUBLIC.
-- Nothing is granted to PUBLIC here (docs/security.md): the function serves the rebuild's fill,
-- which runs as the migrator, the schema's owner; the writers may run it too.
REVOKE ALL ON FUNCTION legs_combined_odds(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION legs_combined_odds(jsonb) TO bet_projector_writer;
