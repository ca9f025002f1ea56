#!/usr/bin/env python3
"""swift-influence beside Kronfluence on the same FashionMNIST CNN, data and options: parity of the
EK-FAC (and K-FAC) scores and the wall time of fit and scores, as ratios measured in one run.

Kronfluence (the reference implementation of Grosse et al. 2023) is used as a library: nothing of it
is copied into swift-influence. Outside CI; scripts/compare/cnn sets up the environment and runs it.

What it does
  1. Trains a CNN with `influence train --architecture cnn --dataset fashion-mnist` (or takes
     --model DIR) and loads it into PyTorch with scripts/fixtures/cnn_torch.py (nn.Sequential named
     `layers`, the state dict read from model.safetensors as it is: [out, in, kh, kw]).
  2. Preflight: `influence loss` on the query images against the PyTorch model's cross-entropy,
     row by row (same pixels, scaled by 1/255, same forward pass).
  3. A Kronfluence Task with swift-influence's ClassificationTask conventions: training loss =
     summed cross-entropy of the data's labels (empirical Fisher) or of labels drawn from the
     model's softmax (sampled); measurement = summed cross-entropy of the query's label; tracked =
     every Conv2d and Linear (Kronfluence's KFC: patches unfolded as rows, A and S divided by
     examples × positions, Λ by examples — as ours).
  4. Runs Kronfluence's fit_all_factors and compute_pairwise_scores (float32, CPU) and ours
     (`influence fit` and `influence scores`, separate processes, timed whole: model and data
     loading included on our side, not on theirs), one after the other, after an untimed warm-up
     of each.
  5. Prints the CPU, then per strategy and Fisher: Pearson and Spearman over all (query, train)
     pairs, max |ours − theirs| / max |theirs|, and fit and score seconds with the ratio
     theirs / ours (above 1: ours is faster).

Exit status 0 when EK-FAC with the empirical Fisher agrees (Pearson ≥ 0.999), 1 otherwise, 2 on a
preflight failure.

Usage: python scripts/compare/cnn_compare.py [--model DIR] [--train-rows 2048] [--queries 16]
       [--batch-size 64] [--damping 0.01] [--strategies ekfac,kfac] [--fishers empirical]
       [--influence .build/release/influence] [--work-dir DIR] [--json FIGURES.json]
"""
import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "fixtures"))
sys.path.insert(0, str(ROOT / "scripts" / "compare"))
from cnn_torch import load as load_cnn  # noqa: E402
from pydvl_compare import fashion_rows  # noqa: E402  (the first images, scaled by 1/255 as the CLI scales them)


