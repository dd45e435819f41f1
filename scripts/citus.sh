#!/usr/bin/env bash
# A local Citus cluster for development and tests: a coordinator and two workers on loopback, data
# in the stack's cache folder, run as the `postgres` OS user. Uses an installed Citus extension; it
# does not install one. Idempotent like stack.sh: `up` on a running cluster and `down` on a stopped
# one are no-ops.
#   scripts/citus.sh up|down|status|url [DATABASE]|createdb DATABASE|dropdb DATABASE
#   scripts/citus.sh node-stop coordinator|worker1|worker2 [fast|immediate]|node-start NAME
# `url` prints the coordinator's URL; `createdb` creates a database on every node with the citus
# extension and the workers registered (`projector demo` and `bench` do the same themselves);
# `dropdb` drops it everywhere; node-stop/node-start stop and start one node (the fault scenarios;
# `immediate` is a crash: the node recovers from its WAL at start). Exit 3 (with one line) when the
# citus extension is not installed.
# Env: CITUS_PORT (9700; the workers take the next two ports), BET_PROJECTOR_CACHE
#      (~/.cache/bet-projector), PG_BINDIR (pg_config --bindir, else /usr/lib/postgresql/15/bin),
#      CITUS_SHARD_COUNT (32, Citus's default), CITUS_OS_USER (postgres, when run as root)
set -euo pipefail

cache=${BET_PROJECTOR_CACHE:-$HOME/.cache/bet-projector}
port=${CITUS_PORT:-9700}
ports=("$port" "$((port + 1))" "$((port + 2))")
names=(coordinator worker1 worker2)
root="$cache/citus-$port"
shard_count=${CITUS_SHARD_COUNT:-32}
os_user=${CITUS_OS_USER:-postgres}

log() { echo "[citus] $*" >&2; }

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
  if command -v pg_config >/dev/null; then bindir=$(pg_config --bindir); fi
  [ -x "$bindir/initdb" ] || bindir=/usr/lib/postgresql/15/bin
fi
pg_version=$("$bindir/postgres" --version 2>/dev/null | sed -E 's/.* ([0-9]+)\..*/\1/') || pg_version=""
libdir=$("$bindir/pg_config" --pkglibdir 2>/dev/null || pg_config --pkglibdir 2>/dev/null || echo "/usr/lib/postgresql/${pg_version}/lib")
sharedir=$("$bindir/pg_config" --sharedir 2>/dev/null || pg_config --sharedir 2>/dev/null || echo "/usr/share/postgresql/${pg_version}")

citus_installed() { [ -f "$libdir/citus.so" ] && [ -f "$sharedir/extension/citus.control" ]; }

require_citus() {
  [ -x "$bindir/initdb" ] || { log "no PostgreSQL server binaries in $bindir: set PG_BINDIR"; exit 3; }
  if ! citus_installed; then
    log "the citus extension is not installed for PostgreSQL ${pg_version:-?} (no citus.so in $libdir): install Citus's packages for it, or run the cluster of docker-compose.yml"
    exit 3
  fi
}

# As root, PostgreSQL runs as $os_user; otherwise as the current user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$os_user" -- "$@"; else "$@"; fi
}

psql_at() { # port database sql...
  local p=$1 db=$2; shift 2
  PGOPTIONS="-c client_min_messages=warning" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$p" -U postgres -d "$db" -At "$@"
}

running() { as_pg "$bindir/pg_ctl" -D "$root/$1" status >/dev/null 2>&1; }

prepare_root() {
  mkdir -p "$root"
  if [ "$(id -u)" = 0 ]; then
    chown "$os_user" "$root"
    # The postgres user must be able to reach its data folders: grant traversal (not reading) of
    # the folders above them.
    local dir=$root
    while dir=$(dirname "$dir") && [ "$dir" != / ]; do
      runuser -u "$os_user" -- test -x "$dir" 2>/dev/null || chmod o+x "$dir"
    done
  fi
}

init_node() { # index
  local name=${names[$1]} p=${ports[$1]} dir="$root/${names[$1]}"
  [ -f "$dir/PG_VERSION" ] && return 0
  as_pg "$bindir/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$root/$name-initdb.log" 2>&1 ||
    { log "initdb of the $name failed; see $root/$name-initdb.log"; exit 1; }
  cat >>"$dir/postgresql.conf" <<CONF
# scripts/citus.sh
port = $p
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 300
max_prepared_transactions = 300
shared_buffers = 128MB
max_wal_size = 2GB
citus.shard_count = $shard_count

wal_level = logical
log_min_messages = warning
CONF
}

