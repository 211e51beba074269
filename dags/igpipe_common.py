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

IGPIPE = "{{ var.value.get('igpipe_bin', 'igpipe') }}"
LAKE = "{{ var.value.get('igpipe_lake', 's3://agency-lake/raw') }}"
# --out only when the Variable is set; igpipe's default is the lake root.
OUT = "{% if var.value.get('igpipe_out', '') %}--out {{ var.value.get('igpipe_out') }}{% endif %}"
# Each try has its own run-log entry and rejects file (_runs/date=D/<step>-<run_id>.json);
# mapped tasks add their map index so shards never share one.
RUN_ID = "'{{ run_id }}{% if ti.map_index >= 0 %}.shard{{ ti.map_index }}{% endif %}.try{{ ti.try_number }}'"

log = logging.getLogger("igpipe")


def render(template: str) -> str:
    """A STEPS template with its placeholders <igpipe>, <lake>, <out> and <run-id> filled
    in with the Jinja above (tests render them the same way)."""
    return (
        template.replace("<igpipe>", IGPIPE)
        .replace("<lake>", LAKE)
        .replace("<out>", OUT)
        .replace("<run-id>", RUN_ID)
    )


def on_failure(context) -> None:
    """Says which step failed for which date, with igpipe's summary when there is one, in
    the task log and, if the Variable igpipe_alert_webhook is set, to that URL (Slack and
    most chat tools accept {"text": …})."""
    ti = context["ti"]
    summary = None
    try:
        summary = ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index)
    except Exception:  # noqa: BLE001 - the alert must go out even if XCom is unreadable
        pass
    text = (
        f"igpipe: {ti.dag_id}.{ti.task_id} failed for {context.get('ds')} "
        f"(try {ti.try_number}, run {context.get('run_id')}): {summary or context.get('exception')}"
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
