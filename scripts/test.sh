#!/usr/bin/env bash
# The project's test command: unit tests, and the integration suite on a local folder,
# moto's S3 server and s3s-fs (started here on loopback, stopped on exit).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# One shared build cache outside the clone, so fresh clones do not rebuild Polars.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/igpipe/target}"
trap 'scripts/s3-servers.sh stop' EXIT
eval "$(scripts/s3-servers.sh start)"
cargo test --locked --features s3-tests "$@"