start_node() { # index
  local name=${names[$1]} p=${ports[$1]} dir="$root/${names[$1]}"
  if running "$name"; then return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then log "port $p is taken by another process; set CITUS_PORT"; exit 1; fi
  as_pg "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { log "the $name did not start; see $dir/server.log"; tail -5 "$dir/server.log" >&2; exit 1; }
}

# The citus extension on every node and the workers registered with the coordinator, in DATABASE.
setup_database() { # database
  local db=$1
  for i in 0 1 2; do psql_at "${ports[$i]}" "$db" -c 'CREATE EXTENSION IF NOT EXISTS citus' >/dev/null; done
  psql_at "$port" "$db" -c "SELECT citus_set_coordinator_host('127.0.0.1', $port)" >/dev/null
  for i in 1 2; do
    if [ "$(psql_at "$port" "$db" -c "SELECT count(*) FROM pg_dist_node WHERE nodeport = ${ports[$i]}")" = 0 ]; then
      psql_at "$port" "$db" -c "SELECT citus_add_node('127.0.0.1', ${ports[$i]})" >/dev/null
    fi
  done
}

check_name() { [[ "$1" =~ ^[a-z_][a-z0-9_]*$ ]] || { log "database name \"$1\" must match [a-z_][a-z0-9_]*"; exit 2; }; }

createdb_all() { # database
  check_name "$1"
  for i in 0 1 2; do
    if [ "$(psql_at "${ports[$i]}" postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$1'")" = 0 ]; then
      psql_at "${ports[$i]}" postgres -c "CREATE DATABASE $1" >/dev/null
    fi
  done
  setup_database "$1"
}

dropdb_all() { # database
  check_name "$1"
  for i in 0 1 2; do psql_at "${ports[$i]}" postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; done
}

up() {
  require_citus
  prepare_root
  for i in 0 1 2; do init_node "$i"; done
  for i in 0 1 2; do start_node "$i"; done
  setup_database postgres
  log "Citus $(psql_at "$port" postgres -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'") up: coordinator 127.0.0.1:$port, workers ${ports[1]} and ${ports[2]} (data and logs in $root)"
}

down() {
  for name in "${names[@]}"; do
    if [ -f "$root/$name/PG_VERSION" ] && running "$name"; then
      as_pg "$bindir/pg_ctl" -D "$root/$name" -m fast -w stop >/dev/null
      log "$name stopped"
    fi
  done
  log "Citus cluster on $port is down"
}

status() {
  require_citus
  local up=0
  for i in 0 1 2; do
    if [ -f "$root/${names[$i]}/PG_VERSION" ] && running "${names[$i]}"; then
      log "${names[$i]} running on 127.0.0.1:${ports[$i]}"; up=$((up + 1))
    else
      log "${names[$i]} not running (127.0.0.1:${ports[$i]})"
    fi
  done
  [ "$up" = 3 ] || exit 1
  psql_at "$port" postgres -c "SELECT nodename || ':' || nodeport || ' ' || noderole || CASE WHEN isactive THEN ' active' ELSE ' inactive' END FROM pg_dist_node ORDER BY nodeport" >&2
}

node_index() {
  for i in 0 1 2; do [ "${names[$i]}" = "$1" ] && { echo "$i"; return 0; }; done
  log "no node \"$1\": one of ${names[*]}"; exit 2
}

case "${1:-}" in
  up) up ;;
  node-stop)
    i=$(node_index "${2:-}")
    mode=${3:-fast}
    [[ "$mode" =~ ^(fast|immediate)$ ]] || { log "stop mode \"$mode\" is not fast or immediate"; exit 2; }
    if running "${names[$i]}"; then as_pg "$bindir/pg_ctl" -D "$root/${names[$i]}" -m "$mode" -w stop >/dev/null; fi
    log "${names[$i]} stopped ($mode)" ;;
  node-start) i=$(node_index "${2:-}"); require_citus; start_node "$i"; log "${names[$i]} running on 127.0.0.1:${ports[$i]}" ;;
  down) down ;;
  status) status ;;
  url) echo "postgres://postgres@127.0.0.1:$port/${2:-postgres}" ;;
  createdb) [ -n "${2:-}" ] || { log "usage: $0 createdb DATABASE"; exit 2; }; require_citus; createdb_all "$2" ;;
  dropdb) [ -n "${2:-}" ] || { log "usage: $0 dropdb DATABASE"; exit 2; }; dropdb_all "$2" ;;
  *) echo "usage: $0 up|down|status|url [DATABASE]|createdb DATABASE|dropdb DATABASE|node-stop NAME [fast|immediate]|node-start NAME" >&2; exit 2 ;;
esac
