#!/usr/bin/env python3
"""Benchmarks the daily chain against the fact-table issue's targets and prints a table.

    bench/daily_chain.py [--users 50000] [--runs 3] [--no-postgres]

Builds igpipe and lakegen in release mode, then (cached under ~/.cache/igpipe/bench):
  1. lakegen writes USERS creators x 25 posts and 30 days of stats ending 2024-05-05;
  2. stage-stats and stage-posts stage it all for 2024-05-05 (setup, not timed), and
     aggregate-posts + load-facts run for 2024-05-05, so the day before has a fact table;
  3. `lakegen --next-day` writes 2024-05-06: a stats file per creator, every creator's 25
     posts rewritten with changed counts, a new post for every other creator.
Each run restores the 2024-05-05 outputs (hard-linked copy: igpipe replaces files by
rename, never in place) and times the chain for 2024-05-06, step by step:
stage-stats → stage-posts → aggregate-posts → load-facts → quality-check. The table shows
the median run. Peak memory is the largest max RSS of any step (/usr/bin/time).

With PostgreSQL (scripts/postgres.sh starts a throw-away cluster; --no-postgres skips it),
load-facts --load-to runs once more on the day's mart and the load's own seconds (the
summary's load.seconds: connect, COPY, merge, commit) are reported: first into an empty
table, then again over the same rows (every row replaced).
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path(os.environ.get("IGPIPE_CACHE", pathlib.Path.home() / ".cache" / "igpipe"))
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target"))
BEFORE, DAY = "2024-05-05", "2024-05-06"
CHAIN = ["stage-stats", "stage-posts", "aggregate-posts", "load-facts", "quality-check"]


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "igpipe", "--bin", "lakegen"],
                   cwd=ROOT, env=env, check=True)
    return TARGET / "release" / "igpipe", TARGET / "release" / "lakegen"


def run_step(cmd, env=None, ok=(0,)):
    """One process under /usr/bin/time: (wall seconds, peak MiB, CPU seconds, summary)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S"] + [str(c) for c in cmd],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode not in ok:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    peak_kib, user, system = proc.stderr.strip().splitlines()[-1].split()
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return seconds, int(peak_kib) / 1024, float(user) + float(system), summary


def prepare(igpipe, lakegen, users, bench):
    """The lake with D-1 staged and D's new files, cached; returns (lake, base outputs)."""
    lake, base = bench / f"chain-lake-{users}", bench / f"chain-base-{users}"
    if (lake / ".complete").exists() and (base / ".complete").exists():
        return lake, base
    shutil.rmtree(lake, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)
    gen = [lakegen, "--out", lake, "--users", str(users), "--days", "30", "--end", BEFORE]
    t = time.perf_counter()
    subprocess.run(gen, check=True)
    os.sync()
    for step in ["stage-stats", "stage-posts", "aggregate-posts", "load-facts"]:
        seconds, _, _, _ = run_step([igpipe, "-q", step, "--lake", lake, "--out", base, "--date", BEFORE])
        print(f"setup {step} {BEFORE}: {seconds:.1f}s", file=sys.stderr)
    subprocess.run(gen + ["--next-day"], check=True)
    os.sync()
    print(f"prepared {lake} in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    (lake / ".complete").touch()
    (base / ".complete").touch()
    return lake, base


def restore(base, out):
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(["cp", "-al", str(base), str(out)], check=True)


def chain_run(igpipe, lake, out):
    """Times each step of the chain for DAY; returns {step: (seconds, peak, cpu, summary)}."""
    results = {}
    for step in CHAIN:
        cmd = [igpipe, "-q", step, "--lake", lake, "--out", out, "--date", DAY]
        results[step] = run_step(cmd, ok=(0, 3) if step == "quality-check" else (0,))
    return results


def postgres_loads(igpipe, lake, out):
    """load-facts --load-to a throw-away PostgreSQL, twice; returns [(name, load seconds, summary)]."""
    started = subprocess.run([ROOT / "scripts" / "postgres.sh", "start"], capture_output=True, text=True, check=True)
    env = dict(os.environ)
    for line in started.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value
    try:
        rows = []
        cmd = [igpipe, "-q", "load-facts", "--lake", lake, "--out", out, "--date", DAY]
        env["IGPIPE_LOAD_TO"] = env["IGPIPE_TEST_PG_URL"]
        for name in ["into an empty table", "again: every row replaced"]:
            seconds, peak, cpu, summary = run_step(cmd, env=env)
            rows.append((name, summary["load"]["seconds"], seconds, peak, summary))
            print(f"postgres {name}: {json.dumps(summary['load'])}", file=sys.stderr)
        return rows
    finally:
        subprocess.run([ROOT / "scripts" / "postgres.sh", "stop"], check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    igpipe, lakegen = build()
    bench = CACHE / "bench"
    bench.mkdir(parents=True, exist_ok=True)
    lake, base = prepare(igpipe, lakegen, args.users, bench)
    out = bench / f"chain-out-{args.users}"

    runs = []
    for i in range(args.runs):
        restore(base, out)
        os.sync()
        result = chain_run(igpipe, lake, out)
        total = sum(r[0] for r in result.values())
        print(f"run {i + 1}: {total:.2f}s " + ", ".join(f"{s} {r[0]:.2f}s" for s, r in result.items()), file=sys.stderr)
        runs.append((total, result))
    runs.sort(key=lambda r: r[0])
    total, median = runs[len(runs) // 2]
    peak = max(r[1] for _, result in runs for r in result.values())

    print()
    print(f"daily chain for {DAY}, {args.users:,} creators, 30 days staged, local folder; "
          f"{os.cpu_count()} cores; median of {args.runs} runs (totals "
          f"{', '.join(f'{t:.1f}' for t, _ in runs)} s)")
    print()
    print(f"| {'step':<44} | {'files read':>10} | {'rows written':>12} | {'seconds':>7} | {'CPU s':>6} | {'peak MiB':>8} | target")
    print(f"|{'-' * 46}|{'-' * 12}|{'-' * 14}|{'-' * 9}|{'-' * 8}|{'-' * 10}|--------")
    for step in CHAIN:
        seconds, step_peak, cpu, summary = median[step]
        print(f"| {step:<44} | {summary['files_read']:>10,} | {summary['rows_written']:>12,} | {seconds:>7.2f} | "
              f"{cpu:>6.1f} | {step_peak:>8.0f} |")
    pair = median["aggregate-posts"][0] + median["load-facts"][0]
    print(f"| {'aggregate-posts + load-facts':<44} | {'':>10} | {'':>12} | {pair:>7.2f} | {'':>6} | {'':>8} | <= 3 s")
    print(f"| {'the chain':<44} | {'':>10} | {'':>12} | {total:>7.2f} | {'':>6} | {peak:>8.0f} | <= 60 s (aim 30), <= 2,048 MiB")
    if not args.no_postgres:
        for name, load_seconds, seconds, step_peak, summary in postgres_loads(igpipe, lake, out):
            label = f"PostgreSQL load of {summary['load']['rows_staged']:,} rows, {name}"
            print(f"| {label:<44} | {'':>10} | {'':>12} | {load_seconds:>7.2f} | {'':>6} | {step_peak:>8.0f} | <= 3 s")


if __name__ == "__main__":
    main()
