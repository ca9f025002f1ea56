#!/usr/bin/env python3
"""Compare swift-influence's classical solvers with pyDVL's on the same MLP, data and options.

pyDVL (https://github.com/aai-institute/pyDVL) is used as a library: nothing of it is copied into
swift-influence. This script is not part of CI; run it by hand after changes to the solvers.

What it does
  1. Trains an MLP classifier on the first --train-rows FashionMNIST training images with the
     swift-influence CLI (`influence train --model-type mlp`), unless --model names one.
  2. Loads its model.safetensors into an equivalent torch nn.Sequential (Linear, activation,
     Linear, ...), reads the same rows from Debian's IDX files (pixels / 255 in float32, as the
     CLI) and checks the conventions first: `influence loss` on the query rows must give torch's
     per-row cross-entropy (exit 2 otherwise).
  3. Builds the dense Hessian of the mean training loss in float64 with pyDVL's `hessian` (or,
     with --curvature fisher, the empirical Fisher from per-row gradients) and prints its extreme
     eigenvalues: H + λI must be positive definite for the exact and CG solves (exit 2
     otherwise, with the damping that would do). The float64 exact solve from per-row gradients
     is every method's reference ("~exact").
  4. For each method, pyDVL's influences(x_test, y_test, x_train, y_train, mode=up) against
     `influence scores --strategy … --curvature hessian --damping λ` on the same rows:
       direct   DirectInfluence(regularization=λ)                   vs --strategy exact
       cg       CgInfluence(rtol, atol=0, solve_simultaneously)       vs --strategy cg
       lissa    LissaInfluence(scale, maxiter=depth, rtol=0) with a   vs --strategy lissa
                full-batch loader: the deterministic recursion          (--lissa-batch = rows)
       lissa-mb the same with mini-batches of --lissa-batch rows      vs the same (different
                                                                          random batches)
       arnoldi  ArnoldiInfluence(rank, krylov_dimension)              vs --strategy arnoldi
                                                                        --arnoldi-order magnitude
     and prints Pearson, Spearman, max |ours − theirs| / max |theirs|, the least-squares scale of
     ours on theirs, each side's Pearson with the float64 exact solve (for Arnoldi also with the
     float64 rank-k spectral solve it approximates), and the wall times (ours:
     the solve and scoring as reported by the CLI, and the whole process; pyDVL: fit +
     influences).

Conventions that must (and do) match
  sign          pyDVL's "up" influence is ⟨H⁻¹∇ℓ(test), ∇ℓ(train)⟩ with no minus sign; ours is
                ∇f(z_q)ᵀ (H + λI)⁻¹ ∇L(z_m). Both: positive means the training row supports the
                query (up-weighting it lowers the query's loss).
  normalisation pyDVL's loss is F.cross_entropy with reduction "mean"; its Hessian is the mean
                over training rows, its gradients are per row (a batch of one). Ours: H of the
                mean training loss, per-example gradients of the summed loss: the same.
  regularization pyDVL adds λ to the Hessian-vector product (H + λI), as our --damping.
  LiSSA         both iterate x ← b + x − (H_batch + λI) x / s and return x / s (pyDVL with
                dampen = 0); pyDVL stops early at rtol, so rtol = 0 runs the full depth.
  Arnoldi       both apply V diag(1/(μ + λ)) Vᵀ on `rank` eigenpairs (pyDVL's default
                use_woodbury=False). pyDVL keeps the eigenvalues largest in absolute value (ARPACK
                "LM"), which for an indefinite Hessian includes its most negative directions; ours
                keeps the largest by default, so the comparison passes --arnoldi-order magnitude.
                pyDVL runs ARPACK's restarted Lanczos to tolerance, ours one Lanczos run of
                --arnoldi-krylov steps with full reorthogonalisation.
  Gauss–Newton  pyDVL's SecondOrderMode.GAUSS_NEWTON is the empirical Fisher (mean of per-row
                gradient outer products): our --curvature fisher, not our --curvature ggn
                (Jᵀ(∇²_z ℓ)J, the true Fisher for cross-entropy). --curvature fisher compares
                those. pyDVL 0.10's dense gauss_newton (used by DirectInfluence) divides the sum
                of its batches' matrices by (batches − 1) × parameters instead of the number of
                rows, so its "direct" row then differs by that factor (the scale column shows it)
                while the operator-based CG, LiSSA and Arnoldi average correctly.

Requirements
  python ≥ 3.10 with torch, numpy, scipy, safetensors and pydvl 0.10 (`pip install pydvl
  distributed`); the Debian package dataset-fashion-mnist (scripts/setup installs it); the
  swift-influence CLI built in release mode (`swift build -c release -Xswiftc -cross-module-optimization`).

Usage
  python scripts/compare/pydvl_compare.py [--model DIR] [--train-rows 1000] [--queries 10]
      [--hidden 8] [--damping 0.2] [--methods direct,cg,lissa,lissa-mb,arnoldi]
      [--lissa-scale S] [--lissa-depth 500] [--lissa-batch 100] [--arnoldi-rank 50]
      [--arnoldi-krylov 150] [--work-dir DIR] [--influence PATH] [--json FIGURES.json]

Exit status: 0 when every deterministic method agrees (Pearson ≥ 0.999 for direct, cg, lissa and
arnoldi), 1 when one does not, 2 on a conventions or positive-definiteness failure.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file as load_numpy
from scipy import stats
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

REPO = Path(__file__).resolve().parents[2]
FASHION = Path("/usr/share/datasets/fashion-mnist")
DETERMINISTIC = {"direct", "cg", "lissa", "arnoldi"}
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "silu": nn.SiLU,
               "gelu": lambda: nn.GELU(approximate="none"), "gelu_new": lambda: nn.GELU(approximate="tanh")}


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path) as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def fashion_rows(split: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(FASHION / f"{prefix}-images-idx3-ubyte.gz")[:count]
    labels = read_idx(FASHION / f"{prefix}-labels-idx1-ubyte.gz")[:count]
    x = images.reshape(len(images), -1).astype(np.float32) * np.float32(1 / 255)
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


def load_mlp(directory: Path) -> nn.Sequential:
    config = json.loads((directory / "config.json").read_text())
    if config.get("model_type") != "mlp" or config.get("task") != "classification":
        raise SystemExit(f"{directory} is not an MLP classifier directory")
    sizes, weights = config["sizes"], load_numpy(str(directory / "model.safetensors"))
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        linear = nn.Linear(sizes[i], sizes[i + 1])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weights[f"layers.{i}.weight"]))
            linear.bias.copy_(torch.from_numpy(weights[f"layers.{i}.bias"]))
        layers.append(linear)
        if i + 2 < len(sizes):
            layers.append(ACTIVATIONS[config["activation"]]())
    return nn.Sequential(*layers).eval()


def per_row_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇ of F.cross_entropy on each row alone, flat over model.parameters(): [rows, parameters]."""
    rows = []
    for i in range(len(y)):
        model.zero_grad()
        F.cross_entropy(model(x[i: i + 1]), y[i: i + 1]).backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    model.zero_grad()
    return torch.stack(rows)


