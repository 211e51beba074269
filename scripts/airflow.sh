#!/usr/bin/env bash
# Installs Airflow 3 into its own virtualenv for the DAG tests and prints `export` lines
# for it. Source its output:  eval "$(scripts/airflow.sh install)"
#
# The set of packages is pinned in tests/airflow/requirements.lock (the official
# constraints file cannot be downloaded here) and installed with --no-deps, so every run
# gets exactly those versions. Reinstalled when the lock file changes. About 2 minutes
# the first time (130 wheels from PyPI).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lock="$here/../tests/airflow/requirements.lock"
cache="${IGPIPE_CACHE:-$HOME/.cache/igpipe}"
venv="$cache/airflow-venv"

log() { echo "airflow: $*" >&2; }

install() {
  local stamp want
  stamp="$venv/.igpipe-lock"
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/airflow" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Airflow from $(basename "$lock") into $venv (about 2 min)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$lock"
    echo "$want" >"$stamp"
  fi
  log "$("$venv/bin/airflow" version 2>/dev/null | tail -n 1) in $venv"
  echo "export IGPIPE_AIRFLOW_VENV=$venv"
}

case "${1:-}" in
  install) install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
