#!/usr/bin/env bash
# The main job on the bundled fixtures, on a local folder (no servers needed):
# stage-stats then stage-posts for 2024-05-06, outputs in $1 (default /tmp/igpipe-demo).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/igpipe/target}"
out="${1:-/tmp/igpipe-demo}"
cargo build --quiet --locked --bin igpipe
igpipe="$CARGO_TARGET_DIR/debug/igpipe"
for step in stage-stats stage-posts; do
  "$igpipe" "$step" --lake fixtures/lake --out "$out" --date 2024-05-06
done
echo "Outputs under $out/staging:" >&2
(cd "$out" && find staging -type f | sort) >&2