def run(command: list[str]) -> tuple[str, float]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout, elapsed


def reported_seconds(stdout: str) -> float:
    """The 'scored … in X s' figure of `influence scores` (the solve and scoring, not loading)."""
    for line in stdout.splitlines():
        if line.startswith("scored ") and " in " in line:
            return float(line.split(" in ")[1].split(" s")[0])
    return math.nan


def compare(ours: np.ndarray, theirs: np.ndarray) -> dict:
    a, b = ours.ravel().astype(np.float64), theirs.ravel().astype(np.float64)
    return {
        "pearson": float(stats.pearsonr(a, b)[0]),
        "spearman": float(stats.spearmanr(a, b)[0]),
        "max_rel_diff": float(np.abs(a - b).max() / np.abs(b).max()),
        "scale": float(a @ b / (b @ b)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="an MLP classifier directory (default: train one)")
    parser.add_argument("--train-rows", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--hidden", default="8")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--damping", type=float, default=0.2)
    parser.add_argument("--curvature", choices=["hessian", "fisher"], default="hessian",
                        help="hessian: pyDVL's HESSIAN mode vs ours; fisher: pyDVL's GAUSS_NEWTON mode (the empirical Fisher) vs --curvature fisher")
    parser.add_argument("--methods", default="direct,cg,lissa,lissa-mb,arnoldi")
    parser.add_argument("--cg-tolerance", type=float, default=1e-6)
    parser.add_argument("--lissa-scale", type=float, help="default: 1.2 × the largest eigenvalue of H + λI")
    parser.add_argument("--lissa-depth", type=int, default=500)
    parser.add_argument("--lissa-batch", type=int, default=100)
    parser.add_argument("--arnoldi-rank", type=int, default=50)
    parser.add_argument("--arnoldi-krylov", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=100, help="rows per curvature batch on both sides")
    parser.add_argument("--curvature-batch", type=int, help="our --curvature-batch (default: --batch-size, as pyDVL)")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--influence", type=Path, default=REPO / ".build/release/influence")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    logging.getLogger("pydvl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(int(os.environ.get("INFLUENCE_NUM_THREADS", "2")))

    from pydvl.influence import InfluenceMode
    from pydvl.influence.torch import ArnoldiInfluence, CgInfluence, DirectInfluence, LissaInfluence
    from pydvl.influence.torch.functional import hessian
    from pydvl.influence.torch.util import SecondOrderMode

    if not args.influence.exists():
        raise SystemExit(f"{args.influence} does not exist; run `swift build -c release -Xswiftc -cross-module-optimization` first")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="pydvl-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    influence = str(args.influence)
    model_dir = args.model
    if model_dir is None:
        model_dir = work / "model"
        if not (model_dir / "model.safetensors").exists():
            print(f"training an MLP {args.hidden} on {args.train_rows} FashionMNIST rows …", flush=True)
            run([influence, "train", "--model-type", "mlp", "--dataset", "fashion-mnist", "--hidden", args.hidden,
                 "--max-examples", str(args.train_rows), "--epochs", str(args.epochs), "--learning-rate", "0.003",
                 "--out", str(model_dir)])
    model = load_mlp(model_dir)
    x_train, y_train = fashion_rows("train", args.train_rows)
    x_test, y_test = fashion_rows("test", args.queries)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"model {model_dir}: {parameters} parameters; {len(y_train)} training rows, {len(y_test)} queries; λ = {args.damping}")

    # 1. Conventions: per-row losses.
    out, _ = run([influence, "loss", "--model", str(model_dir), "--data", "fashion-mnist:test", "--max-examples", str(args.queries)])
    ours_loss = np.array([json.loads(line)["loss"] for line in out.splitlines()])
    with torch.no_grad():
        theirs_loss = F.cross_entropy(model(x_test), y_test, reduction="none").numpy()
    loss_diff = float(np.abs(ours_loss - theirs_loss).max())
    print(f"preflight: per-row losses max |Δ| = {loss_diff:.2e}")
    if loss_diff > 1e-4:
        print("conventions differ: the models or data do not match", file=sys.stderr)
        return 2

    # 2. The Hessian's spectrum, and the float64 exact solve (the reference for every method).
    model64 = load_mlp(model_dir).double()
    started = time.perf_counter()
    if args.curvature == "hessian":
        h = hessian(model64, F.cross_entropy, DataLoader(TensorDataset(x_train.double(), y_train), batch_size=args.batch_size))
    else:  # the empirical Fisher from per-row gradients, written out here (pyDVL's dense gauss_newton is not used: see below)
        rows = per_row_gradients(model64, x_train.double(), y_train)
        h = rows.T @ rows / len(y_train)
    eigenvalues = torch.linalg.eigvalsh(h)
    low, high = float(eigenvalues[0]), float(eigenvalues[-1])
    by_magnitude = torch.argsort(eigenvalues.abs(), descending=True)[: args.arnoldi_rank]
    print(f"{args.curvature} (float64, {time.perf_counter() - started:.1f} s): eigenvalues {low:.4g} … {high:.4g}, "
          f"{int((eigenvalues < 0).sum())} negative, {int((eigenvalues[by_magnitude] < 0).sum())} of them among the "
          f"{args.arnoldi_rank} largest in absolute value")
    if low + args.damping <= 0:
        print(f"H + λI is not positive definite: use --damping above {-low:.4g}", file=sys.stderr)
        return 2
    # The float64 exact solve, written out: g_qᵀ (H + λI)⁻¹ g_m.
    queries64 = per_row_gradients(model64, x_test.double(), y_test)
    train64 = per_row_gradients(model64, x_train.double(), y_train)
    damped = h + args.damping * torch.eye(h.shape[0], dtype=h.dtype)
    exact64 = (torch.linalg.solve(damped, queries64.T).T @ train64.T).numpy()
    # Arnoldi's target: the rank-k spectral solve on the eigenpairs largest in absolute value.
    values, vectors = torch.linalg.eigh((h + h.T) / 2)
    top = torch.argsort(values.abs(), descending=True)[: args.arnoldi_rank]
    v, mu = vectors[:, top], values[top] + args.damping
    lowrank64 = (((queries64 @ v) / mu) @ (train64 @ v).T).numpy()
    scale = args.lissa_scale or 1.2 * (high + args.damping)

    def loader(batch: int) -> DataLoader:
        return DataLoader(TensorDataset(x_train, y_train), batch_size=batch)

    def ours(name: str, extra: list[str]) -> tuple[np.ndarray, float, float]:
        directory = work / f"ours-{name}"
        shutil.rmtree(directory, ignore_errors=True)
        stdout, wall = run([influence, "scores", "--model", str(model_dir), "--curvature", args.curvature, "--damping", str(args.damping),
                            "--train", "fashion-mnist:train", "--max-examples", str(args.train_rows), "--queries", "fashion-mnist:test",
                            "--max-queries", str(args.queries), "--batch-size", str(args.batch_size), "--curvature-batch", str(args.curvature_batch or args.batch_size),
                            "--out", str(directory)] + extra)
        scores = load_numpy(str(directory / "pairwise_scores.safetensors"))["all_modules"]
        return scores, reported_seconds(stdout), wall

    mode = SecondOrderMode.HESSIAN if args.curvature == "hessian" else SecondOrderMode.GAUSS_NEWTON
    methods = {
        "direct": (lambda: DirectInfluence(model, F.cross_entropy, regularization=args.damping, second_order_mode=mode), args.batch_size,
                   ["--strategy", "exact"]),
        "cg": (lambda: CgInfluence(model, F.cross_entropy, regularization=args.damping, rtol=args.cg_tolerance, atol=0.0,
                                   maxiter=2 * parameters, solve_simultaneously=True, warn_on_max_iteration=False,
                                   second_order_mode=mode), args.batch_size,
               ["--strategy", "cg", "--cg-tolerance", str(args.cg_tolerance)]),
        "lissa": (lambda: LissaInfluence(model, F.cross_entropy, regularization=args.damping, maxiter=args.lissa_depth, scale=scale,
                                         rtol=0.0, warn_on_max_iteration=False, second_order_mode=mode), args.train_rows,
                  ["--strategy", "lissa", "--lissa-scale", str(scale), "--lissa-depth", str(args.lissa_depth),
                   "--lissa-batch", str(args.train_rows)]),
        "lissa-mb": (lambda: LissaInfluence(model, F.cross_entropy, regularization=args.damping, maxiter=args.lissa_depth, scale=scale,
                                            rtol=0.0, warn_on_max_iteration=False, second_order_mode=mode), args.lissa_batch,
                     ["--strategy", "lissa", "--lissa-scale", str(scale), "--lissa-depth", str(args.lissa_depth),
                      "--lissa-batch", str(args.lissa_batch)]),
        "arnoldi": (lambda: ArnoldiInfluence(model, F.cross_entropy, regularization=args.damping, rank=args.arnoldi_rank,
                                             krylov_dimension=args.arnoldi_krylov, second_order_mode=mode), args.batch_size,
                    ["--strategy", "arnoldi", "--arnoldi-rank", str(args.arnoldi_rank), "--arnoldi-krylov", str(args.arnoldi_krylov),
                     "--arnoldi-order", "magnitude"]),
    }
    figures: dict = {"curvature": args.curvature, "parameters": parameters, "train_rows": args.train_rows, "queries": args.queries, "damping": args.damping,
                     "hessian_eigenvalues": [low, high], "loss_max_abs_diff": loss_diff, "lissa_scale": scale, "methods": {}}
    header = f"{'method':9} {'Pearson':>9} {'Spearman':>9} {'max rel Δ':>10} {'scale':>7} {'ours~exact':>11} {'pyDVL~exact':>12} " \
             f"{'ours s':>7} {'(process)':>9} {'pyDVL s':>8}"
    print(header)
    failed = False
    for name in [m.strip() for m in args.methods.split(",") if m.strip()]:
        if name not in methods:
            raise SystemExit(f"unknown method {name!r} (available: {', '.join(methods)})")
        make, batch, extra = methods[name]
        torch.manual_seed(0)
        started = time.perf_counter()
        estimator = make().fit(loader(batch))
        theirs = estimator.influences(x_test, y_test, x_train, y_train, mode=InfluenceMode.Up).detach().numpy()
        theirs_seconds = time.perf_counter() - started
        mine, mine_seconds, mine_wall = ours(name, extra)
        row = compare(mine, theirs)
        row.update({"ours_vs_exact64": compare(mine, exact64)["pearson"], "pydvl_vs_exact64": compare(theirs, exact64)["pearson"],
                    "ours_seconds": mine_seconds, "ours_process_seconds": mine_wall, "pydvl_seconds": theirs_seconds})
        if name == "arnoldi":
            row.update({"ours_vs_rank_k64": compare(mine, lowrank64)["pearson"], "pydvl_vs_rank_k64": compare(theirs, lowrank64)["pearson"]})
        figures["methods"][name] = row
        print(f"{name:9} {row['pearson']:9.6f} {row['spearman']:9.6f} {row['max_rel_diff']:10.2e} {row['scale']:7.4f} "
              f"{row['ours_vs_exact64']:11.6f} {row['pydvl_vs_exact64']:12.6f} {mine_seconds:7.2f} {mine_wall:9.2f} {theirs_seconds:8.2f}",
              flush=True)
        if name == "arnoldi":
            print(f"{'':9} against the float64 rank-{args.arnoldi_rank} spectral solve: ours {row['ours_vs_rank_k64']:.6f}, "
                  f"pyDVL {row['pydvl_vs_rank_k64']:.6f}")
        if name in DETERMINISTIC and row["pearson"] < 0.999:
            failed = True
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