def cpu_description() -> str:
    name, flags = platform.processor() or "unknown CPU", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name in ("", "unknown CPU", platform.processor()):
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    flags = [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni") if x in present]
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, {' '.join(flags) or 'no AVX2'}"


def run(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def load_scores(path: Path) -> np.ndarray:
    from safetensors.numpy import load_file
    return load_file(str(path))["all_modules"].astype(np.float64)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--train-rows", type=int, default=2048)
    parser.add_argument("--queries", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--damping", default="0.01")
    parser.add_argument("--strategies", default="ekfac,kfac")
    parser.add_argument("--fishers", default="empirical")
    parser.add_argument("--influence", type=Path, default=ROOT / ".build/release/influence")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cli = str(args.influence)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="cnn-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_description()}; torch {torch.__version__} ({torch.get_num_threads()} threads)")

    model_dir = args.model
    if model_dir is None:
        model_dir = work / "cnn"
        if not (model_dir / "model.safetensors").exists():
            run([cli, "train", "--architecture", "cnn", "--dataset", "fashion-mnist", "--max-examples", "8192", "--steps", "400",
                 "--batch-size", "64", "--learning-rate", "0.003", "--out", str(model_dir)])
    model = load_cnn(model_dir)
    tracked = [name for name, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    parameters = sum(p.numel() for p in model.parameters())
    train_x, train_y = fashion_rows("train", args.train_rows)
    query_x, query_y = fashion_rows("test", args.queries)
    print(f"model: {model_dir} ({parameters} parameters; tracked {', '.join(tracked)}); {args.train_rows} training images, "
          f"{args.queries} queries, batch {args.batch_size}, damping {args.damping}")

    # Preflight: the same forward pass and loss on the same pixels.
    _, stdout = run([cli, "loss", "--model", str(model_dir), "--data", "fashion-mnist:test", "--max-examples", str(args.queries)])
    ours_loss = [json.loads(line)["loss"] for line in stdout.splitlines() if line.startswith("{")]
    with torch.no_grad():
        theirs_loss = F.cross_entropy(model(query_x), query_y, reduction="none").tolist()
    worst = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(ours_loss, theirs_loss))
    print(f"preflight: {len(ours_loss)} query losses, largest relative difference {worst:.2e}")
    if len(ours_loss) != args.queries or worst > 1e-4:
        print("preflight failed: the models or the data differ")
        return 2

    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task

    class Classification(Task):
        def compute_train_loss(self, batch, model, sample=False):
            x, y = batch
            logits = model(x)
            if sample:
                with torch.no_grad():
                    y = torch.multinomial(torch.softmax(logits.detach(), dim=-1), num_samples=1).flatten()
            return F.cross_entropy(logits, y, reduction="sum")

        def compute_measurement(self, batch, model):
            x, y = batch
            return F.cross_entropy(model(x), y, reduction="sum")

        def get_influence_tracked_modules(self):
            return tracked

    train_set = torch.utils.data.TensorDataset(train_x, train_y)
    query_set = torch.utils.data.TensorDataset(query_x, query_y)
    task = Classification()
    prepared = prepare_model(model, task)
    analyzer = Analyzer(analysis_name="cnn", model=prepared, task=task, cpu=True, disable_tqdm=True, output_dir=str(work / "kronfluence"),
                        log_level=logging.WARNING)

    def theirs(strategy: str, fisher: str, rows=None, tag=None):
        tag = tag or f"{strategy}-{fisher}"
        data = train_set if rows is None else torch.utils.data.Subset(train_set, range(rows))
        factor_args = FactorArguments(strategy=strategy, use_empirical_fisher=(fisher == "empirical"))
        started = time.perf_counter()
        analyzer.fit_all_factors(factors_name=tag, dataset=data, per_device_batch_size=args.batch_size, factor_args=factor_args,
                                 overwrite_output_dir=True)
        fit = time.perf_counter() - started
        started = time.perf_counter()
        analyzer.compute_pairwise_scores(scores_name=tag, factors_name=tag, query_dataset=query_set, train_dataset=data,
                                         per_device_query_batch_size=args.queries, per_device_train_batch_size=args.batch_size,
                                         score_args=ScoreArguments(damping_factor=float(args.damping)), overwrite_output_dir=True)
        score = time.perf_counter() - started
        return analyzer.load_pairwise_scores(scores_name=tag)["all_modules"].double().numpy(), fit, score

    def ours(strategy: str, fisher: str, rows=None, tag=None):
        tag = tag or f"{strategy}-{fisher}"
        rows = rows or args.train_rows
        factors, scores = work / "ours" / f"factors-{tag}", work / "ours" / f"scores-{tag}"
        for d in (factors, scores):
            shutil.rmtree(d, ignore_errors=True)
        fit, _ = run([cli, "fit", "--model", str(model_dir), "--data", "fashion-mnist:train", "--max-examples", str(rows),
                      "--strategy", strategy, "--fisher", fisher, "--batch-size", str(args.batch_size), "--out", str(factors)])
        score, _ = run([cli, "scores", "--model", str(model_dir), "--factors", str(factors), "--train", "fashion-mnist:train",
                        "--queries", "fashion-mnist:test", "--max-examples", str(rows), "--max-queries", str(args.queries),
                        "--damping", args.damping, "--batch-size", str(args.batch_size), "--query-chunk", str(args.queries),
                        "--out", str(scores)])
        return load_scores(scores / "pairwise_scores.safetensors"), fit, score

    # Untimed warm-ups (library loading, first allocations, page cache).
    theirs("ekfac", "empirical", rows=128, tag="warm-up")
    ours("ekfac", "empirical", rows=128, tag="warm-up")

    figures, ok = [], True
    for fisher in args.fishers.split(","):
        for strategy in args.strategies.split(","):
            mine, our_fit, our_score = ours(strategy, fisher)
            reference, their_fit, their_score = theirs(strategy, fisher)
            pearson = float(np.corrcoef(mine.ravel(), reference.ravel())[0, 1])
            relative = float(np.abs(mine - reference).max() / np.abs(reference).max())
            row = dict(strategy=strategy, fisher=fisher, pearson=pearson, spearman=spearman(mine, reference), max_relative=relative,
                       ours_fit=our_fit, theirs_fit=their_fit, ours_scores=our_score, theirs_scores=their_score)
            figures.append(row)
            if strategy == "ekfac" and fisher == "empirical" and pearson < 0.999:
                ok = False
    print()
    print("| strategy | Fisher | Pearson | Spearman | max rel. diff | fit: Kronfluence / ours (s) | ratio | scores: Kronfluence / ours (s) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in figures:
        print(f"| {r['strategy']} | {r['fisher']} | {r['pearson']:.6f} | {r['spearman']:.6f} | {r['max_relative']:.1e} | "
              f"{r['theirs_fit']:.2f} / {r['ours_fit']:.2f} | {r['theirs_fit'] / r['ours_fit']:.2f}× | "
              f"{r['theirs_scores']:.2f} / {r['ours_scores']:.2f} | {r['theirs_scores'] / r['ours_scores']:.2f}× |")
    if args.json:
        args.json.write_text(json.dumps(dict(cpu=cpu_description(), parameters=parameters, rows=args.train_rows, queries=args.queries,
                                             figures=figures), indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
