"""igpipe weekly: the creators' colour palettes, fanned out over workers.

shard_list → color_palette[0..N-1] → load_facts → quality_check, Sundays at 06:00 UTC
for the day before (the Saturday the daily DAG finished at 02:30; DATE in
igpipe_common.py), so `airflow dags test igpipe_weekly 2024-05-07` processes 2024-05-06.
color_palette is one mapped BashOperator task per shard (`--shard I/N`, dynamic task
mapping), so Celery or Kubernetes workers split the creators between them; N is the
Airflow Variable igpipe_palette_shards (default 4), read when the run starts. Each shard
writes marts/palettes/date=D/part-<I>-of-<N>.parquet; load_facts joins them and names any
missing shard in its summary: load_facts runs when every shard has finished, failed
ones included (trigger rule all_done).

load_facts needs the daily DAG's aggregate_posts for the same date (it fails naming the
partition otherwise). Settings, exit codes and retries as in igpipe_daily.py.
"""

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task
from airflow.timetables.trigger import CronTriggerTimetable

from igpipe_common import DEFAULT_ARGS, render

STEPS = {
    "color_palette": "<igpipe> color-palette --lake <lake> <out> --date <date> --run-id <run-id> --shard $PALETTE_SHARD ",
    "load_facts": "<igpipe> load-facts --lake <lake> <out> --date <date> --run-id <run-id> ",
    "quality_check": "<igpipe> quality-check --lake <lake> <out> --date <date> --run-id <run-id> ",
}

with DAG(
    dag_id="igpipe_weekly",
    description="Colour palettes of every creator's recent images, sharded, then the fact table.",
    schedule=CronTriggerTimetable("0 6 * * 0", timezone="UTC"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=8),
    default_args=DEFAULT_ARGS,
    tags=["igpipe"],
) as dag:

    @task
    def shard_list() -> list[dict[str, str]]:
        """One environment per shard: [{"PALETTE_SHARD": "0/4"}, …]."""
        from airflow.sdk import Variable

        count = int(Variable.get("igpipe_palette_shards", default="4"))
        if count < 1:
            raise ValueError(f"igpipe_palette_shards must be at least 1, got {count}")
        return [{"PALETTE_SHARD": f"{index}/{count}"} for index in range(count)]

    palettes = BashOperator.partial(
        task_id="color_palette",
        bash_command=render(STEPS["color_palette"]),
        append_env=True,
        skip_on_exit_code=99,
        execution_timeout=timedelta(hours=4),
    ).expand(env=shard_list())

    load_facts = BashOperator(
        task_id="load_facts",
        bash_command=render(STEPS["load_facts"]),
        append_env=True,
        trigger_rule="all_done",  # a failed shard must not hide the others' colours
        execution_timeout=timedelta(minutes=45),
    )
    quality_check = BashOperator(
        task_id="quality_check",
        bash_command=render(STEPS["quality_check"]),
        append_env=True,
        execution_timeout=timedelta(minutes=45),
    )
    palettes >> load_facts >> quality_check
