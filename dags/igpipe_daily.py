"""igpipe daily: the lake's new day into the fact table.

stage_stats → stage_posts → aggregate_posts → load_facts → quality_check, and
fetch_media after stage_posts on a branch of its own (images feed the weekly palettes,
so a CDN outage must not hold up the fact table): one igpipe step per BashOperator task.
The run at 02:30 UTC on day X processes day X−1 (see DATE in igpipe_common.py), so
`airflow dags test igpipe_daily 2024-05-07` processes 2024-05-06.

Exit codes become task states: 0 success; 99 skipped (stage_stats --skip-if-missing when
the API client wrote no stats for the date: the rest is skipped too); anything else
fails the task, which is retried (2 more tries, 5 then 10 minutes apart); 3 (a quality
check failed) and 4 (a burst of rejects) fail it after the outputs were written. Each
task's last stdout line, igpipe's JSON summary, is its XCom (return_value).

Settings come from Airflow Variables and the worker's environment: see igpipe_common.py.
max_active_runs=1: the staging steps share a manifest, so two days never run at once
(a backfill is `airflow dags backfill` or `igpipe backfill`, one date after another).

The commands live in STEPS as plain templates so tests render and run them
(tests/integration/dags.rs; tests/integration/airflow.rs runs this DAG in Airflow).
"""

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG
from airflow.timetables.trigger import CronTriggerTimetable

from igpipe_common import DEFAULT_ARGS, render

# task_id -> bash_command. A trailing space keeps Airflow from reading a command that
# ends in .sh as a template file.
STEPS = {
    "stage_stats": "<igpipe> stage-stats --lake <lake> <out> --date <date> --run-id <run-id> --skip-if-missing ",
    "stage_posts": "<igpipe> stage-posts --lake <lake> <out> --date <date> --run-id <run-id> ",
    "fetch_media": "<igpipe> fetch-media --lake <lake> <out> --date <date> --run-id <run-id> ",
    "aggregate_posts": "<igpipe> aggregate-posts --lake <lake> <out> --date <date> --run-id <run-id> ",
    "load_facts": "<igpipe> load-facts --lake <lake> <out> --date <date> --run-id <run-id> ",
    "quality_check": "<igpipe> quality-check --lake <lake> <out> --date <date> --run-id <run-id> ",
}

# Generous bounds: a 50,000-creator day takes about a minute for the whole chain
# (bench/daily_chain.py); a step still running after these is stuck, not slow.
TIMEOUTS = {"fetch_media": timedelta(hours=2)}

with DAG(
    dag_id="igpipe_daily",
    description="Stage the day's lake files, fetch new images, build and load the fact table, check it.",
    schedule=CronTriggerTimetable("30 2 * * *", timezone="UTC"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args=DEFAULT_ARGS,
    tags=["igpipe"],
) as dag:
    tasks = {
        task_id: BashOperator(
            task_id=task_id,
            bash_command=render(command),
            append_env=True,
            skip_on_exit_code=99,
            execution_timeout=TIMEOUTS.get(task_id, timedelta(minutes=45)),
        )
        for task_id, command in STEPS.items()
    }
    tasks["stage_stats"] >> tasks["stage_posts"] >> [tasks["fetch_media"], tasks["aggregate_posts"]]
    tasks["aggregate_posts"] >> tasks["load_facts"] >> tasks["quality_check"]
