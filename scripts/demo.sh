#!/usr/bin/env bash
# The main job on the bundled fixtures, on a local folder (no servers needed): the daily
# chain stage-stats → stage-posts → aggregate-posts → color-palette → load-facts →
# quality-check for 2024-05-06, outputs under OUT (default /tmp/igpipe-demo), then a look
# at the fact table. fetch-media is left out: the fixtures' image store is already filled
# and their CDN URLs lead nowhere from here (tests/integration/media.rs plays the CDN).
#
#   scripts/demo.sh [OUT] [--load-to postgres://…]     (scripts/demo-postgres.sh does the
#                                                      latter with a throw-away PostgreSQL)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/igpipe/target}"
out=/tmp/igpipe-demo
load=()
while [ $# -gt 0 ]; do
  case "$1" in
    --load-to) load=(--load-to "$2"); shift 2 ;;
    *) out="$1"; shift ;;
  esac
done
date=2024-05-06

echo "Building igpipe (the first build compiles Polars: several minutes)…" >&2
cargo build --quiet --locked --bin igpipe --bin peek
bin="$CARGO_TARGET_DIR/debug"
rm -rf "$out/staging" "$out/marts"

step() { # name, args…: runs one step, shows its summary line
  local name=$1; shift
  printf '\n== igpipe %s\n' "$name" >&2
  "$bin/igpipe" --quiet "$name" --lake fixtures/lake --out "$out" --date "$date" "$@" | tail -n 1 >&2
}
step stage-stats
step stage-posts
step aggregate-posts
step color-palette
step load-facts ${load[@]+"${load[@]}"}
step quality-check ${load[@]+"${load[@]}"}

printf '\n== The fact table (marts/history/date=%s), one row per creator:\n' "$date" >&2
"$bin/peek" "$out/marts/history/date=$date" \
  --columns id,username,as_of,dates,followers,impressions,doc_count,fol_avg,eng_avg,engagement_rate,colors
printf '\n== Files under %s:\n' "$out" >&2
(cd "$out" && find marts -type f | sort | sed 's/^/  /') >&2
# Staging has a partition per day or month: one line per table.
(cd "$out" && find staging -type f | sed -E 's#/[^/=]+=[^/]+/[^/]+$#/…#' | sort | uniq -c |
  awk '$2 ~ /…$/ {printf "  %s (%d partitions)\n", $2, $1; next} {print "  " $2}') >&2
printf '\nLook at any of them with: %s <file or partition folder>\n' "$bin/peek" >&2
