#!/usr/bin/env python3
"""Compare swift-influence's scores with Kronfluence's on the same language model, data and options.

Kronfluence (https://github.com/pomonam/kronfluence, the reference implementation of Grosse et al.
2023) is used as a library: nothing of it is copied into swift-influence. This script is not part
of CI; run it by hand after changes to the influence engine.

Model families (config.json's model_type)
  gpt2                    GPT2LMHeadModel. Its Linear layers are transformers' Conv1D (y = x W + b,
                          W [in, out]); the tracked ones are replaced by equivalent nn.Linear
                          modules (weight transposed), because Kronfluence tracks nn.Linear only,
                          and the logits are checked to be unchanged. --modules mlp tracks
                          transformer.h.*.mlp.c_fc and c_proj (with biases).
  llama, mistral, qwen2   AutoModelForCausalLM (LlamaForCausalLM, ...). The layers are nn.Linear
                          already; --modules mlp tracks model.layers.*.mlp.gate_proj, up_proj and
                          down_proj (no biases unless mlp_bias).
  gpt_neox (Pythia)       AutoModelForCausalLM (GPTNeoXForCausalLM), nn.Linear already; --modules
                          mlp tracks gpt_neox.layers.*.mlp.dense_h_to_4h and dense_4h_to_h (biases).
  All are loaded in float32, eval mode, eager attention. The tracked modules are exactly the ones
  `influence fit --modules GROUP` reports ("modules: ..." of an identity fit, checked again on every
  fit); each must be an nn.Linear (after the Conv1D swap for GPT-2) of the PyTorch model. The
  context length is n_positions (GPT-2, default 1024) or max_position_embeddings (default 2048);
  the padding id is pad_token_id, else eos_token_id, else 0 (the first of a list), as the CLI's.

What it does
  1. Loads the model in DIR with transformers as above and finds the tracked modules.
  2. Tokenises the rows with DIR/tokenizer.json (tokenizers library) like the CLI does: text rows
     encode(text) truncated to the context length; query rows encode(prompt) + encode(completion)
     (both with the tokenizer's post-processor template, as the CLI's encode), only the
     completion's targets measured. A preflight runs `influence loss` on the same rows and checks,
     row by row, the token counts and summed losses against the PyTorch model (conventions first).
  3. Defines a Kronfluence Task with swift-influence's LanguageModelingTask conventions:
       training loss  = Σ over examples and target positions t ≥ 1 of −log p(x_t | x_<t)
                        (reduction "sum", padding targets ignored via −100; right padding with
                        the padding id above and an attention mask),
       sampled labels = one draw per position, torch.multinomial(softmax(logits).detach()),
                        padding targets still ignored,
       measurement    = the same summed loss over the completion targets only,
       tracked        = the Linear layers of --modules (default mlp), attention mask = the batch's mask.
  4. Runs Kronfluence fit_all_factors (FactorArguments(strategy, use_empirical_fisher); no AMP,
     float32 covariances and Λ, float64 eigendecomposition: Kronfluence's defaults) and
     compute_pairwise_scores (ScoreArguments(damping_factor=None for "auto", else the number)).
  5. Runs `influence fit` (--modules as given) and `influence scores` with the same options into the
     work directory.
  6. Prints, per strategy and Fisher, Pearson and Spearman over all (query, train) pairs, the
     smallest per-query Pearson, max |ours − theirs| / max |theirs| (empirical Fisher only: sampled
     labels come from different random streams), the least-squares scale of ours on theirs, and the
     wall times of both sides (ours: the CLI process, including model loading; Kronfluence: the
     library calls), plus a comparison of the fitted factors (A, S, eigenvalues, Λ, counts).
     For the sampled Fisher with EK-FAC it also measures each side against itself with another
     seed (the Monte-Carlo noise floor), unless --no-noise-floor.

Exit status: 0 when EK-FAC agrees (Pearson ≥ 0.999 with the empirical Fisher, ≥ 0.98 with sampled
labels), 1 when it does not, 2 on a preflight (conventions) failure: a module the PyTorch model
lacks, a Linear swap that changes the logits, or a row whose token count or summed loss differs.

Conventions that must (and do) match; see Sources/Influence/*.swift and DESIGN.md §2:
  sign          Kronfluence's pairwise score is ∇f(z_q)ᵀ (H + λI)⁻¹ ∇L(z_m), as ours: positive
                means the training row supports the query (lowers its loss).
  bias column   ā = [a; 1] appended last; gradients are [out, in + 1].
  averaging     A and S are divided by the number of real (unmasked) tokens, Λ by the number of
                examples; damping "auto" = 0.1 × mean(Λ) per module (mean(λ_S λ_Aᵀ) for K-FAC).
  masking       padded rows of ā are zeroed (the output gradients there are zero anyway).

Requirements
  python ≥ 3.10 with torch, transformers (≥ 4.40; tested with 5.x), tokenizers, safetensors,
  numpy, scipy and kronfluence 1.0.x (`pip install kronfluence`); the swift-influence CLI built
  in release mode (`swift build -c release -Xswiftc -cross-module-optimization`, default path .build/release/influence).

Usage
  python scripts/compare/kronfluence_compare.py --model /tmp/lm --train /tmp/train.jsonl \\
      --queries /tmp/queries.jsonl [--modules mlp] [--batch-size 8] [--strategies ekfac,kfac,diagonal,identity] \\
      [--fishers empirical,sampled] [--damping auto] [--work-dir DIR] [--influence PATH] \\
      [--repeats N] [--no-noise-floor] [--no-factors] [--json FIGURES.json]
  Models and data to try it on (--architecture gpt2, the default, llama or gpt_neox):
      influence train --corpus fortunes --out /tmp/lm --steps 200 --layers 2 --width 64 \\
          --context 64 --vocab-size 1024
      influence train --architecture llama --corpus fortunes --out /tmp/llama --steps 300 \\
          --layers 2 --width 64 --heads 4 --kv-heads 2 --context 64 --vocab-size 1024
      influence train --architecture gpt_neox --corpus fortunes --out /tmp/pythia --steps 300 \\
          --layers 2 --width 64 --heads 4 --context 64 --vocab-size 1024
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file as load_numpy
from scipy import stats
from tokenizers import Tokenizer
from torch import nn
from torch.utils import data

REPO = Path(__file__).resolve().parents[2]
EKFAC_THRESHOLDS = {"empirical": 0.999, "sampled": 0.98}
LLAMA_TYPES = ("llama", "mistral", "qwen2")
MODEL_TYPES = ("gpt2",) + LLAMA_TYPES + ("gpt_neox",)
# What the CLI's "mlp" group must resolve to on the PyTorch side (Sources/NeuralNetworks/*:
# moduleGroups), as regular expressions over module names; checked against the CLI's list.
MLP_GROUPS = {
    "gpt2": r"transformer\.h\.\d+\.mlp\.(c_fc|c_proj)",
    **{t: r"model\.layers\.\d+\.mlp\.(gate_proj|up_proj|down_proj)" for t in LLAMA_TYPES},
    "gpt_neox": r"gpt_neox\.layers\.\d+\.mlp\.(dense_h_to_4h|dense_4h_to_h)",
}


# ---------------------------------------------------------------------------------------------
# Model and data


class ConventionError(Exception):
    """The two sides cannot be compared as they are (exit status 2)."""


@dataclass
class ModelInfo:
    """What the CLI reads from config.json (Sources/ModelIO/Families/*.swift)."""

    model_type: str
    layers: int
    width: int
    vocabulary: int
    context: int  # n_positions (GPT-2) or max_position_embeddings
    pad: int  # pad_token_id, else eos_token_id, else 0 (SpecialTokens.paddingID)


def token_id(config: dict, key: str) -> int | None:
    """HuggingFaceConfiguration.tokenID: an id, or the first of a list of ids."""
    value = config.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return int(value) if value is not None else None


def model_info(directory: Path) -> ModelInfo:
    config = json.loads((directory / "config.json").read_text())
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        raise SystemExit(f"{directory}/config.json: model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    pad = token_id(config, "pad_token_id")
    if pad is None:
        pad = token_id(config, "eos_token_id")
    if model_type == "gpt2":
        layers, width, context = config["n_layer"], config["n_embd"], config.get("n_positions", 1024)
    else:
        layers, width = config["num_hidden_layers"], config["hidden_size"]
        context = config.get("max_position_embeddings", 2048)
    return ModelInfo(model_type, layers, width, config["vocab_size"], context, pad if pad is not None else 0)


def from_pretrained(cls, directory: Path) -> nn.Module:
    try:
        model = cls.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager")
    except TypeError:  # transformers < 4.56 names it torch_dtype
        model = cls.from_pretrained(directory, torch_dtype=torch.float32, attn_implementation="eager")
    return model.eval()


def load_original(directory: Path, info: ModelInfo) -> nn.Module:
    """The Hugging Face model in float32/eval/eager, as transformers builds it."""
    if info.model_type == "gpt2":
        from transformers import GPT2LMHeadModel

        return from_pretrained(GPT2LMHeadModel, directory)
    from transformers import AutoModelForCausalLM

    return from_pretrained(AutoModelForCausalLM, directory)


def load_model(directory: Path, info: ModelInfo, tracked: list[str]) -> nn.Module:
    """The model with every tracked module an nn.Linear: GPT-2's Conv1D layers among them are
    replaced by equivalent nn.Linear modules; the other families' are nn.Linear already."""
    from transformers.pytorch_utils import Conv1D

    model = load_original(directory, info)
    modules = dict(model.named_modules())
    for name in tracked:
        if name not in modules:
            raise ConventionError(f"the CLI tracks {name}, which the PyTorch {type(model).__name__} does not have")
        module = modules[name]
        if isinstance(module, Conv1D):
            fan_in, fan_out = module.weight.shape  # Conv1D: y = x W + b with W [in, out]
            linear = nn.Linear(fan_in, fan_out, bias=module.bias is not None)
            with torch.no_grad():
                linear.weight.copy_(module.weight.t())
                if module.bias is not None:
                    linear.bias.copy_(module.bias)
            parent, _, attribute = name.rpartition(".")
            setattr(model.get_submodule(parent), attribute, linear.eval())
        elif not isinstance(module, nn.Linear):
            raise ConventionError(f"{name} is a {type(module).__name__}; Kronfluence tracks nn.Linear only")
    return model


def cli_modules(cli: Path, args, work: Path) -> list[str]:
    """The modules `influence fit --modules GROUP` tracks, from an identity fit's report."""
    out = work / "ours" / "modules-probe"
    shutil.rmtree(out, ignore_errors=True)
    _, stdout = run_cli([str(cli), "fit", "--model", str(args.model), "--data", str(args.train), "--strategy", "identity",
                         "--modules", args.modules, "--max-examples", "1", "--out", str(out)])
    return reported_modules(stdout)


def reported_modules(stdout: str) -> list[str]:
    for line in stdout.splitlines():
        if line.startswith("modules: "):
            return [m.strip() for m in line[len("modules: "):].split(",") if m.strip()]
    raise RuntimeError(f"`influence fit` printed no \"modules: ...\" line:\n{stdout[-2000:]}")


@dataclass
class Rows:
    sequences: list[list[int]]
    prompt_lengths: list[int]  # targets t < prompt length are not measured (0: all)
    texts: list[dict] = field(default_factory=list)


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tokenise_training(path: Path, tokenizer: Tokenizer, context: int) -> Rows:
    rows = read_jsonl(path)
    sequences = []
    for i, row in enumerate(rows):
        if "input_ids" in row:
            ids = list(row["input_ids"])
        elif "text" in row:
            ids = tokenizer.encode(row["text"]).ids
        else:
            raise SystemExit(f"{path}:{i + 1}: a row needs \"text\" or \"input_ids\"")
        sequences.append(ids[:context])
    return Rows(sequences, [0] * len(sequences), rows)


def tokenise_queries(path: Path, tokenizer: Tokenizer, context: int) -> Rows:
    rows = read_jsonl(path)
    sequences, prompts = [], []
    for i, row in enumerate(rows):
        if "prompt" in row or "completion" in row:
            # The completion continues the prompt: no template tokens (a BOS) before it, as the CLI.
            p, c = tokenizer.encode(row["prompt"]).ids, tokenizer.encode(row["completion"], add_special_tokens=False).ids
            ids, prompt = p + c, len(p)
        elif "input_ids" in row:
            ids, prompt = list(row["input_ids"]), 0
        else:
            ids, prompt = tokenizer.encode(row["text"]).ids, 0
        if len(ids) > context:  # the CLI refuses such queries rather than truncating them
            raise SystemExit(f"{path}:{i + 1}: the query has {len(ids)} tokens, more than the context {context}")
        sequences.append(ids)
        prompts.append(prompt)
    return Rows(sequences, prompts, rows)


class RowDataset(data.Dataset):
    def __init__(self, rows: Rows):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows.sequences)

    def __getitem__(self, index: int) -> tuple[list[int], int]:
        return self.rows.sequences[index], self.rows.prompt_lengths[index]


def make_collate(pad_token: int):
    """Right-pads a batch to its longest row with the eos token, like Batching.pad in Swift.

    labels[b, t] is the target of position t (predicted from the logits at t − 1): −100 for
    padding and for prompt targets (t < prompt length)."""

    def collate(items):
        length = max(len(ids) for ids, _ in items)
        batch = len(items)
        input_ids = torch.full((batch, length), pad_token, dtype=torch.long)
        attention_mask = torch.zeros((batch, length), dtype=torch.long)
        labels = torch.full((batch, length), -100, dtype=torch.long)
        for b, (ids, prompt) in enumerate(items):
            n = len(ids)
            input_ids[b, :n] = torch.tensor(ids, dtype=torch.long)
            attention_mask[b, :n] = 1
            labels[b, prompt:n] = input_ids[b, prompt:n]
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    return collate


# ---------------------------------------------------------------------------------------------
# Kronfluence task


def make_task(tracked: list[str]):
    from kronfluence.task import Task

    class LanguageModelingTask(Task):
        """swift-influence's LanguageModelingTask, written against Kronfluence's Task."""

        def _shifted(self, batch, model):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            logits = logits[:, :-1, :].float()
            return logits.reshape(-1, logits.size(-1)), batch["labels"][:, 1:].reshape(-1)

        def compute_train_loss(self, batch, model, sample: bool = False) -> torch.Tensor:
            logits, labels = self._shifted(batch, model)
            if sample:
                with torch.no_grad():
                    probabilities = torch.softmax(logits.detach(), dim=-1)
                    drawn = torch.multinomial(probabilities, num_samples=1).flatten()
                    labels = torch.where(labels == -100, labels, drawn)
            return F.cross_entropy(logits, labels, ignore_index=-100, reduction="sum")

        def compute_measurement(self, batch, model) -> torch.Tensor:
            # −log p(completion | prompt): the prompt's targets are −100 in the labels.
            logits, labels = self._shifted(batch, model)
            return F.cross_entropy(logits, labels, ignore_index=-100, reduction="sum")

        def get_influence_tracked_modules(self):
            return list(tracked)

        def get_attention_mask(self, batch):
            return batch["attention_mask"]

    return LanguageModelingTask()


# ---------------------------------------------------------------------------------------------
# The two sides


def run_cli(arguments: list[str]) -> tuple[float, str]:
    """Runs the CLI; returns its wall time and standard output."""
    started = time.perf_counter()
    result = subprocess.run(arguments, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return elapsed, result.stdout


@dataclass
class Side:
    scores: np.ndarray
    fit_seconds: float
    score_seconds: float
    factors_dir: Path


def fastest(runs: list[Side]) -> Side:
    """The last run's scores with the smallest fit and score times over the runs (every run of a
    side gives the same scores: fixed seeds)."""
    last = runs[-1]
    return Side(last.scores, min(r.fit_seconds for r in runs), min(r.score_seconds for r in runs), last.factors_dir)


def ours(cli: Path, args, strategy: str, fisher: str, work: Path, tracked: list[str], seed: int = 0) -> Side:
    tag = f"{strategy}-{fisher}" + (f"-seed{seed}" if seed else "")
    factors, scores = work / "ours" / f"factors-{tag}", work / "ours" / f"scores-{tag}"
    for d in (factors, scores):
        shutil.rmtree(d, ignore_errors=True)
    fit, stdout = run_cli([str(cli), "fit", "--model", str(args.model), "--data", str(args.train), "--strategy", strategy,
                           "--modules", args.modules, "--fisher", fisher, "--batch-size", str(args.batch_size),
                           "--seed", str(seed), "--out", str(factors)])
    if reported_modules(stdout) != tracked:
        raise RuntimeError(f"`influence fit` tracked {reported_modules(stdout)}, not {tracked}")
    score, _ = run_cli([str(cli), "scores", "--model", str(args.model), "--factors", str(factors), "--train", str(args.train),
                     "--queries", str(args.queries), "--damping", args.damping, "--batch-size", str(args.batch_size),
                     "--out", str(scores)])
    matrix = load_numpy(str(scores / "pairwise_scores.safetensors"))["all_modules"].astype(np.float64)
    return Side(matrix, fit, score, factors)


def theirs(analyzer, train_set, query_set, collate, args, strategy: str, fisher: str, seed: int = 0,
           tag: str | None = None) -> Side:
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.utils.dataset import DataLoaderKwargs

    tag = tag or f"{strategy}-{fisher}" + (f"-seed{seed}" if seed else "")
    loader = DataLoaderKwargs(collate_fn=collate)
    factor_args = FactorArguments(strategy=strategy, use_empirical_fisher=(fisher == "empirical"))
    damping = None if args.damping == "auto" else float(args.damping)
    score_args = ScoreArguments(damping_factor=damping)
    torch.manual_seed(seed)
    started = time.perf_counter()
    analyzer.fit_all_factors(factors_name=tag, dataset=train_set, per_device_batch_size=args.batch_size,
                             dataloader_kwargs=loader, factor_args=factor_args, overwrite_output_dir=True)
    fit = time.perf_counter() - started
    started = time.perf_counter()
    analyzer.compute_pairwise_scores(scores_name=tag, factors_name=tag, query_dataset=query_set, train_dataset=train_set,
                                     per_device_query_batch_size=args.batch_size,
                                     per_device_train_batch_size=args.batch_size, dataloader_kwargs=loader,
                                     score_args=score_args, overwrite_output_dir=True)
    score = time.perf_counter() - started
    matrix = analyzer.load_pairwise_scores(scores_name=tag)["all_modules"].double().numpy()
    return Side(matrix, fit, score, analyzer.factors_output_dir(factors_name=tag))


# ---------------------------------------------------------------------------------------------
# Checks and figures


def check_linear_swap(model_dir: Path, info: ModelInfo, converted: nn.Module, batch: dict) -> float:
    """max |Δlogit| / max |logit| between transformers' model and the one with nn.Linear swaps."""
    original = load_original(model_dir, info)
    with torch.no_grad():
        a = original(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        b = converted(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    mask = batch["attention_mask"].bool()
    return ((a - b).abs()[mask].max() / a[mask].abs().max()).item()


def preflight(cli: Path, args, model: nn.Module, train: Rows, queries: Rows, collate, work: Path) -> list[str]:
    """`influence loss` against the PyTorch model, row by row: token counts (tokenisation) and
    summed losses (forward pass, padding, loss convention) of every training row and query, and the
    token counts of the queries' prompts and completions. Returns the problems found."""
    problems = []
    probe = work / "preflight.jsonl"
    rows = [{"input_ids": ids} for ids in train.sequences]
    # Queries: the full sequences, then their prompts and completions as text (their token counts).
    rows += [{"input_ids": ids} for ids in queries.sequences]
    texts = []
    for row in queries.texts:
        if "prompt" in row:
            texts += [row["prompt"], row["completion"]]
    rows += [{"text": t} for t in texts]
    with open(probe, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    result = subprocess.run([str(cli), "loss", "--model", str(args.model), "--data", str(probe),
                             "--batch-size", str(args.batch_size)], capture_output=True, text=True)
    if result.returncode != 0:
        return [f"influence loss failed: {result.stderr[-2000:]}"]
    swift = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    sequences = train.sequences + queries.sequences
    reference = []
    with torch.no_grad():
        for start in range(0, len(sequences), args.batch_size):
            batch = collate([(s, 0) for s in sequences[start:start + args.batch_size]])
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
            per = F.cross_entropy(logits.transpose(1, 2), batch["labels"][:, 1:], ignore_index=-100, reduction="none")
            reference += per.sum(1).tolist()
    if len(swift) != len(rows):
        return [f"influence loss printed {len(swift)} rows for {len(rows)}"]
    worst, worst_row, differing = 0.0, 0, []
    for i, (s, r, ids) in enumerate(zip(swift, reference, sequences)):
        if s["tokens"] != max(0, len(ids) - 1):
            problems.append(f"row {i}: the CLI predicts {s['tokens']} tokens, PyTorch {len(ids) - 1}")
        relative = abs(s["loss"] - r) / max(1.0, abs(r))
        if relative > worst:
            worst, worst_row = relative, i
        if relative > 1e-4:
            differing.append(i)
    if differing:
        w = worst_row
        problems.append(f"{len(differing)} of {len(sequences)} rows' summed losses differ by more than 1e-4 (relative), "
                        f"rows {differing[:10]}{' ...' if len(differing) > 10 else ''}; worst row {w}: "
                        f"CLI {swift[w]['loss']:.6f}, PyTorch {reference[w]:.6f}")
    tokenizer = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    for s, t in zip(swift[len(sequences):], texts):
        n = len(tokenizer.encode(t).ids)
        if s["tokens"] != max(0, n - 1):
            problems.append(f"{t!r}: the CLI has {s['tokens'] + 1} tokens, tokenizers {n}")
    print(f"preflight: {len(sequences)} sequences, {len(texts)} prompt/completion texts; "
          f"per-row summed losses CLI vs PyTorch: max relative difference {worst:.1e} (row {worst_row}), "
          f"{len(differing)} rows above 1e-4; "
          + ("token counts agree" if not any("tokens" in p for p in problems) else "TOKEN COUNTS DIFFER"))
    return problems


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


@dataclass
class Figures:
    pearson: float
    spearman: float
    min_query_pearson: float
    max_relative: float
    scale: float


def figures(mine: np.ndarray, reference: np.ndarray) -> Figures:
    assert mine.shape == reference.shape, f"score shapes differ: ours {mine.shape}, Kronfluence {reference.shape}"
    rho = stats.spearmanr(mine.ravel(), reference.ravel()).statistic
    per_query = min(pearson(mine[q], reference[q]) for q in range(mine.shape[0]))
    relative = float(np.abs(mine - reference).max() / max(np.abs(reference).max(), 1e-30))
    scale = float((mine * reference).sum() / max((reference * reference).sum(), 1e-300))
    return Figures(pearson(mine, reference), float(rho), per_query, relative, scale)


def relative_frobenius(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def compare_factors(mine_dir: Path, their_dir: Path, modules: list[str], strategy: str) -> list[str]:
    """Per module: relative Frobenius differences of A, S (each divided by its token count),
    eigenvalues and Λ (divided by its example count), and the counts themselves."""
    if strategy == "identity":
        return []
    ours_file = load_numpy(str(mine_dir / "factors.safetensors"))
    with open(mine_dir / "factors.safetensors", "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    meta = header.get("__metadata__", {})

    def theirs_file(name: str) -> dict:
        path = their_dir / f"{name}.safetensors"
        return load_numpy(str(path)) if path.exists() else {}

    cov_a, cov_s = theirs_file("activation_covariance"), theirs_file("gradient_covariance")
    n_a, n_s = theirs_file("num_activation_covariance_processed"), theirs_file("num_gradient_covariance_processed")
    eig_a, eig_s = theirs_file("activation_eigenvalues"), theirs_file("gradient_eigenvalues")
    lam, n_lam = theirs_file("lambda_matrix"), theirs_file("num_lambda_processed")
    lines = []
    for m in modules:
        parts = []
        if m in cov_a:
            tokens_a, tokens_s = int(n_a[m].ravel()[0]), int(n_s[m].ravel()[0])
            parts.append(f"tokens ours {meta.get('tokens')} / theirs {tokens_a},{tokens_s}")
            parts.append(f"A {relative_frobenius(ours_file[m + '.activation_covariance'], cov_a[m] / tokens_a):.1e}")
            parts.append(f"S {relative_frobenius(ours_file[m + '.gradient_covariance'], cov_s[m] / tokens_s):.1e}")
            parts.append(f"λ_A {relative_frobenius(ours_file[m + '.activation_eigenvalues'], eig_a[m]):.1e}")
            parts.append(f"λ_S {relative_frobenius(ours_file[m + '.gradient_eigenvalues'], eig_s[m]):.1e}")
        if m in lam:
            examples = int(n_lam[m].ravel()[0])
            mine_l, their_l = ours_file[m + ".lambda"], lam[m] / examples
            parts.append(f"examples ours {meta.get('examples')} / theirs {examples}")
            parts.append(f"Λ {relative_frobenius(mine_l, their_l):.1e} (mean ratio {mine_l.mean() / their_l.mean():.4f})")
        lines.append(f"    {m}: " + ", ".join(parts))
    return lines


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True,
                        help="Hugging Face model directory: gpt2, llama, mistral, qwen2 or gpt_neox")
    parser.add_argument("--train", type=Path, required=True, help="training rows {\"text\"} or {\"input_ids\"}")
    parser.add_argument("--queries", type=Path, required=True, help="query rows {\"prompt\",\"completion\"}, {\"text\"} or {\"input_ids\"}")
    parser.add_argument("--modules", default="mlp",
                        help="what `influence fit --modules` takes: a group (mlp, attention, all) or patterns (default mlp)")
    parser.add_argument("--batch-size", type=int, default=8, help="examples per batch on both sides (default 8)")
    parser.add_argument("--strategies", default="ekfac,kfac,diagonal,identity")
    parser.add_argument("--fishers", default="empirical,sampled")
    parser.add_argument("--damping", default="auto", help="auto (0.1 × mean Λ per module) or a number")
    parser.add_argument("--work-dir", type=Path, help="where factors and scores go (default: a new temporary directory)")
    parser.add_argument("--influence", type=Path, default=REPO / ".build" / "release" / "influence", help="the CLI binary")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run each fit and score this many times and report the fastest (shared machines)")
    parser.add_argument("--no-noise-floor", action="store_true", help="skip the second-seed runs of sampled EK-FAC")
    parser.add_argument("--no-factors", action="store_true", help="skip the factor comparison")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    fishers = [s.strip() for s in args.fishers.split(",") if s.strip()]
    for s in strategies:
        if s not in ("ekfac", "kfac", "diagonal", "identity"):
            parser.error(f"unknown strategy {s}")
    for f_ in fishers:
        if f_ not in ("empirical", "sampled"):
            parser.error(f"unknown Fisher {f_}")
    if not args.influence.exists():
        parser.error(f"{args.influence} does not exist; build it with `swift build -c release -Xswiftc -cross-module-optimization`")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="kronfluence-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "ours").mkdir(exist_ok=True)

    warnings.filterwarnings("ignore")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    import kronfluence
    import transformers
    from kronfluence.analyzer import Analyzer, prepare_model

    transformers.utils.logging.disable_progress_bar()

    info = model_info(args.model)
    tracked = cli_modules(args.influence, args, work)
    try:
        model = load_model(args.model, info, tracked)
    except ConventionError as error:
        print(f"conventions differ before any influence computation:\n  {error}")
        return 2
    tokenizer = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    train = tokenise_training(args.train, tokenizer, info.context)
    queries = tokenise_queries(args.queries, tokenizer, info.context)
    collate = make_collate(info.pad)
    cli_time = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(args.influence.stat().st_mtime))
    cli_hash = hashlib.sha256(args.influence.read_bytes()).hexdigest()[:12]
    print(f"model {args.model}: {info.model_type} ({type(model).__name__}), {info.layers} layers, width {info.width}, "
          f"vocab {info.vocabulary}, context {info.context}, padding id {info.pad}; {len(train.sequences)} training rows "
          f"({sum(map(len, train.sequences))} tokens), {len(queries.sequences)} queries; "
          f"batch {args.batch_size}, damping {args.damping}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), transformers {transformers.__version__}, "
          f"kronfluence {getattr(kronfluence, '__version__', '?')}; CLI {args.influence} (modified {cli_time} UTC, sha256 {cli_hash}); "
          f"work dir {work}")
    print(f"tracked (--modules {args.modules}, as `influence fit` reports): {', '.join(tracked)}")

    problems = []
    if args.modules == "mlp":
        # The CLI's group against the PyTorch model's own names of the family's MLP layers.
        expected = [n for n, m in load_original(args.model, info).named_modules() if re.fullmatch(MLP_GROUPS[info.model_type], n)]
        if expected != tracked:
            problems.append(f"the CLI's mlp group is {tracked}; the PyTorch model's MLP layers are {expected}")
    if info.model_type == "gpt2":
        swap = check_linear_swap(args.model, info, model, collate([(s, 0) for s in train.sequences[: args.batch_size]]))
        print(f"Conv1D → Linear: max |Δlogit| / max |logit| = {swap:.1e}")
        if swap > 1e-5:
            problems.append(f"the Linear swap changes the logits by {swap:.1e}")
    problems += preflight(args.influence, args, model, train, queries, collate, work)
    if problems:
        print("conventions differ before any influence computation:\n  " + "\n  ".join(problems))
        return 2

    task = make_task(tracked)
    model = prepare_model(model, task)
    analyzer = Analyzer(analysis_name="compare", model=model, task=task, cpu=True, disable_tqdm=True,
                        output_dir=str(work / "kronfluence"), log_level=logging.WARNING)
    train_set, query_set = RowDataset(train), RowDataset(queries)

    # Untimed warm-up: the first Kronfluence calls in a process pay one-off costs (allocator,
    # thread pool, einsum path search) that would otherwise land in the first measured row.
    warm = Rows(train.sequences[: 2 * args.batch_size], train.prompt_lengths[: 2 * args.batch_size])
    theirs(analyzer, RowDataset(warm), query_set, collate, args, "ekfac", "empirical", tag="warm-up")

    results, factor_lines, floors = [], [], []
    for fisher in fishers:
        for strategy in strategies:
            mine = fastest([ours(args.influence, args, strategy, fisher, work, tracked) for _ in range(args.repeats)])
            reference = fastest([theirs(analyzer, train_set, query_set, collate, args, strategy, fisher)
                                 for _ in range(args.repeats)])
            fig = figures(mine.scores, reference.scores)
            results.append((strategy, fisher, fig, mine, reference))
            print(f"  {strategy:8s} {fisher:9s} Pearson {fig.pearson:.6f}  (ours {mine.fit_seconds:.1f}+{mine.score_seconds:.1f} s, "
                  f"Kronfluence {reference.fit_seconds:.1f}+{reference.score_seconds:.1f} s)", flush=True)
            if not args.no_factors:
                factor_lines.append((strategy, fisher, compare_factors(mine.factors_dir, reference.factors_dir, tracked, strategy)))
            if fisher == "sampled" and strategy == "ekfac" and not args.no_noise_floor:
                mine2 = ours(args.influence, args, strategy, fisher, work, tracked, seed=1)
                reference2 = theirs(analyzer, train_set, query_set, collate, args, strategy, fisher, seed=1)
                floors.append(("ours seed 0 vs ours seed 1", figures(mine2.scores, mine.scores)))
                floors.append(("Kronfluence seed 0 vs seed 1", figures(reference2.scores, reference.scores)))
                floors.append(("ours seed 1 vs Kronfluence seed 1", figures(mine2.scores, reference2.scores)))

    header = (f"{'strategy':9s} {'fisher':9s} {'pearson':>9s} {'spearman':>9s} {'min q-pearson':>13s} {'max rel diff':>12s} "
              f"{'scale':>7s} | {'ours fit':>8s} {'ours scr':>8s} | {'kf fit':>7s} {'kf scr':>7s}")
    print("\n" + header + "\n" + "-" * len(header))
    for strategy, fisher, fig, mine, reference in results:
        rel = f"{fig.max_relative:.2e}" if fisher == "empirical" else "—"
        print(f"{strategy:9s} {fisher:9s} {fig.pearson:9.6f} {fig.spearman:9.6f} {fig.min_query_pearson:13.6f} {rel:>12s} "
              f"{fig.scale:7.4f} | {mine.fit_seconds:7.2f}s {mine.score_seconds:7.2f}s | "
              f"{reference.fit_seconds:6.2f}s {reference.score_seconds:6.2f}s")
    if floors:
        print("\nMonte-Carlo noise floor of the sampled Fisher (EK-FAC, seeds 0 and 1):")
        for name, fig in floors:
            print(f"  {name:36s} Pearson {fig.pearson:.6f}  Spearman {fig.spearman:.6f}  min q-Pearson {fig.min_query_pearson:.6f}")
    if factor_lines:
        print("\nFactors, relative Frobenius differences ours vs Kronfluence (A, S per token; Λ per example):")
        for strategy, fisher, lines in factor_lines:
            if lines:
                print(f"  {strategy} / {fisher}")
                print("\n".join(lines))

    failures = []
    for strategy, fisher, fig, _, _ in results:
        if strategy == "ekfac" and not (fig.pearson >= EKFAC_THRESHOLDS[fisher]):
            failures.append(f"ekfac/{fisher}: Pearson {fig.pearson:.6f} < {EKFAC_THRESHOLDS[fisher]}")
    if args.json:
        args.json.write_text(json.dumps({
            "model": str(args.model), "model_type": info.model_type, "modules": tracked,
            "influence": str(args.influence), "influence_sha256": cli_hash,
            "train": str(args.train), "queries": str(args.queries),
            "batch_size": args.batch_size, "damping": args.damping,
            "results": [{"strategy": s, "fisher": f_, **fig.__dict__,
                         "ours_fit_seconds": m.fit_seconds, "ours_scores_seconds": m.score_seconds,
                         "kronfluence_fit_seconds": r.fit_seconds, "kronfluence_scores_seconds": r.score_seconds}
                        for s, f_, fig, m, r in results],
            "noise_floor": [{"pair": n, **fig.__dict__} for n, fig in floors],
            "failures": failures,
        }, indent=2))
    if hashlib.sha256(args.influence.read_bytes()).hexdigest()[:12] != cli_hash:
        print(f"\nWARNING: {args.influence} changed during the run (it was rebuilt); rerun for figures of one binary")
    print("\n" + ("FAIL: " + "; ".join(failures) if failures else "PASS: EK-FAC agrees with Kronfluence within the thresholds"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
