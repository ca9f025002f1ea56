#!/usr/bin/env python3
"""Many queries: low-rank query batching and TF-IDF candidates, measured, ours beside Kronfluence.

Every figure is measured in this run, on this machine, one process at a time; timings from another
run or machine mean nothing. This script is not part of CI.

Workload (the benchmark GPT-2 of `influence-bench influence`): a GPT-2 of 4 layers, width 256,
4 heads, context 128, vocabulary 4,096, random weights (transformers' initialisation, seed 0);
1,024 training sequences and 512 queries of 128 random tokens; EK-FAC on the MLP layers
(transformer.h.*.mlp.c_fc and c_proj), empirical Fisher, damping auto, batches of 16.

What it measures
  ranks      our scores with --query-rank R (R = 1 … 128) and --query-rank auto --query-energy E
             (E = 0.9, 0.99, 0.999) against our full-rank scores: Pearson and Spearman over all
             (query, train) pairs, the smallest per-query Pearson, bytes per query, passes, time.
             Also --query-svd randomized at rank 32 (oversampling 10, 2 power iterations).
  kronfluence
             Kronfluence 1.0.x on the same weights, rows and options: full rank, and
             query_gradient_low_rank = 32 with its default torch.svd_lowrank and with
             use_full_svd=True, each against its own full rank; its full rank against ours.
  recall     `influence candidates --top K%` (K = 1, 5, 10, 25) against the true top-10 and
             top-100 rows of each query by the full-rank EK-FAC scores: recall@K averaged over
             queries, and the time of `scores --candidates` beside scoring every pair. On the
             benchmark workload and, when --demo-dir holds the demo's model, factors, documents
             and queries (scripts/run makes them in cache/demo), on the demo corpus.

Queries per pass: full rank holds 8.4 MB per query, so the timed full-rank run passes over the
training rows 4 times with 128 queries each (--query-chunk 128; Kronfluence: query batches of 128),
and once more in one pass of all 512 (4.3 GB); low-rank runs take all 512 queries in one pass
(--query-chunk 512; Kronfluence: query batches of 512).

Requirements: python ≥ 3.10 with torch, transformers, safetensors, numpy, scipy, kronfluence 1.0.x
(the venv of kronfluence_compare.py); the CLI built in release mode.

Usage: python3 scripts/compare/many_queries_compare.py [--work-dir DIR] [--influence PATH]
           [--train-rows 1024] [--queries 512] [--sections ranks,kronfluence,recall]
           [--demo-dir cache/demo] [--json FIGURES.json] [--reuse --all-pairs-seconds S]

--reuse runs a later section (recall) on the fit and full-rank scores an earlier ranks section left
in the work directory, with the rank-32 time that section measured as the time of every pair.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file as load_numpy
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kronfluence_compare as kc  # noqa: E402  (the shared model, task and data conventions)

REPO = Path(__file__).resolve().parents[2]
RANKS = [1, 2, 4, 8, 16, 32, 64, 128]
ENERGIES = [0.9, 0.99, 0.999]
PERCENTS = [1, 5, 10, 25]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run(arguments: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([str(a) for a in arguments], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, arguments))} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return elapsed, result.stdout


def make_workload(work: Path, train_rows: int, query_rows: int) -> tuple[Path, Path, Path]:
    from transformers import GPT2Config, GPT2LMHeadModel

    model_dir, train, queries = work / "model", work / "train.jsonl", work / "queries.jsonl"
    if not (model_dir / "config.json").exists():
        config = GPT2Config(vocab_size=4096, n_positions=128, n_embd=256, n_layer=4, n_head=4, bos_token_id=0, eos_token_id=0)
        torch.manual_seed(0)
        GPT2LMHeadModel(config).eval().save_pretrained(model_dir, safe_serialization=True)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 4096, size=(train_rows + query_rows, 128))
    for path, block in ((train, rows[:train_rows]), (queries, rows[train_rows:])):
        path.write_text("".join(json.dumps({"input_ids": r.tolist()}) + "\n" for r in block))
    return model_dir, train, queries


def dense(directory: Path) -> np.ndarray:
    return load_numpy(str(directory / "pairwise_scores.safetensors"))["all_modules"].astype(np.float64)


def correlation(mine: np.ndarray, reference: np.ndarray) -> dict:
    return {"pearson": float(np.corrcoef(mine.ravel(), reference.ravel())[0, 1]),
            "spearman": float(stats.spearmanr(mine.ravel(), reference.ravel()).statistic),
            "min_query_pearson": float(min(np.corrcoef(mine[q], reference[q])[0, 1] for q in range(mine.shape[0])))}


def queries_line(stdout: str) -> dict:
    """The `queries: …` line of `influence scores`: passes, MB per query, mean rank."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("queries: "):
            if m := re.search(r"(\d+) pass", line):
                out["passes"] = int(m.group(1))
            if m := re.search(r"([\d.]+) MB per query", line):
                out["mb_per_query"] = float(m.group(1))
            if m := re.search(r"mean rank per layer ([\d.]+) \(([\d.]+) to ([\d.]+)\)", line):
                out["mean_rank"], out["min_rank"], out["max_rank"] = map(float, m.groups())
    return out


