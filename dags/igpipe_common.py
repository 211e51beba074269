"""What the igpipe DAGs share: where the binary and the lake are, the run id, retries and
the failure callback. Not a DAG itself.

Settings, all read when a task runs, never when the scheduler parses the file:
  Airflow Variables   igpipe_bin   the igpipe binary (default: igpipe, from PATH)
                      igpipe_lake  the raw lake root (default: s3://agency-lake/raw)
                      igpipe_out   the output root, if not the lake root (default: unset)
                      igpipe_alert_webhook  a URL that failed tasks are POSTed to (optional)
  The worker's environment (BashOperator append_env=True passes it on): AWS_* for S3 and
  the Redshift Data API, IGPIPE_LOAD_TO for load-facts and quality-check (a postgres://
  or redshift-data:// URL; kept out of DAG files, rendered commands and XCom).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import timedelta

# The date a run processes: the day before the run's logical date. Airflow 3 gives a
# scheduled run the time it starts as its logical date (CronTriggerTimetable), and at
# 02:30 on day X the API client has finished day X−1, not X.
DATE = "{{ macros.ds_add(ds, -1) }}"
IGPIPE = "{{ var.value.get('igpipe_bin', 'igpipe') }}"
LAKE = "{{ var.value.get('igpipe_lake', 's3://agency-lake/raw') }}"
# --out only when the Variable is set; igpipe's default is the lake root.
OUT = "{% if var.value.get('igpipe_out', '') %}--out {{ var.value.get('igpipe_out') }}{% endif %}"
# Each try has its own run-log entry and rejects file (_runs/date=D/<step>-<run_id>.json):
# the DAG's id (both DAGs run load_facts for the same date), the run, the shard of a
# mapped task and the try.
RUN_ID = "'{{ dag.dag_id }}.{{ run_id }}{% if ti.map_index >= 0 %}.shard{{ ti.map_index }}{% endif %}.try{{ ti.try_number }}'"

log = logging.getLogger("igpipe")


def render(template: str) -> str:
    """A STEPS template with its placeholders <igpipe>, <lake>, <out>, <date> and <run-id>
    filled in with the Jinja above (tests render them the same way)."""
    return (
        template.replace("<igpipe>", IGPIPE)
        .replace("<date>", DATE)
        .replace("<lake>", LAKE)
        .replace("<out>", OUT)
        .replace("<run-id>", RUN_ID)
    )


def on_failure(context) -> None:
    """Says which step failed for which date and where igpipe's summary of the try is (a
    failed BashOperator pushes no XCom), in the task log and, if the Variable
    igpipe_alert_webhook is set, to that URL (Slack and most chat tools accept
    {"text": …})."""
    ti = context["ti"]
    text = (
        f"igpipe: {ti.dag_id}.{ti.task_id} failed (run {context.get('run_id')}, try "
        f"{ti.try_number}, logical date {context.get('ds')}): {context.get('exception')}. "
        "igpipe's summary of the try is in the task log's last line and in the run log "
        "(_runs/date=<date>/<step>-<run id>.json under the output root)."
    )
    log.error(text)
    from airflow.sdk import Variable

    url = Variable.get("igpipe_alert_webhook", default=None)
    if url:
        request = urllib.request.Request(
            url, data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except OSError as error:
            log.error("igpipe: the alert webhook failed: %s", error)


DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": on_failure,
}
