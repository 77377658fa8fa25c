#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the tests (tests/test_optuna_workers.py: many
# Optuna workers on one study). `start` installs the server from the system packages where it is
# missing (root and apt-get), starts it on $JAXDL_PG_PORT (default 54329) with a database
# "jaxdl" and prints its URL; on failure it prints why on stderr and exits 1 (the test is then
# skipped). `stop` stops it. Its files live in $JAXDL_PG_DIR (default /tmp/jaxdl-ci-postgres).
set -euo pipefail
DIR="${JAXDL_PG_DIR:-/tmp/jaxdl-ci-postgres}"
PORT="${JAXDL_PG_PORT:-54329}"

find_bin() {  # the folder with pg_ctl, initdb and createdb
  local d
  for d in "$(dirname "$(readlink -f "$(command -v pg_ctl || echo /none/pg_ctl)")")" \
           /usr/lib/postgresql/*/bin; do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/createdb" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}
as_owner() {  # the server refuses to run as root: run it as the postgres user there
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
fail() { echo "PostgreSQL for the tests: $*" >&2; exit 1; }

if [ "${1:-start}" = stop ]; then
  if BIN="$(find_bin)" && [ -d "$DIR/data" ]; then
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  exit 0
fi

if ! BIN="$(find_bin)"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing PostgreSQL from the system packages" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
      >&2 || fail "apt-get install postgresql failed"
    BIN="$(find_bin)" || fail "no pg_ctl/initdb after installing postgresql"
  else
    fail "no server programs (pg_ctl, initdb) and no root apt-get to install them"
  fi
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home postgres || fail "cannot create the postgres user"
fi
bash "$0" stop  # a server left by an earlier run
rm -rf "$DIR"
mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
as_owner "$BIN/initdb" -D "$DIR/data" -U jaxdl --auth=trust >"$DIR/initdb.log" 2>&1 \
  || fail "initdb failed: $(tail -n 3 "$DIR/initdb.log")"
as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $PORT -k $DIR" start >/dev/null \
  || fail "the server did not start: $(tail -n 3 "$DIR/server.log")"
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U jaxdl jaxdl || fail "createdb failed"
echo "postgresql://jaxdl@127.0.0.1:$PORT/jaxdl"