class Ours:
    def __init__(self, cli: Path, model: Path, train: Path, queries: Path, work: Path):
        self.cli, self.model, self.train, self.queries, self.work = cli, model, train, queries, work
        self.factors = work / "ours-factors"

    def fit(self) -> float:
        shutil.rmtree(self.factors, ignore_errors=True)
        seconds, _ = run([self.cli, "fit", "--model", self.model, "--data", self.train, "--strategy", "ekfac", "--modules", "mlp",
                          "--fisher", "empirical", "--batch-size", "16", "--out", self.factors])
        return seconds

    def scores(self, tag: str, extra: list[str]) -> tuple[Path, float, dict]:
        out = self.work / f"ours-scores-{tag}"
        shutil.rmtree(out, ignore_errors=True)
        seconds, stdout = run([self.cli, "scores", "--model", self.model, "--factors", self.factors, "--train", self.train,
                               "--queries", self.queries, "--batch-size", "16", "--out", out] + extra)
        return out, seconds, queries_line(stdout)


def section_ranks(ours: Ours, figures: dict) -> np.ndarray:
    print("\n== Low-rank queries against full rank (ours) ==", flush=True)
    rows = []
    full_dir, full_seconds, full_info = ours.scores("full", ["--query-chunk", "128"])
    reference = dense(full_dir)
    rows.append(("full, 128 queries/pass", full_seconds, full_info, {"pearson": 1.0, "spearman": 1.0, "min_query_pearson": 1.0}))
    one_dir, one_seconds, one_info = ours.scores("full-one-pass", ["--query-chunk", "512"])
    rows.append(("full, one pass", one_seconds, one_info, correlation(dense(one_dir), reference)))
    for r in RANKS:
        d, s, info = ours.scores(f"rank{r}", ["--query-rank", str(r), "--query-chunk", "512"])
        rows.append((f"rank {r}", s, info, correlation(dense(d), reference)))
        print(f"  rank {r}: Pearson {rows[-1][3]['pearson']:.5f}, {s:.1f} s", flush=True)
    for e in ENERGIES:
        d, s, info = ours.scores(f"auto{e}", ["--query-rank", "auto", "--query-energy", str(e), "--query-chunk", "512"])
        rows.append((f"auto E={e}", s, info, correlation(dense(d), reference)))
        print(f"  auto {e}: Pearson {rows[-1][3]['pearson']:.5f}, {s:.1f} s", flush=True)
    d, s, info = ours.scores("rank32-randomized", ["--query-rank", "32", "--query-svd", "randomized", "--query-chunk", "512"])
    rows.append(("rank 32 randomized (p=10, q=2)", s, info, correlation(dense(d), reference)))
    d, s, info = ours.scores("auto-budget", ["--query-rank", "auto", "--query-energy", "0.99", "--memory-budget", "256M"])
    rows.append(("auto E=0.99, --memory-budget 256M", s, info, correlation(dense(d), reference)))

    header = f"{'queries':36s} {'Pearson':>9s} {'Spearman':>9s} {'min q-P':>8s} {'rank/layer':>11s} {'MB/query':>9s} {'passes':>6s} {'seconds':>8s}"
    print(header + "\n" + "-" * len(header))
    for name, seconds, info, fig in rows:
        rank = f"{info['mean_rank']:.1f}" if "mean_rank" in info else "full"
        print(f"{name:36s} {fig['pearson']:9.5f} {fig['spearman']:9.5f} {fig['min_query_pearson']:8.4f} {rank:>11s} "
              f"{info.get('mb_per_query', float('nan')):9.3f} {info.get('passes', 0):6d} {seconds:8.1f}")
    figures["ranks"] = [{"queries": n, "seconds": s, **i, **f} for n, s, i, f in rows]
    return reference


