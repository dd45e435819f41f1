#!/usr/bin/env bash
# npm run test:citus [-- jest options]: the integration tests, the fault suite and the Citus fault
# scenarios against a Citus cluster — CITUS_URL (the coordinator; its `postgres` database lists the
# workers), or the local cluster of scripts/citus.sh, started here. Kafka: KAFKA_BROKERS, or the
# local stack, started here. Exits 3 with one line when no Citus is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CITUS_URL:-}" ]; then
  bash scripts/citus.sh up
  CITUS_URL=$(bash scripts/citus.sh url)
fi
if [ -z "${KAFKA_BROKERS:-}" ]; then
  bash scripts/stack.sh up
  KAFKA_BROKERS=127.0.0.1:${KAFKA_PORT:-9092}
fi
npm run --silent build
export DATABASE_URL=$CITUS_URL KAFKA_BROKERS TEST_EXPECT_PLATFORM=citus
exec node --experimental-vm-modules node_modules/jest/bin/jest.js --runInBand "$@" --selectProjects citus
