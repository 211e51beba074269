#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the tests and the demo, on a free loopback
# port, and prints `export` lines for its URLs. Source its output:
#   eval "$(scripts/postgres.sh start)"
# `start` replaces any cluster this script started before; `stop` stops it and deletes it.
# PostgreSQL itself comes from Debian's package (installed on first use, needs root).
set -euo pipefail
cache="${IGPIPE_CACHE:-$HOME/.cache/igpipe}"
# The cluster lives under /tmp, not under $cache: the server runs as the `postgres` user
# when we are root, and it could not reach /root/.cache (/root is mode 700). One cluster
# per cache and user, like the S3 servers, so clones with their own cache do not collide.
dir="/tmp/igpipe-postgres-$(id -u)-$(printf %s "$cache" | cksum | cut -d' ' -f1)"

log() { echo "postgres: $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# initdb, pg_ctl and postgres refuse to run as root: run them as `postgres` then.
# cd to / so they do not trip over a working directory that user cannot read.
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

install() {
  if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    log "installing PostgreSQL from Debian's packages (about a minute)"
    # All output to stderr: stdout carries only the export lines.
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2
  fi
}

start() {
  install
  stop
  local bin port pw
  bin=$(bindir)
  port=$(free_port)
  pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n') # hex: safe in a URL and in eval
  mkdir -m 700 "$dir" # no -p: fails rather than reuse a directory someone else made
  # The password file is a real file the postgres user can read, deleted after initdb.
  (umask 077 && echo "$pw" >"$dir/pwfile")
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
  # -N skips initdb's fsync (throw-away data); the C locale keeps the cluster independent
  # of which locales the machine has.
  if ! as_pg "$bin/initdb" -D "$dir/data" -U igpipe -A scram-sha-256 --pwfile="$dir/pwfile" \
      -E UTF8 --locale=C -N >"$dir/initdb.log" 2>&1; then
    log "initdb failed:"; cat "$dir/initdb.log" >&2; exit 1
  fi
  rm -f "$dir/pwfile"
  # The server's output goes to the log (-l), so it does not hold the caller's stdout open:
  # `eval "$(... start)"` waits for stdout to close. Durability is off: throw-away data.
  if ! as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -s start -o \
      "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2; then
    log "the server did not start; its log:"; cat "$dir/postgres.log" >&2; exit 1
  fi
  PGPASSWORD="$pw" "$bin/createdb" -h 127.0.0.1 -p "$port" -U igpipe igpipe_test >&2
  log "PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir/data"
  cat <<VARS
export IGPIPE_TEST_PG_URL=postgres://igpipe:$pw@127.0.0.1:$port/igpipe_test
export IGPIPE_TEST_PG_ADMIN_URL=postgres://igpipe:$pw@127.0.0.1:$port/postgres
VARS
}

stop() {
  [ -d "$dir" ] || return 0
  local bin
  bin=$(bindir)
  if [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -s stop >&2
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
