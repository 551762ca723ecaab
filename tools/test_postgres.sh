#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the test suite (state store and SQL sources).
#   tools/test_postgres.sh start   installs the server with apt-get if absent (as root), starts a fresh
#                                  cluster, and prints its SQLAlchemy URL; prints nothing when no server
#                                  can be had, and the PostgreSQL tests then skip and say why
#   tools/test_postgres.sh stop    stops it
set -euo pipefail
PORT="${BRAZE_TEST_PG_PORT:-55433}"
DIR="${BRAZE_TEST_PG_DIR:-/tmp/airflow-provider-braze-pg}"

find_bin() {
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
}

as_owner() {
  # PostgreSQL refuses to run as root: use its own account when we are root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bin
  bin="$(find_bin)"
  if [ -z "$bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing PostgreSQL with apt-get for the test suite..." >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >/dev/null 2>&1 || true
    bin="$(find_bin)"
  fi
  if [ -z "$bin" ]; then
    echo "no PostgreSQL server could be installed; PostgreSQL tests will be skipped" >&2
    return 0
  fi
  stop_quietly "$bin"
  rm -rf "$DIR" && mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR"
  as_owner "$bin/initdb" -D "$DIR/data" -A trust -U postgres >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; return 0; }
  if as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
    echo "postgresql://postgres@127.0.0.1:$PORT/postgres"
  else
    echo "PostgreSQL did not start; PostgreSQL tests will be skipped:" >&2
    tail -5 "$DIR/server.log" >&2 || true
  fi
}

stop_quietly() {
  [ -d "$DIR/data" ] && as_owner "$1/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) bin="$(find_bin)"; [ -n "$bin" ] && stop_quietly "$bin"; rm -rf "$DIR" ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