def section_kronfluence(model_dir: Path, train: Path, queries: Path, ours_full: np.ndarray | None, cli: Path, work: Path,
                        figures: dict) -> None:
    print("\n== Kronfluence on the same weights and rows ==", flush=True)
    warnings.filterwarnings("ignore")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.utils.dataset import DataLoaderKwargs

    info = kc.model_info(model_dir)
    _, stdout = run([cli, "fit", "--model", model_dir, "--data", train, "--strategy", "identity", "--modules", "mlp",
                     "--max-examples", "1", "--out", work / "modules-probe"])
    tracked = kc.reported_modules(stdout)
    model = kc.load_model(model_dir, info, tracked)
    task = kc.make_task(tracked)
    model = prepare_model(model, task)
    analyzer = Analyzer(analysis_name="many-queries", model=model, task=task, cpu=True, disable_tqdm=True,
                        output_dir=str(work / "kronfluence"), log_level=logging.WARNING)

    def rows(path: Path) -> kc.RowDataset:
        sequences = [r["input_ids"] for r in kc.read_jsonl(path)]
        return kc.RowDataset(kc.Rows(sequences, [0] * len(sequences)))

    train_set, query_set = rows(train), rows(queries)
    loader = DataLoaderKwargs(collate_fn=kc.make_collate(info.pad))
    started = time.perf_counter()
    analyzer.fit_all_factors(factors_name="ekfac", dataset=train_set, per_device_batch_size=16, dataloader_kwargs=loader,
                             factor_args=FactorArguments(strategy="ekfac", use_empirical_fisher=True), overwrite_output_dir=True)
    fit_seconds = time.perf_counter() - started
    print(f"  fit: {fit_seconds:.1f} s", flush=True)

    def scores(name: str, query_batch: int, **options) -> tuple[np.ndarray, float]:
        started = time.perf_counter()
        analyzer.compute_pairwise_scores(scores_name=name, factors_name="ekfac", query_dataset=query_set, train_dataset=train_set,
                                         per_device_query_batch_size=query_batch, per_device_train_batch_size=16,
                                         dataloader_kwargs=loader, score_args=ScoreArguments(damping_factor=None, **options),
                                         overwrite_output_dir=True)
        seconds = time.perf_counter() - started
        matrix = analyzer.load_pairwise_scores(scores_name=name)["all_modules"].double().numpy()
        print(f"  {name}: {seconds:.1f} s", flush=True)
        return matrix, seconds

    full, full_seconds = scores("full", 128)
    low, low_seconds = scores("rank32", 512, query_gradient_low_rank=32)
    exact, exact_seconds = scores("rank32-full-svd", 512, query_gradient_low_rank=32, use_full_svd=True)
    rows_out = [("full, 128 queries/batch", full_seconds, {"pearson": 1.0, "spearman": 1.0, "min_query_pearson": 1.0}),
                ("rank 32, svd_lowrank (default)", low_seconds, correlation(low, full)),
                ("rank 32, use_full_svd", exact_seconds, correlation(exact, full))]
    header = f"{'Kronfluence queries':36s} {'Pearson':>9s} {'Spearman':>9s} {'min q-P':>8s} {'seconds':>8s}"
    print(header + "\n" + "-" * len(header))
    for name, seconds, fig in rows_out:
        print(f"{name:36s} {fig['pearson']:9.5f} {fig['spearman']:9.5f} {fig['min_query_pearson']:8.4f} {seconds:8.1f}")
    figures["kronfluence"] = {"fit_seconds": fit_seconds, "rows": [{"queries": n, "seconds": s, **f} for n, s, f in rows_out]}
    if ours_full is not None:
        agreement = correlation(ours_full, full)
        print(f"ours full rank against Kronfluence full rank: Pearson {agreement['pearson']:.6f}, Spearman {agreement['spearman']:.6f}")
        figures["kronfluence"]["ours_vs_theirs_full"] = agreement


def recall_table(cli: Path, model: Path, train: Path, queries: Path, reference: np.ndarray, score: callable, work: Path,
                 label: str, dense_seconds: float) -> list[dict]:
    rows_n = reference.shape[1]
    order = np.argsort(-reference, axis=1, kind="stable")
    out = []
    for percent in PERCENTS:
        file = work / f"candidates-{label}-{percent}.jsonl"
        seconds, _ = run([cli, "candidates", "--model", model, "--train", train, "--queries", queries, "--top", f"{percent}%",
                          "--index", work / f"index-{label}.tfidf", "--out", file])
        lists = [json.loads(line)["candidates"] for line in file.read_text().splitlines()]
        recall = {}
        for top in (10, 100):
            if top >= rows_n:
                continue
            recall[top] = float(np.mean([len(set(order[q, :top]) & set(lists[q])) / top for q in range(len(lists))]))
        scored_seconds = score(file)
        out.append({"percent": percent, "candidates": len(lists[0]), "recall_top10": recall.get(10), "recall_top100": recall.get(100),
                    "candidates_seconds": seconds, "scores_seconds": scored_seconds, "dense_seconds": dense_seconds})
    header = f"{label + ' TF-IDF top K':30s} {'K rows':>7s} {'recall@top10':>12s} {'recall@top100':>13s} {'filter s':>8s} {'scores s':>8s} {'all pairs s':>11s}"
    print(header + "\n" + "-" * len(header))
    for r in out:
        r10 = f"{r['recall_top10']:.3f}" if r["recall_top10"] is not None else "—"
        r100 = f"{r['recall_top100']:.3f}" if r["recall_top100"] is not None else "—"
        print(f"{str(r['percent']) + '%':30s} {r['candidates']:7d} {r10:>12s} {r100:>13s} {r['candidates_seconds']:8.2f} "
              f"{r['scores_seconds']:8.1f} {r['dense_seconds']:11.1f}")
    return out


