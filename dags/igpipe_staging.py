"""igpipe: daily staging of the Instagram Graph API lake.

Each task is one igpipe step for the run's logical date, through BashOperator:
exit 0 succeeds, exit 99 (``--skip-if-missing`` and no input for the date) marks the task
skipped, anything else fails it and Airflow retries. The last stdout line, igpipe's JSON
summary, is pushed to XCom.

Settings (Airflow Variables, with defaults):
  igpipe_bin   the igpipe binary          (igpipe, from PATH)
  igpipe_lake  the raw lake root          (s3://agency-lake/raw)
AWS credentials and AWS_ENDPOINT_URL_S3 come from the worker's environment
(``append_env=True`` keeps PATH and those variables).

The commands live in STEPS as plain templates so tests can render and run them
(tests/integration/dags.rs runs them against the fixtures).
"""

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

IGPIPE = "{{ var.value.get('igpipe_bin', 'igpipe') }}"
LAKE = "{{ var.value.get('igpipe_lake', 's3://agency-lake/raw') }}"

# task_id -> bash_command. A trailing space keeps Airflow from reading a command that
# ends in .sh as a template file. The run id carries the try number, so a retry's run-log
# entry (_runs/date=D/<step>-<run_id>.json) and rejects file sit beside the failed try's.
STEPS = {
    "stage_stats": "IGPIPE stage-stats --lake LAKE --date {{ ds }} --run-id '{{ run_id }}.try{{ ti.try_number }}' --skip-if-missing --log-format json ",
    "stage_posts": "IGPIPE stage-posts --lake LAKE --date {{ ds }} --run-id '{{ run_id }}.try{{ ti.try_number }}' --log-format json ",
}

with DAG(
    dag_id="igpipe_staging",
    description="Stage the raw lake's stats and posts into Parquet, incrementally.",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # staging steps share a manifest: one run at a time
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["igpipe"],
) as dag:
    for task_id, command in STEPS.items():
        BashOperator(
            task_id=task_id,
            bash_command=command.replace("IGPIPE", IGPIPE).replace("LAKE", LAKE),
            append_env=True,
            skip_on_exit_code=99,
        )
