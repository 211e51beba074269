#!/usr/bin/env python3
"""Benchmarks the media steps against the media issue's targets and prints a table.

    bench/media.py [--runs 3] [--only palette-1080|palette-320|fetch]

Builds igpipe and lakegen in release mode, then (lakes cached under ~/.cache/igpipe/bench):
  palette-1080  color-palette on photo-like 1080x1080 JPEGs (about 250 KB each) for 1,000
                and for 4,000 creators, 5 posts each (carousels give several images):
                images/s and peak memory, which must not grow with the creators.
  palette-320   color-palette on 320 px images, JPEG/PNG/WebP mixed (plus grey, CMYK,
                16-bit PNG and a few corrupt files), 2,000 creators x 10 posts.
  fetch         fetch-media for the last 30 days' posts of 4,000 creators from a loopback
                HTTP server (this script's, asyncio: any path returns the same 60 KB JPEG),
                64 requests in flight; the image store is emptied before each run.
Images are a pool of distinct renders hard-linked into the post folders (lakegen
--image-pool), so the lake fits on disk; the page cache holds them, as it would after the
first read, so the figures are CPU figures. Each figure is the median of --runs runs; peak
memory is the largest max RSS (/usr/bin/time).
"""
import argparse
import asyncio
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path(os.environ.get("IGPIPE_CACHE", pathlib.Path.home() / ".cache" / "igpipe"))
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target"))
DAY = "2024-05-06"


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "igpipe", "--bin", "lakegen"],
                   cwd=ROOT, env=env, check=True)
    return TARGET / "release" / "igpipe", TARGET / "release" / "lakegen"


def run_step(cmd):
    """One process under /usr/bin/time: (wall seconds, peak MiB, CPU seconds, summary)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S"] + [str(c) for c in cmd],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    peak_kib, user, system = proc.stderr.strip().splitlines()[-1].split()
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return seconds, int(peak_kib) / 1024, float(user) + float(system), summary


def lake(igpipe, lakegen, name, gen_args):
    """A generated lake with its posts staged, cached by name."""
    path = CACHE / "bench" / name
    if (path / ".complete").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([lakegen, "--out", path, "--days", "1", "--end", DAY] + gen_args, check=True)
    run_step([igpipe, "-q", "stage-posts", "--lake", path, "--date", DAY])
    os.sync()
    print(f"prepared {path} in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    (path / ".complete").touch()
    return path


def median_run(cmd, runs, before=None):
    results = []
    for _ in range(runs):
        if before:
            before()
        results.append(run_step(cmd))
        print(f"  {results[-1][0]:.2f}s {results[-1][1]:.0f} MiB {json.dumps(results[-1][3])}", file=sys.stderr)
    results.sort(key=lambda r: r[0])
    med = results[len(results) // 2]
    return med[0], max(r[1] for r in results), med[2], med[3]


def row(label, seconds, peak, cpu, summary, per_second, target):
    print(f"| {label:<52} | {summary['files_read']:>7,} | {summary['rows_written']:>7,} | {seconds:>7.2f} | "
          f"{cpu:>6.1f} | {peak:>8.0f} | {per_second:>9,.0f} | {target}")


def palette_rows(igpipe, lakegen, runs, name, sizes, gen, target):
    out = []
    for users in sizes:
        path = lake(igpipe, lakegen, f"{name}-{users}", ["--users", str(users)] + gen)
        print(f"{name}, {users} creators:", file=sys.stderr)
        seconds, peak, cpu, summary = median_run(
            [igpipe, "-q", "color-palette", "--lake", path, "--date", DAY], runs)
        out.append((f"color-palette, {name}, {users:,} creators", seconds, peak, cpu, summary,
                    summary["files_read"] / seconds, target))
    return out


class Cdn:
    """A minimal HTTP/1.1 keep-alive server on loopback: every GET gets the same JPEG."""

    def __init__(self, body):
        self.body, self.port, self.requests = body, None, 0
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait()

    def _serve(self, ready):
        async def handle(reader, writer):
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(self.body)).encode() + b"\r\n\r\n")
            try:
                while True:
                    request = await reader.readuntil(b"\r\n\r\n")
                    if not request:
                        break
                    self.requests += 1
                    writer.write(head + self.body)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await server.serve_forever()

        asyncio.run(main())


def fetch_row(igpipe, lakegen, runs):
    pool = lake(igpipe, lakegen, "fetch-image", ["--users", "1", "--posts-per-user", "1", "--images",
                                                  "--image-size", "640", "--image-formats", "jpeg",
                                                  "--image-pool", "1"])
    body = next((pool / "lakegen" / "image-pool").iterdir()).read_bytes()
    cdn = Cdn(body)
    # Written afresh each time: the posts' URLs name this run's server port.
    work = CACHE / "bench" / "fetch-work"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run([lakegen, "--out", work, "--users", "4000", "--days", "1", "--end", DAY,
                    "--media-base-url", f"http://127.0.0.1:{cdn.port}"], check=True)
    run_step([igpipe, "-q", "stage-posts", "--lake", work, "--date", DAY])
    store = work / "instagram_graph_image_store"
    print(f"fetch-media from 127.0.0.1:{cdn.port}, {len(body):,}-byte JPEG:", file=sys.stderr)
    seconds, peak, cpu, summary = median_run(
        [igpipe, "-q", "fetch-media", "--lake", work, "--date", DAY, "--concurrency", "64"], runs,
        before=lambda: shutil.rmtree(store, ignore_errors=True))
    if summary["rejected"]:
        sys.exit(f"fetch-media rejected {summary['rejected']} downloads: {summary}")
    return [("fetch-media, 4,000 creators' last 30 days, 64 in flight", seconds, peak, cpu, summary,
             summary["rows_written"] / seconds, ">= 500/s")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=["palette-1080", "palette-320", "fetch"])
    args = ap.parse_args()
    igpipe, lakegen = build()
    rows = []
    if args.only in (None, "palette-1080"):
        rows += palette_rows(igpipe, lakegen, args.runs, "1080px JPEG", [1000, 4000],
                             ["--posts-per-user", "5", "--images", "--image-size", "1080",
                              "--image-formats", "jpeg", "--image-pool", "300"], ">= 300/s")
    if args.only in (None, "palette-320"):
        rows += palette_rows(igpipe, lakegen, args.runs, "320px mixed", [2000],
                             ["--posts-per-user", "10", "--images", "--image-size", "320",
                              "--image-formats", "mixed", "--image-pool", "400"], ">= 2,500/s")
    if args.only in (None, "fetch"):
        rows += fetch_row(igpipe, lakegen, args.runs)

    print()
    print(f"media steps for {DAY}, local folder, {os.cpu_count()} cores; median of {args.runs} runs")
    print()
    print(f"| {'run':<52} | {'read':>7} | {'rows':>7} | {'seconds':>7} | {'CPU s':>6} | {'peak MiB':>8} | {'images/s':>9} | target")
    print(f"|{'-' * 54}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 8}|{'-' * 10}|{'-' * 11}|--------")
    for r in rows:
        row(*r)


if __name__ == "__main__":
    main()
