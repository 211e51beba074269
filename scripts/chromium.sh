#!/usr/bin/env bash
# Makes sure a headless browser is here for the report's test and prints an `export` line
# naming it. Source its output:  eval "$(scripts/chromium.sh install)"
# Debian's `chromium` package, installed with apt-get (root) when missing; about a minute.
set -euo pipefail

log() { echo "chromium: $*" >&2; }

install() {
  local bin
  bin=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
  if [ -z "$bin" ]; then
    log "installing Debian's chromium with apt-get (about a minute)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
    bin=$(command -v chromium)
  fi
  log "$("$bin" --version 2>/dev/null || echo "$bin")"
  echo "export IGPIPE_CHROMIUM=$bin"
}

case "${1:-}" in
  install) install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
