"""Every DAG file imports in Airflow 3 (DagBag) and is configured as docs/operations.md says.

    <airflow venv>/bin/python tests/airflow/check_dags.py

Run by tests/integration/airflow.rs (with `airflow dags test` of both DAGs after it).
"""
import pathlib
import sys
from datetime import timedelta

DAGS = pathlib.Path(__file__).resolve().parents[2] / "dags"
# Airflow puts the DAG folder on sys.path for the processors and workers; so do we.
sys.path.insert(0, str(DAGS))

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

bag = DagBag(dag_folder=str(DAGS))
assert bag.import_errors == {}, bag.import_errors
assert sorted(bag.dag_ids) == ["igpipe_daily", "igpipe_weekly"], bag.dag_ids

# task -> the tasks directly after it
expected = {
    "igpipe_daily": {
        "stage_stats": {"stage_posts"},
        "stage_posts": {"fetch_media", "aggregate_posts"},
        "fetch_media": set(),
        "aggregate_posts": {"load_facts"},
        "load_facts": {"quality_check"},
        "quality_check": set(),
    },
    "igpipe_weekly": {
        "shard_list": {"color_palette"},
        "color_palette": {"load_facts"},
        "load_facts": {"quality_check"},
        "quality_check": set(),
    },
}
for dag_id, edges in expected.items():
    dag = bag.dags[dag_id]
    found = {t.task_id: set(t.downstream_task_ids) for t in dag.tasks}
    assert found == edges, (dag_id, found)
    assert dag.catchup is False and dag.max_active_runs == 1, dag_id
    assert dag.dagrun_timeout and dag.dagrun_timeout <= timedelta(hours=8), dag_id
    for t in dag.tasks:
        assert t.retries == 2 and t.retry_delay == timedelta(minutes=5), (dag_id, t.task_id)
        assert t.on_failure_callback, (dag_id, t.task_id)
        if t.task_type == "BashOperator":
            assert t.execution_timeout is not None, (dag_id, t.task_id)
    # Credentials never sit in a DAG file: they come from the worker's environment.
    source = pathlib.Path(dag.fileloc).read_text()
    for word in ("password", "secret_arn", "postgres://", "AWS_SECRET"):
        assert word not in source, f"{dag.fileloc} mentions {word}"

daily = bag.dags["igpipe_daily"]
stats = daily.get_task("stage_stats")
assert stats.skip_on_exit_code == [99] or stats.skip_on_exit_code == 99, stats.skip_on_exit_code
assert stats.append_env is True
assert "--skip-if-missing" in stats.bash_command
assert "--date {{ macros.ds_add(ds, -1) }}" in stats.bash_command, stats.bash_command
assert "{{ dag.dag_id }}" in stats.bash_command, "run ids carry the DAG's id"
assert stats.do_xcom_push, "the summary line must reach XCom"
weekly = bag.dags["igpipe_weekly"]
palette = weekly.get_task("color_palette")
assert "--shard $PALETTE_SHARD" in palette.partial_kwargs["bash_command"], palette.partial_kwargs
assert weekly.get_task("load_facts").trigger_rule == "all_done", "a failed shard must not hide the others"
print(f"DAGs import cleanly: {', '.join(sorted(bag.dag_ids))}")
