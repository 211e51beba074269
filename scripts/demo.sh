#!/usr/bin/env bash
# The main job on the bundled fixtures, on a local folder (no servers needed): `igpipe
# daily` runs stage-stats → stage-posts → aggregate-posts → color-palette → load-facts →
# quality-check for 2024-05-06 and `igpipe report` writes the HTML report, outputs under OUT
# (default /tmp/igpipe-demo); then a look at the fact table. fetch-media is left out: the fixtures' image store is already filled
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
rm -rf "$out/staging" "$out/marts" "$out/_runs"

# The daily chain in one command, as cron would run it (fetch-media left out: see above).
printf '\n== igpipe daily (each step as its own subcommand would run it)\n' >&2
summary=$("$bin/igpipe" --quiet daily --lake fixtures/lake --out "$out" --date "$date" \
  --steps stage-stats,stage-posts,aggregate-posts,color-palette,load-facts,quality-check \
  ${load[@]+"${load[@]}"} | tail -n 1) || true
python3 -c '
import json, sys
s = json.loads(sys.argv[1])
for t in s["steps"]:
    print("  %-16s %-8s %5d read %5d rows %3d rejected %6.2f s"
          % (t["step"], t["status"], t["files_read"], t["rows_written"], t["rejected"], t["seconds"]))
print("  daily: %s %s" % (s["status"], s.get("error") or ""))
sys.exit(0 if s["status"] == "ok" else 1)
' "$summary" >&2
"$bin/igpipe" --quiet report --lake fixtures/lake --out "$out" --date "$date" >/dev/null

printf '\n== The fact table (marts/history/date=%s), one row per creator:\n' "$date" >&2
"$bin/peek" "$out/marts/history/date=$date" \
  --columns id,username,as_of,dates,followers,impressions,doc_count,fol_avg,eng_avg,engagement_rate,colors
printf '\n== Files under %s:\n' "$out" >&2
(cd "$out" && find marts -type f | sort | sed 's/^/  /') >&2
# Staging has a partition per day or month: one line per table.
(cd "$out" && find staging -type f | sed -E 's#/[^/=]+=[^/]+/[^/]+$#/…#' | sort | uniq -c |
  awk '$2 ~ /…$/ {printf "  %s (%d partitions)\n", $2, $1; next} {print "  " $2}') >&2
printf '\nLook at any of them with: %s <file or partition folder>\n' "$bin/peek" >&2
printf 'Open the report in a browser: file://%s/marts/quality/date=%s/report.html\n' "$(cd "$out" && pwd)" "$date" >&2
