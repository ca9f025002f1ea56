#!/usr/bin/env python3
"""Peak resident memory of `influence scores --top-k K` as the training set grows.

For N = 10,000, 30,000 and 100,000 training sequences of 16 random tokens, 64 queries of 16
random tokens, scores with the demo's GPT-2 and EK-FAC factors (cache/demo, made by scripts/run):
`--top-k 10` (each query's 10 highest and 10 lowest rows) beside the dense matrix, one process
at a time, peak RSS from the kernel (getrusage of the finished child). This script is not part of CI.

Usage: python3 scripts/compare/topk_memory.py [--influence .build/release/influence]
           [--demo-dir cache/demo] [--sizes 10000,30000,100000] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def peak_rss_of(arguments: list[str]) -> tuple[float, float]:
    """Runs a command in a fresh child; returns its peak resident set (MB) and wall seconds."""
    started = time.perf_counter()
    # A child of a child, so that getrusage(RUSAGE_CHILDREN) of the intermediate one is this run's alone.
    wrapper = ("import resource, subprocess, sys\n"
               "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "sys.stderr.write(r.stderr[-3000:])\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(r.returncode)\n")
    result = subprocess.run([sys.executable, "-c", wrapper] + [str(a) for a in arguments], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, arguments))} failed:\n{result.stderr}")
    return int(result.stdout.strip().splitlines()[-1]) / 1024, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--influence", type=Path, default=REPO / ".build" / "release" / "influence")
    parser.add_argument("--demo-dir", type=Path, default=REPO / "cache" / "demo")
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--work-dir", type=Path)
    args = parser.parse_args()
    model, factors = args.demo_dir / "model", args.demo_dir / "factors"
    if not (model / "config.json").exists() or not factors.exists():
        parser.error(f"{args.demo_dir} has no demo model and factors; run scripts/run first")
    vocabulary = json.loads((model / "config.json").read_text())["vocab_size"]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="topk-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)

    def rows(count: int) -> str:
        return "".join(json.dumps({"input_ids": [rng.randrange(vocabulary) for _ in range(16)]}) + "\n" for _ in range(count))

    queries = work / "queries.jsonl"
    queries.write_text(rows(args.queries))
    sizes = [int(s) for s in args.sizes.split(",")]
    largest = work / "train.jsonl"
    largest.write_text(rows(max(sizes)))
    lines = largest.read_text().splitlines(keepends=True)
    print(f"demo GPT-2 ({model}), EK-FAC factors; {args.queries} queries and N training rows of 16 random tokens")
    print(f"{'N':>8s} {'top-k 10: peak MB':>18s} {'seconds':>8s} {'dense: peak MB':>15s} {'seconds':>8s}")
    for n in sizes:
        train = work / f"train-{n}.jsonl"
        train.write_text("".join(lines[:n]))
        figures = []
        for extra in (["--top-k", "10"], []):
            out = work / f"scores-{n}-{'top' if extra else 'dense'}"
            shutil.rmtree(out, ignore_errors=True)
            figures.append(peak_rss_of([args.influence, "scores", "--model", model, "--factors", factors, "--train", train,
                                        "--queries", queries, "--batch-size", "32", "--out", out] + extra))
        (top_mb, top_s), (dense_mb, dense_s) = figures
        print(f"{n:8d} {top_mb:18.1f} {top_s:8.1f} {dense_mb:15.1f} {dense_s:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
