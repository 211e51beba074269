#!/usr/bin/env python3
"""Benchmarks stage-posts against the issue's targets and prints a table.

    bench/stage_posts.py [--users 50000] [--posts-per-user 25]

Builds igpipe and lakegen in release mode, generates a lake of USERS x 25 post files once
(cached under ~/.cache/igpipe/bench), then times, each in a fresh output folder or on the
previous output as stated:

  full load         stage-posts on an empty output (local-folder fast path); three runs,
                    the median shown with the range
  re-run            stage-posts again, nothing changed (must read no JSON)
  re-run, 1% new    after rewriting 1% of the posts (a day's new/updated files)
  full/re-run (os)  the same through object_store's LocalFileSystem (--no-local-fast-path),
                    to show what the fast path buys

Peak memory is each run's max RSS (/usr/bin/time). This VM does not allow dropping the
page cache, and it evicts the lake from it on its own, so file reads vary a lot from run
to run: the table's first row, two `cat` processes reading every post file, is the
I/O floor of the moment; compare the full load against it.
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path(os.environ.get("IGPIPE_CACHE", pathlib.Path.home() / ".cache" / "igpipe"))
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target"))
DATE = "2024-05-06"


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
    subprocess.run(["cargo", "build", "--release", "--locked", "--bins"], cwd=ROOT, env=env, check=True)
    return TARGET / "release" / "igpipe", TARGET / "release" / "lakegen"


def run_one(cmd):
    """Runs through /usr/bin/time to get this process's own peak RSS and CPU time."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S"] + [str(c) for c in cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 4):
        sys.exit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr}")
    peak_kib, user, system = proc.stderr.strip().splitlines()[-1].split()
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return seconds, int(peak_kib) / 1024, float(user) + float(system), summary


def read_floor(lake):
    """Seconds for two `cat` processes to read every post file: the I/O floor right now."""
    start = time.perf_counter()
    subprocess.run(f"find '{lake}/instagram_graph/posts' -name '*.json' -print0 | xargs -0 -P2 -n 5000 cat > /dev/null",
                   shell=True, check=True)
    return time.perf_counter() - start


def touch_one_percent(lake, users):
    """Rewrites 1% of the post files with a changed like_count (a day's updates)."""
    posts = lake / "instagram_graph" / "posts"
    changed = 0
    for i, user in enumerate(sorted(os.listdir(posts))):
        if i % 4 != 0:
            continue
        folder = posts / user
        name = sorted(os.listdir(folder))[0]
        path = folder / name
        doc = json.loads(path.read_text())
        doc["like_count"] = 123456789
        path.write_text(json.dumps(doc))
        changed += 1
        if changed >= users * 25 // 100:
            break
    return changed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--posts-per-user", type=int, default=25)
    args = ap.parse_args()
    igpipe, lakegen = build()
    bench = CACHE / "bench"
    lake = bench / f"lake-{args.users}x{args.posts_per_user}"
    if not (lake / ".complete").exists():
        shutil.rmtree(lake, ignore_errors=True)
        t = time.perf_counter()
        subprocess.run([lakegen, "--out", lake, "--users", str(args.users), "--days", "1",
                        "--posts-per-user", str(args.posts_per_user)], check=True)
        print(f"generated {lake} in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        (lake / ".complete").touch()
    # Flush lakegen's writes first: otherwise the kernel writes back gigabytes of dirty
    # pages during the full load, and the figure measures the generator.
    os.sync()
    files = args.users * args.posts_per_user
    rows = []

    def case(name, cmd, target=None, fresh_out=None, runs=1):
        """Runs cmd `runs` times (emptying fresh_out before each) and keeps the median run."""
        results = []
        for _ in range(runs):
            if fresh_out is not None:
                shutil.rmtree(fresh_out, ignore_errors=True)
            seconds, peak, cpu, summary = run_one(cmd)
            results.append((seconds, peak, cpu, summary))
            print(f"{name}: {seconds:.2f}s, {peak:.0f} MiB, {json.dumps(summary)}", file=sys.stderr)
        results.sort(key=lambda r: r[0])
        seconds, peak, cpu, summary = results[len(results) // 2]
        spread = f"{results[0][0]:.1f}-{results[-1][0]:.1f}" if runs > 1 else ""
        peak = max(r[1] for r in results)
        rows.append((name, summary["files_listed"], summary["files_read"], seconds, spread, cpu, peak, target))

    floor = read_floor(lake)
    rows.append(("I/O floor: cat every post file (2 procs)", files, files, floor, "", None, None, None))

    base = [igpipe, "-q", "stage-posts", "--lake", lake, "--date", DATE]
    for fast in (True, False):
        out = bench / ("out-fast" if fast else "out-os")
        shutil.rmtree(out, ignore_errors=True)
        flag = [] if fast else ["--no-local-fast-path"]
        tag = "" if fast else " (object_store)"
        full = [igpipe, "-q"] + flag + base[2:] + ["--out", out]
        if fast:
            case("full load (median of 3)", full, ">= 50,000 files/s, <= 2 GiB", fresh_out=out, runs=3)
        else:
            case("full load" + tag, full)
        case("re-run, nothing changed" + tag, [igpipe, "-q"] + flag + base[2:] + ["--out", out], "<= 5 s, reads no JSON" if fast else None)
    changed = touch_one_percent(lake, args.users)
    os.sync()
    case(f"re-run, {changed} files changed", base + ["--out", bench / "out-fast"])
    (lake / ".complete").unlink()  # the lake was modified: regenerate next time

    print()
    print(f"stage-posts, {files:,} post files ({args.users:,} creators x {args.posts_per_user}), "
          f"{os.cpu_count()} cores, page cache as the VM leaves it")
    print()
    print(f"| {'case':<42} | {'listed':>9} | {'read':>9} | {'seconds':>7} | {'range':>9} | {'CPU s':>6} | {'files/s':>9} | {'peak MiB':>8} | target")
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 11}|{'-' * 9}|{'-' * 11}|{'-' * 8}|{'-' * 11}|{'-' * 10}|--------")
    for name, listed, read, seconds, spread, cpu, peak, target in rows:
        rate = f"{read / seconds:,.0f}" if read else "-"
        cpu = f"{cpu:.1f}" if cpu is not None else "-"
        peak = f"{peak:.0f}" if peak is not None else "-"
        print(f"| {name:<42} | {listed:>9,} | {read:>9,} | {seconds:>7.2f} | {spread:>9} | {cpu:>6} | {rate:>9} | {peak:>8} | {target or ''}")


if __name__ == "__main__":
    main()
