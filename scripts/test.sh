#!/usr/bin/env bash
# The project's test command: unit tests, and the integration suite on a local folder,
# moto's S3 server and s3s-fs, a throw-away PostgreSQL cluster (all started here on
# loopback, stopped on exit), the Redshift Data API test double (started by its tests) and
# Airflow 3 (installed into its own virtualenv from tests/airflow/requirements.lock) and
# Debian's chromium for the HTML report (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# One shared build cache outside the clone, so fresh clones do not rebuild Polars.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/igpipe/target}"
# `|| true`: under set -e a failing first stop would skip the second.
trap 'scripts/s3-servers.sh stop || true; scripts/postgres.sh stop' EXIT
# Assign first, then eval: `eval "$(cmd)"` would swallow a failed start under set -e.
s3_env=$(scripts/s3-servers.sh start)
eval "$s3_env"
pg_env=$(scripts/postgres.sh start)
eval "$pg_env"
airflow_env=$(scripts/airflow.sh install)
eval "$airflow_env"
chromium_env=$(scripts/chromium.sh install)
eval "$chromium_env"
# The Redshift Data API double is checked against boto3's real client first (boto3 comes
# with moto's venv): the Rust tests below trust its wire format.
if [ $# -eq 0 ]; then
  "${IGPIPE_CACHE:-$HOME/.cache/igpipe}/moto-venv/bin/python" tests/doubles/test_redshift_data_double.py >&2
fi
cargo test --locked --features service-tests "$@"
