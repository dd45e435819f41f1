#!/usr/bin/env bash
# npm run test:cluster [-- jest options]: the failover scenarios on a 3-broker Kafka cluster
# (scripts/kafka-cluster.sh, started here and stopped after) with PostgreSQL from the local stack.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/stack.sh postgres
DATABASE_URL=$(bash scripts/stack.sh database-url)
bash scripts/kafka-cluster.sh up
trap 'bash scripts/kafka-cluster.sh down || true' EXIT
KAFKA_BROKERS=$(bash scripts/kafka-cluster.sh brokers)
npm run --silent build
export DATABASE_URL KAFKA_BROKERS
node --experimental-vm-modules node_modules/jest/bin/jest.js --runInBand "$@" --selectProjects cluster
