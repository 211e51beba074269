#!/usr/bin/env bash
# Starts the two S3-protocol servers the integration tests use, on loopback, and prints
# `export` lines for their settings. Source its output:  eval "$(scripts/s3-servers.sh start)"
#
#   moto's server  lists ETags like S3 and MinIO (installed from PyPI into a venv)
#   s3s-fs         verifies SigV4 signatures, lists no ETags (installed with cargo)
#
# Both are installed on first use under $IGPIPE_CACHE (default ~/.cache/igpipe).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${IGPIPE_CACHE:-$HOME/.cache/igpipe}"
state="$cache/s3-servers"
mkdir -p "$cache" "$state"

log() { echo "s3-servers: $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_http() { # url, name
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    sleep 0.2
  done
  log "$2 did not start; its log:"; cat "$state/$2.log" >&2; exit 1
}

install() {
  local venv="$cache/moto-venv"
  if ! "$venv/bin/moto_server" --help >/dev/null 2>&1; then
    log "installing moto's server into $venv (about 40 s)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements-moto.txt"
  fi
  if ! command -v s3s-fs >/dev/null 2>&1; then
    log "installing s3s-fs 0.14.1 with cargo (about 4 min; 0.15+ needs a newer rustc)"
    cargo install --quiet --locked s3s-fs --version 0.14.1 --features binary
  fi
}

start() {
  install
  stop >/dev/null 2>&1 || true
  local moto_port s3s_port
  moto_port=$(free_port)
  "$cache/moto-venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 &
  echo $! >"$state/moto.pid"
  s3s_port=$(free_port)
  rm -rf "$state/s3s-data" && mkdir -p "$state/s3s-data/igpipe-test"
  s3s-fs --host 127.0.0.1 --port "$s3s_port" --access-key igpipe-test --secret-key igpipe-test-secret \
    "$state/s3s-data" >"$state/s3s-fs.log" 2>&1 &
  echo $! >"$state/s3s-fs.pid"
  wait_http "http://127.0.0.1:$moto_port/" moto
  wait_http "http://127.0.0.1:$s3s_port/" s3s-fs
  # moto keeps buckets in memory: create the test bucket (moto does not check signatures).
  curl -sf -X PUT "http://127.0.0.1:$moto_port/igpipe-test" >/dev/null
  log "moto on 127.0.0.1:$moto_port, s3s-fs on 127.0.0.1:$s3s_port"
  cat <<VARS
export IGPIPE_TEST_MOTO_ENDPOINT=http://127.0.0.1:$moto_port
export IGPIPE_TEST_MOTO_BUCKET=igpipe-test
export IGPIPE_TEST_MOTO_ACCESS_KEY=testing
export IGPIPE_TEST_MOTO_SECRET_KEY=testing
export IGPIPE_TEST_S3S_ENDPOINT=http://127.0.0.1:$s3s_port
export IGPIPE_TEST_S3S_BUCKET=igpipe-test
export IGPIPE_TEST_S3S_ACCESS_KEY=igpipe-test
export IGPIPE_TEST_S3S_SECRET_KEY=igpipe-test-secret
VARS
}

stop() {
  for name in moto s3s-fs; do
    if [ -f "$state/$name.pid" ]; then
      kill "$(cat "$state/$name.pid")" 2>/dev/null || true
      rm -f "$state/$name.pid"
    fi
  done
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
