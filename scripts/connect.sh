#!/usr/bin/env bash
# Kafka Connect with the Debezium JDBC sink, resolved from Maven Central like the broker
# (scripts/stack.sh): the peer the bench measures the worker against (npm run bench -- --only peer).
#   scripts/connect.sh runtime   resolve once, print the folder of Connect's jars (its classpath)
#   scripts/connect.sh plugins   resolve once, print the plugin.path folder (one plugin inside)
# Env: KAFKA_VERSION (the stack's broker version by default), BET_PROJECTOR_CACHE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${BET_PROJECTOR_CACHE:-$HOME/.cache/bet-projector}
kafka_version=${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")}
runtime="$cache/connect-$kafka_version/libs"
plugins="$cache/connect-$kafka_version/plugins"
sink="$plugins/debezium-jdbc-sink"

log() { echo "[connect] $*" >&2; }

resolve() { # pom folder, output folder, extra mvn arguments
  command -v mvn >/dev/null || { log "mvn is not installed: apt-get install maven (and a JDK 17)"; exit 1; }
  mkdir -p "$2"
  (cd "$here/connect/$1" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$2" "${@:3}" >&2)
}

fetch_runtime() {
  [ -f "$runtime/.complete" ] && return 0
  log "resolving Kafka Connect $kafka_version from Maven Central into $runtime"
  resolve runtime "$runtime" -Dkafka.version="$kafka_version"
  touch "$runtime/.complete"
}

# Jackson and slf4j jars Connect's classpath already has (by artifact name, any version) are left
# out of the plugin: Connect loads a plugin's classes child-first, and a second Jackson splits the
# JSON converter's types ("Jdk8Module not a subtype of Module").
fetch_plugins() {
  [ -f "$sink/.complete" ] && return 0
  fetch_runtime
  log "resolving the Debezium JDBC sink from Maven Central into $sink"
  rm -rf "$sink"
  resolve jdbc-sink "$sink"
  local jar name
  for jar in "$sink"/*.jar; do
    name=$(basename "$jar" | sed -E 's/-[0-9][^-]*(-[A-Za-z0-9.]+)?\.jar$//')
    case "$name" in jackson-* | slf4j-api) ;; *) continue ;; esac
    if compgen -G "$runtime/$name-[0-9]*.jar" >/dev/null; then rm "$jar"; fi
  done
  touch "$sink/.complete"
}

case "${1:-}" in
  runtime) fetch_runtime; echo "$runtime" ;;
  plugins) fetch_plugins; echo "$plugins" ;;
  *) echo "usage: $0 runtime|plugins" >&2; exit 2 ;;
esac
