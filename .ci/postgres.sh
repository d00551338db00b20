#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store's PostgreSQL tests.
#
#   eval "$(.ci/postgres.sh start)"   # sets PLUGBOARD_TEST_POSTGRES and PLUGBOARD_TEST_POSTGRES_DIR
#   go test -race ./gateway/store
#   .ci/postgres.sh stop "$PLUGBOARD_TEST_POSTGRES_DIR"
#
# start creates a data directory under $TMPDIR, starts the server on
# 127.0.0.1 on a free port (its unix socket stays inside that directory),
# creates the database plugboard_test and prints the export lines on stdout
# (they are also written to <dir>/env). Everything else goes to stderr.
# The server is tuned for speed, not durability (fsync is off): test data only.
#
# PostgreSQL refuses to run as root: as root, the server runs as the system
# user plugboardci, which is created if missing.
set -euo pipefail

readonly RUN_AS=plugboardci
readonly DATABASE=plugboard_test
readonly SUPERUSER=plugboard

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# pg_bin finds initdb and pg_ctl: Debian keeps them out of PATH, under
# /usr/lib/postgresql/<major>/bin (the newest major wins).
pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  die "initdb not found: install PostgreSQL (Debian: apt-get install -y postgresql)"
}

as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$RUN_AS" -- "$@"; else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local bin dir port password tries
  bin=$(pg_bin)
  if [ "$(id -u)" -eq 0 ] && ! id -u "$RUN_AS" >/dev/null 2>&1; then
    log "creating system user $RUN_AS to run the server"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_AS"
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/plugboard-pg.XXXXXX")
  # From here on, a failure removes what was made.
  trap 'status=$?; if [ $status -ne 0 ]; then [ -f "$dir/server.log" ] && tail -n 20 "$dir/server.log" >&2; stop_dir "$dir" || true; fi' EXIT
  mkdir "$dir/socket"
  password=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  (umask 077; printf '%s\n' "$password" >"$dir/password")
  if [ "$(id -u)" -eq 0 ]; then chown -R "$RUN_AS" "$dir"; fi

  log "initdb in $dir/data ($bin)"
  as_server_user "$bin/initdb" --pgdata="$dir/data" --username="$SUPERUSER" --pwfile="$dir/password" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }

  # A port that looks free may be taken before the server binds it: retry.
  for tries in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    port_free "$port" || continue
    if as_server_user "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket \
          -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
      break
    fi
    log "start on port $port failed (attempt $tries)"
    port=""
  done
  [ -n "$port" ] || die "could not start the server; see $dir/server.log"

  as_server_user "$bin/createdb" --host="$dir/socket" --port="$port" --username="$SUPERUSER" "$DATABASE"
  local dsn="postgres://$SUPERUSER:$password@127.0.0.1:$port/$DATABASE?sslmode=disable"
  {
    printf "export PLUGBOARD_TEST_POSTGRES='%s'\n" "$dsn"
    printf "export PLUGBOARD_TEST_POSTGRES_DIR='%s'\n" "$dir"
  } >"$dir/env"
  chmod 600 "$dir/env"
  rm -f "$dir/password" # initdb has it; the DSN in env is the copy tests use
  log "PostgreSQL $("$bin/pg_ctl" --version | sed 's/^[^0-9]*\([0-9.]*\).*/\1/') on 127.0.0.1:$port, database $DATABASE (stop: $0 stop $dir)"
  cat "$dir/env"
  trap - EXIT
}

# stop_dir stops the server of dir (if running) and removes dir. It only
# touches directories that start made.
stop_dir() {
  local dir=$1 bin
  case "$(basename "$dir")" in
    plugboard-pg.*) ;;
    *) die "refusing to remove $dir: not a directory made by $0 start" ;;
  esac
  [ -d "$dir" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    bin=$(pg_bin)
    as_server_user "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait --timeout=30 stop >/dev/null ||
      log "pg_ctl stop failed; removing $dir anyway"
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop)
    dir=${2:-${PLUGBOARD_TEST_POSTGRES_DIR:-}}
    [ -n "$dir" ] || die "usage: $0 stop <dir printed by start> (or set PLUGBOARD_TEST_POSTGRES_DIR)"
    stop_dir "$dir"
    ;;
  *) die "usage: $0 start | stop [dir]" ;;
esac
