#!/usr/bin/env bash
# scripts/demo.sh into a local PostgreSQL: starts a throw-away cluster on a loopback port
# (scripts/postgres.sh; installs Debian's postgresql when missing), runs the chain with
# --load-to, shows the loaded `history` table with psql, and stops the cluster.
#
#   scripts/demo-postgres.sh [OUT]
# To load into a PostgreSQL of your own instead:  scripts/demo.sh OUT --load-to postgres://…
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
trap 'scripts/postgres.sh stop' EXIT
vars=$(scripts/postgres.sh start)
eval "$vars"
url="$IGPIPE_TEST_PG_URL"
# Through the variable, not --load-to: a command line (and its password) shows in `ps`.
# load-facts and quality-check read it; the staging steps ignore it.
IGPIPE_LOAD_TO="$url" scripts/demo.sh "${1:-/tmp/igpipe-demo}"
printf '\n== history in PostgreSQL (%s):\n' "${url%%@*}@…" | sed 's/:[^:@]*@/:***@/' >&2
psql "$url" -X -P pager=off -c "
  SELECT id, username, as_of, cardinality(dates) AS days,
         followers[cardinality(followers)] AS followers_now,
         doc_count, round(eng_avg::numeric, 1) AS eng_avg,
         round(engagement_rate::numeric, 4) AS engagement_rate
  FROM history ORDER BY id"
