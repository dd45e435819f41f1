#!/usr/bin/env bash
# Runs a command with another Node.js major first on PATH: the `node` package of the npm registry
# (official binaries, no other download), installed once into the stack's cache folder.
#   scripts/with-node.sh 24 npm test
# The image runs Node 24 (the active LTS); these machines have Node 20, which reached its end of
# life in April 2026: CI runs the suite on both.
set -euo pipefail
major=${1:?usage: scripts/with-node.sh MAJOR command...}
shift
cache=${BET_PROJECTOR_CACHE:-$HOME/.cache/bet-projector}
prefix="$cache/node-$major"
if ! "$prefix/node_modules/.bin/node" --version >/dev/null 2>&1; then
  echo "[node] installing Node.js $major from the npm registry into $prefix" >&2
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --no-save "node@$major" >"$prefix/install.log" 2>&1 || { cat "$prefix/install.log" >&2; exit 1; }
fi
echo "[node] $("$prefix/node_modules/.bin/node" --version) for: $*" >&2
PATH="$prefix/node_modules/.bin:$PATH" exec "$@"
