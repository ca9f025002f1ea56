#!/usr/bin/env python3
"""Speed of swift-influence beside PyTorch and Kronfluence on the same workloads, in one run.

Every figure here is a ratio measured on this machine in this run: the peer's time and ours, one
after the other, with nothing else running. Timings from another run or another machine mean
nothing (the CPU changes between sessions: AVX-512 on some, AVX2 only on others). This script is
not part of CI.

Workloads (the model families' comparison):
  llama-step   one AdamW step of a Llama-shaped decoder: 4 layers, width 256, 4 query heads
               sharing 2 key/value heads, SwiGLU MLP of 688, RMSNorm, rotary positions,
               context 128, vocabulary 4096, batch 16 × 128 tokens; loss = mean next-token
               cross-entropy. Peer: transformers' LlamaForCausalLM (eager attention, and SDPA),
               torch.optim.AdamW. Median of 7 steps after 2 unmeasured ones.
  llama-fit    EK-FAC factors (covariances, eigendecompositions, Λ) of the same model's MLP
               layers (gate_proj, up_proj, down_proj) over N random sequences of 128 tokens,
               empirical Fisher, batches of 16. Peer: Kronfluence's fit_all_factors
               (FactorArguments(strategy="ekfac", use_empirical_fisher=True); float32 covariances,
               float64 eigendecomposition, its defaults). One fit each, after an untimed warm-up
               fit on 32 sequences.
Ours: `influence-bench llama` (Sources/InfluenceBench/main.swift) on the same shapes.

Both sides use every core (torch.set_num_threads(os.cpu_count()); OpenBLAS likewise). Weights and
tokens are random: the time of these computations does not depend on their values.

Requirements: python ≥ 3.10 with torch, transformers (≥ 4.45; tested with 5.24) and kronfluence
1.0.x; the benchmark built in release mode (scripts/bench builds it, or
`swift build -c release -Xswiftc -cross-module-optimization --product influence-bench`).

Usage: python3 scripts/compare/speed_compare.py [--bench .build/release/influence-bench]
           [--workloads llama-step,llama-fit] [--sequences 1024]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cpu_description() -> str:
    model, flags = "unknown", set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    extensions = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "amx_tile") if f in flags]
    return f"{model}; {os.cpu_count()} cores; {', '.join(extensions) or 'no AVX2'}"


def llama_config():
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=4096, hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, tie_word_embeddings=False,
                       attention_dropout=0.0)


def peer_step(attention: str) -> float:
    import torch
    import torch.nn.functional as F
    from transformers import LlamaForCausalLM
    torch.manual_seed(0)
    model = LlamaForCausalLM._from_config(llama_config(), attn_implementation=attention)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    tokens = torch.randint(0, 4096, (16, 128))

    def step():
        logits = model(input_ids=tokens).logits
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, 4096), tokens[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(7):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peer_fit(sequences: int) -> float:
    import logging
    import warnings

    import torch
    import torch.nn.functional as F
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments
    from kronfluence.task import Task
    from transformers import LlamaForCausalLM

    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    model = LlamaForCausalLM._from_config(llama_config(), attn_implementation="eager")
    model.eval()
    tracked = [f"model.layers.{i}.mlp.{p}" for i in range(4) for p in ("gate_proj", "up_proj", "down_proj")]

    class NextToken(Task):
        def compute_train_loss(self, batch, model, sample=False):
            logits = model(input_ids=batch).logits[:, :-1].float()
            return F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1), reduction="sum")

        def compute_measurement(self, batch, model):
            return self.compute_train_loss(batch, model)

        def get_influence_tracked_modules(self):
            return tracked

    class Rows(torch.utils.data.Dataset):
        def __init__(self, n, seed):
            self.data = torch.randint(0, 4096, (n, 128), generator=torch.Generator().manual_seed(seed))

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            return self.data[i]

    task = NextToken()
    model = prepare_model(model, task)
    with tempfile.TemporaryDirectory() as work:
        analyzer = Analyzer(analysis_name="speed", model=model, task=task, cpu=True, disable_tqdm=True, output_dir=work,
                            log_level=logging.WARNING)
        arguments = FactorArguments(strategy="ekfac", use_empirical_fisher=True)
        analyzer.fit_all_factors(factors_name="warm-up", dataset=Rows(32, 1), per_device_batch_size=16, factor_args=arguments,
                                 overwrite_output_dir=True)
        started = time.perf_counter()
        analyzer.fit_all_factors(factors_name="fit", dataset=Rows(sequences, 2), per_device_batch_size=16, factor_args=arguments,
                                 overwrite_output_dir=True)
        return time.perf_counter() - started


def ours(bench: Path, sequences: int) -> dict:
    environment = dict(os.environ, BENCH_SEQUENCES=str(sequences))
    result = subprocess.run([str(bench), "llama"], capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise RuntimeError(f"{bench} llama failed:\n{result.stderr[-3000:]}")
    step = re.search(r"AdamW step: ([0-9.]+) s", result.stdout)
    fit = re.search(r"empirical Fisher: ([0-9.]+) s", result.stdout)
    sgemm = re.findall(r"sgemm n=\d+: ([0-9.]+) GFLOP/s", result.stdout)
    return {"step": float(step.group(1)), "fit": float(fit.group(1)), "sgemm": max(map(float, sgemm)), "output": result.stdout}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", type=Path, default=Path(__file__).resolve().parents[2] / ".build/release/influence-bench")
    parser.add_argument("--workloads", default="llama-step,llama-fit")
    parser.add_argument("--sequences", type=int, default=1024)
    args = parser.parse_args()
    if not args.bench.exists():
        parser.error(f"{args.bench} does not exist; run scripts/bench once or build influence-bench in release mode")
    import torch
    import transformers
    torch.set_num_threads(os.cpu_count() or 1)
    workloads = args.workloads.split(",")
    print(f"CPU: {cpu_description()}")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads, {torch.backends.mkldnn.is_available() and 'oneDNN' or 'no oneDNN'}), "
          f"transformers {transformers.__version__}")
    rows = []
    mine = ours(args.bench, args.sequences)
    print(f"ours: sgemm {mine['sgemm']:.1f} GFLOP/s")
    if "llama-step" in workloads:
        for attention in ("eager", "sdpa"):
            theirs = peer_step(attention)
            rows.append((f"Llama 4×256 GQA, T=128, V=4096, batch 16, one AdamW step (peer: {attention} attention)", theirs, mine["step"]))
    if "llama-fit" in workloads:
        theirs = peer_fit(args.sequences)
        rows.append((f"EK-FAC fit, {args.sequences} × 128 tokens, MLP layers, empirical Fisher (peer: Kronfluence)", theirs, mine["fit"]))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'work'.ljust(width)}  {'peer s':>9}  {'ours s':>9}  ours faster by")
    for name, theirs, us in rows:
        print(f"{name.ljust(width)}  {theirs:9.3f}  {us:9.3f}  {theirs / us:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