def section_recall(ours: Ours, reference: np.ndarray, demo: Path | None, figures: dict, all_pairs_seconds: float | None = None) -> None:
    print("\n== TF-IDF candidates: recall of the true top rows ==", flush=True)
    # Benchmark workload: candidates scored at rank 32 (one pass), beside every pair at rank 32.
    if all_pairs_seconds is None:
        _, dense32, _ = ours.scores("recall-rank32", ["--query-rank", "32", "--query-chunk", "512"])
    else:
        dense32 = all_pairs_seconds

    def score(file: Path) -> float:
        _, seconds, _ = ours.scores("recall-candidates", ["--query-rank", "32", "--query-chunk", "512", "--candidates", file])
        return seconds

    figures["recall_benchmark"] = recall_table(ours.cli, ours.model, ours.train, ours.queries, reference, score, ours.work,
                                               "benchmark", dense32)
    if demo is None:
        return
    needed = [demo / "model", demo / "factors", demo / "documents.jsonl", demo / "queries.jsonl"]
    if not all(p.exists() for p in needed):
        print(f"(no demo corpus in {demo}: run scripts/run first)")
        return
    demo_work = ours.work / "demo"
    demo_work.mkdir(exist_ok=True)

    def demo_scores(extra: list[str]) -> tuple[Path, float]:
        out = demo_work / f"scores-{len(extra)}-{time.monotonic_ns()}"
        seconds, _ = run([ours.cli, "scores", "--model", demo / "model", "--factors", demo / "factors", "--train", demo / "documents.jsonl",
                          "--queries", demo / "queries.jsonl", "--out", out] + extra)
        return out, seconds

    demo_dir, demo_seconds = demo_scores([])
    demo_reference = dense(demo_dir)
    figures["recall_demo"] = recall_table(ours.cli, demo / "model", demo / "documents.jsonl", demo / "queries.jsonl", demo_reference,
                                          lambda file: demo_scores(["--candidates", str(file)])[1], demo_work, "demo", demo_seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--influence", type=Path, default=REPO / ".build" / "release" / "influence")
    parser.add_argument("--train-rows", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=512)
    parser.add_argument("--sections", default="ranks,kronfluence,recall")
    parser.add_argument("--demo-dir", type=Path, default=REPO / "cache" / "demo")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the fit and the full-rank scores already in --work-dir (from an earlier ranks section)")
    parser.add_argument("--all-pairs-seconds", type=float,
                        help="with --reuse: the time of scoring every pair at rank 32 measured by the ranks section, for the recall table")
    args = parser.parse_args()
    sections = set(s.strip() for s in args.sections.split(","))
    if not args.influence.exists():
        parser.error(f"{args.influence} does not exist; build it in release mode")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="many-queries-"))
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"{cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}; work dir {work}")
    model, train, queries = make_workload(work, args.train_rows, args.queries)
    print(f"GPT-2 4×256, context 128, vocabulary 4096 (random weights); {args.train_rows} training sequences and {args.queries} queries "
          f"of 128 random tokens; EK-FAC on the MLP layers, empirical Fisher, damping auto, batches of 16")
    ours = Ours(args.influence, model, train, queries, work)
    figures: dict = {"cpu": cpu_name(), "train_rows": args.train_rows, "queries": args.queries}
    reference = None
    reusing = args.reuse and (ours.factors / "factors.safetensors").exists() and (work / "ours-scores-full").exists()
    if sections & {"ranks", "recall"} and not reusing:
        figures["ours_fit_seconds"] = ours.fit()
        print(f"ours fit: {figures['ours_fit_seconds']:.1f} s", flush=True)
    if "ranks" in sections:
        reference = section_ranks(ours, figures)
    if "kronfluence" in sections:
        section_kronfluence(model, train, queries, reference, args.influence, work, figures)
    if "recall" in sections:
        if reference is None:
            reference = dense(work / "ours-scores-full") if reusing else dense(ours.scores("full", ["--query-chunk", "128"])[0])
        section_recall(ours, reference, args.demo_dir, figures, all_pairs_seconds=args.all_pairs_seconds if reusing else None)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
