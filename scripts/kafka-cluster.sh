#!/usr/bin/env bash
# A 3-broker Apache Kafka cluster on loopback, from the same Maven Central jars as the local stack
# (scripts/stack.sh): KRaft, each node a broker and a controller; replication factor 3,
# min.insync.replicas 2, the offsets topic replicated. For the failover suite (npm run
# test:cluster) and for trying failovers by hand; the single broker of stack.sh stays the default.
#   scripts/kafka-cluster.sh up|down|status|brokers|kill N|start N
# `brokers` prints the KAFKA_BROKERS list; `kill N` SIGKILLs node N (1..3), `start N` starts it again.
# Env: KAFKA_CLUSTER_PORT (29092: node N listens on PORT + 2(N-1), its controller on the port after),
#      KAFKA_CLUSTER_HEAP (256m), BET_PROJECTOR_CACHE (~/.cache/bet-projector), KAFKA_VERSION.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${BET_PROJECTOR_CACHE:-$HOME/.cache/bet-projector}
base=${KAFKA_CLUSTER_PORT:-29092}
heap=${KAFKA_CLUSTER_HEAP:-256m}
run="$cache/cluster-$base"
nodes=(1 2 3)

log() { echo "[cluster] $*" >&2; }
port_of() { echo $((base + 2 * ($1 - 1))); }
ctl_of() { echo $((base + 2 * ($1 - 1) + 1)); }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_of() { cat "$run/node-$1/kafka.pid" 2>/dev/null || true; }
running() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
brokers() { local list=(); for n in "${nodes[@]}"; do list+=("127.0.0.1:$(port_of "$n")"); done; (IFS=,; echo "${list[*]}"); }
voters() { local list=(); for n in "${nodes[@]}"; do list+=("$n@127.0.0.1:$(ctl_of "$n")"); done; (IFS=,; echo "${list[*]}"); }

write_config() {
  local n=$1 dir="$run/node-$1"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://127.0.0.1:$(port_of "$n"),CONTROLLER://127.0.0.1:$(ctl_of "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(port_of "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=6
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
unclean.leader.election.enable=false
log.segment.bytes=67108864
PROPS
  cat >"$dir/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
PROPS
}

start_node() {
  local n=$1 dir="$run/node-$1"
  if running "$n"; then log "node $n already running (pid $(pid_of "$n"))"; return 0; fi
  if port_open "$(port_of "$n")"; then log "port $(port_of "$n") is taken by another process; set KAFKA_CLUSTER_PORT"; exit 1; fi
  rm -f "$dir/kafka.log"
  nohup bash -c "exec java -Xms$heap -Xmx$heap -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j.configuration=file:$dir/log4j.properties -cp '$libs/*' kafka.Kafka $dir/server.properties" \
    >"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
}

wait_started() {
  local n=$1 dir="$run/node-$1"
  for _ in $(seq 1 180); do
    if port_open "$(port_of "$n")" && grep -q "Transition from STARTING to STARTED" "$dir/kafka.log" 2>/dev/null; then return 0; fi
    running "$n" || { log "node $n exited during start; see $dir/kafka.log and $dir/stdout.log"; tail -20 "$dir/stdout.log" >&2; exit 1; }
    sleep 0.5
  done
  log "node $n did not start within 90 s; see $dir/kafka.log"; exit 1
}

up() {
  command -v java >/dev/null || { log "java is not installed: apt-get install openjdk-17-jre-headless"; exit 1; }
  libs=$(bash "$here/stack.sh" classpath)
  mkdir -p "$run"
  for n in "${nodes[@]}"; do write_config "$n"; done
  local quiet=(-Dlog4j2.statusLoggerLevel=OFF -Dlog4j.configuration="file:$run/node-1/log4j.properties")
  [ -f "$run/cluster-id" ] || java "${quiet[@]}" -cp "$libs/*" kafka.tools.StorageTool random-uuid >"$run/cluster-id"
  for n in "${nodes[@]}"; do
    java "${quiet[@]}" -cp "$libs/*" kafka.tools.StorageTool format -t "$(cat "$run/cluster-id")" \
      -c "$run/node-$n/server.properties" --ignore-formatted >/dev/null
  done
  for n in "${nodes[@]}"; do start_node "$n"; done
  for n in "${nodes[@]}"; do wait_started "$n"; done
  log "3 brokers up: KAFKA_BROKERS=$(brokers) (RF 3, min ISR 2; data and logs in $run)"
}

down() {
  for n in "${nodes[@]}"; do
    if running "$n"; then
      local pid; pid=$(pid_of "$n")
      kill "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$run/node-$n/kafka.pid"
  done
  # The cluster is for tests: the next `up` starts from an empty log.
  rm -rf "$run"
  log "cluster stopped"
}

node_arg() {
  case "${1:-}" in 1|2|3) echo "$1" ;; *) log "a node number 1, 2 or 3 is needed, not \"${1:-}\""; exit 2 ;; esac
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  brokers) brokers ;;
  status) for n in "${nodes[@]}"; do running "$n" && log "node $n running (pid $(pid_of "$n"), port $(port_of "$n"))" || log "node $n not running"; done ;;
  kill) n=$(node_arg "${2:-}"); if running "$n"; then kill -9 "$(pid_of "$n")"; log "node $n killed"; else log "node $n not running"; fi ;;
  start) n=$(node_arg "${2:-}"); libs=$(bash "$here/stack.sh" classpath); start_node "$n"; wait_started "$n"; log "node $n up" ;;
  *) echo "usage: scripts/kafka-cluster.sh up|down|status|brokers|kill N|start N" >&2; exit 2 ;;
esac
