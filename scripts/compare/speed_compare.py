#!/usr/bin/env python3
"""Speed of swift-influence beside PyTorch and Kronfluence on the same workloads, in one run.

Every figure here is a ratio measured on this machine in this run: the peer's time and ours, one
after the other, with nothing else running. Timings from another run or another machine mean
nothing (the CPU changes between sessions: AVX-512 on some, AVX2 only on others). This script is
not part of CI.

Workloads (all by default; --workloads picks some):
  gpt2-step    one AdamW step of GPT-2 4 × 256 (4 heads), context 128, vocabulary 4096, dropout 0.1,
               batch 16 × 128 tokens; loss = mean next-token cross-entropy. Peer: transformers'
               GPT2LMHeadModel (eager attention, and SDPA), torch.optim.AdamW. Median of 7 steps
               after 2 unmeasured ones. Ours: `influence-bench gpt2`.
  gpt2-fit     EK-FAC factors (covariances, eigendecompositions, Λ) of that model's MLP layers
               (c_fc, c_proj of each block) over N random sequences of 128 tokens, sampled labels
               (true Fisher), batches of 16; then pairwise scores of 8 random queries against the N
               sequences (damping: Kronfluence's heuristic, 0.1 × the mean eigenvalue, ours the same).
               Peer: Kronfluence's fit_all_factors and compute_pairwise_scores, the tracked Conv1D
               layers swapped for equivalent nn.Linear modules (Kronfluence tracks nn.Linear only).
               Ours: `influence-bench influence`, in process.
  gpt2-fit-blocks  the same over every Linear of the blocks (c_attn and the attention's c_proj too).
  gpt2-scores-64   the MLP-layer fit and scores with 64 queries.
  llama-step   one AdamW step of a Llama-shaped decoder: 4 layers, width 256, 4 query heads
               sharing 2 key/value heads, SwiGLU MLP of 688, RMSNorm, rotary positions,
               context 128, vocabulary 4096, batch 16 × 128 tokens. Peer: transformers'
               LlamaForCausalLM (eager attention, and SDPA). Ours: `influence-bench llama`.
  llama-fit    EK-FAC factors of the same model's MLP layers (gate_proj, up_proj, down_proj),
               empirical Fisher, batches of 16. Peer: Kronfluence's fit_all_factors
               (FactorArguments(strategy="ekfac", use_empirical_fisher=True)). One fit each, after an
               untimed warm-up fit on 32 sequences.
  pydvl        exact and CG influence of a FashionMNIST MLP against pyDVL's DirectInfluence and
               CgInfluence (scripts/compare/pydvl_compare.py, which also checks the scores agree):
               its figures are fit and scores together on each side.

Both sides use every core (torch.set_num_threads(os.cpu_count()); OpenBLAS likewise). Weights and
tokens are random: the time of these computations does not depend on their values.

Run it through scripts/compare/speed, which makes its Python environment (torch, transformers,
kronfluence, pydvl from PyPI) and builds the benchmark and the CLI in release mode.

Usage: python3 scripts/compare/speed_compare.py [--bench .build/release/influence-bench]
           [--workloads gpt2-step,gpt2-fit,...] [--sequences 256]
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


def peer_training_step(model_class, config, attention: str) -> float:
    """Median seconds of one AdamW step (batch 16 × 128 random tokens, mean next-token loss) of a
    transformers causal LM in train mode, over 7 steps after 2 unmeasured ones."""
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    model = model_class._from_config(config, attn_implementation=attention)
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


def peer_step(attention: str) -> float:
    from transformers import LlamaForCausalLM
    return peer_training_step(LlamaForCausalLM, llama_config(), attention)


def gpt2_config():
    from transformers import GPT2Config
    return GPT2Config(vocab_size=4096, n_positions=128, n_embd=256, n_layer=4, n_head=4, bos_token_id=0, eos_token_id=0)


def peer_gpt2_step(attention: str) -> float:
    from transformers import GPT2LMHeadModel
    return peer_training_step(GPT2LMHeadModel, gpt2_config(), attention)


def kronfluence_fit_and_scores(model, tracked: list[str], sequences: int, empirical: bool, queries: int | None = None):
    """Kronfluence's EK-FAC fit over random 128-token rows (after an untimed warm-up fit on 32), then
    pairwise scores of `queries` random rows when given: (fit seconds, score seconds or None)."""
    import logging

    import torch
    import torch.nn.functional as F
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task

    class NextToken(Task):
        """Summed next-token loss; sampled labels draw one token per position from the model."""
        def compute_train_loss(self, batch, model, sample=False):
            logits = model(input_ids=batch).logits[:, :-1].float()
            flat = logits.reshape(-1, logits.size(-1))
            if sample:
                with torch.no_grad():
                    labels = torch.multinomial(torch.softmax(flat.detach(), dim=-1), num_samples=1).flatten()
                return F.cross_entropy(flat, labels, reduction="sum")
            return F.cross_entropy(flat, batch[:, 1:].reshape(-1), reduction="sum")

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
        arguments = FactorArguments(strategy="ekfac", use_empirical_fisher=empirical)
        analyzer.fit_all_factors(factors_name="warm-up", dataset=Rows(32, 1), per_device_batch_size=16, factor_args=arguments,
                                 overwrite_output_dir=True)
        started = time.perf_counter()
        analyzer.fit_all_factors(factors_name="fit", dataset=Rows(sequences, 2), per_device_batch_size=16, factor_args=arguments,
                                 overwrite_output_dir=True)
        fit = time.perf_counter() - started
        if queries is None:
            return fit, None
        started = time.perf_counter()
        analyzer.compute_pairwise_scores(scores_name="scores", factors_name="fit", query_dataset=Rows(queries, 3),
                                         train_dataset=Rows(sequences, 2), per_device_query_batch_size=queries,
                                         per_device_train_batch_size=16, score_args=ScoreArguments(damping_factor=None),
                                         overwrite_output_dir=True)
        return fit, time.perf_counter() - started


def peer_gpt2_influence(sequences: int, queries: int, blocks: bool) -> tuple[float, float]:
    """Kronfluence's EK-FAC fit (sampled labels) and pairwise scores on the GPT-2 of gpt2-step."""
    import warnings

    import torch
    import torch.nn as nn
    from transformers import GPT2LMHeadModel

    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    model = GPT2LMHeadModel._from_config(gpt2_config(), attn_implementation="eager")
    model.eval()
    names = ["mlp.c_fc", "mlp.c_proj"] + (["attn.c_attn", "attn.c_proj"] if blocks else [])
    tracked = []
    for i, block in enumerate(model.transformer.h):
        for name in names:
            parent_name, child = name.split(".")
            parent = getattr(block, parent_name)
            conv = getattr(parent, child)
            linear = nn.Linear(conv.weight.shape[0], conv.weight.shape[1])
            with torch.no_grad():
                linear.weight.copy_(conv.weight.t())
                linear.bias.copy_(conv.bias)
            setattr(parent, child, linear)
            tracked.append(f"transformer.h.{i}.{name}")

    return kronfluence_fit_and_scores(model, tracked, sequences, empirical=False, queries=queries)


def peer_and_ours_pydvl(python: str) -> list[tuple[str, float, float]]:
    """pyDVL's exact and CG influence beside ours on a FashionMNIST MLP (pydvl_compare.py)."""
    script = Path(__file__).resolve().parent / "pydvl_compare.py"
    with tempfile.TemporaryDirectory() as work:
        figures_path = Path(work) / "figures.json"
        result = subprocess.run([python, str(script), "--methods", "direct,cg", "--json", str(figures_path)], capture_output=True, text=True)
        if result.returncode != 0 or not figures_path.exists():
            raise RuntimeError(f"pydvl_compare.py failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        import json
        figures = json.loads(figures_path.read_text())
    rows = []
    for method, row in figures["methods"].items():
        rows.append((f"{method} influence, FashionMNIST MLP ({figures['parameters']} parameters, {figures['train_rows']} rows × "
                     f"{figures['queries']} queries), fit + scores (peer: pyDVL; Pearson {row['pearson']:.6f})",
                     row["pydvl_seconds"], row["ours_seconds"]))
    return rows


def peer_fit(sequences: int) -> float:
    import warnings

    import torch
    from transformers import LlamaForCausalLM

    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    model = LlamaForCausalLM._from_config(llama_config(), attn_implementation="eager")
    model.eval()
    tracked = [f"model.layers.{i}.mlp.{p}" for i in range(4) for p in ("gate_proj", "up_proj", "down_proj")]

    return kronfluence_fit_and_scores(model, tracked, sequences, empirical=True)[0]


def run_bench(bench: Path, section: str, **environment) -> str:
    env = dict(os.environ, **{k: str(v) for k, v in environment.items()})
    result = subprocess.run([str(bench), section], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{bench} {section} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def figure(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if not found:
        raise RuntimeError(f"no match for {pattern!r} in:\n{text}")
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", type=Path, default=Path(__file__).resolve().parents[2] / ".build/release/influence-bench")
    parser.add_argument("--workloads", default="gpt2-step,gpt2-fit,gpt2-fit-blocks,gpt2-scores-64,llama-step,llama-fit,pydvl")
    parser.add_argument("--sequences", type=int, default=256)
    args = parser.parse_args()
    if not args.bench.exists():
        parser.error(f"{args.bench} does not exist; run scripts/compare/speed, or build influence-bench in release mode")
    import torch
    import transformers
    torch.set_num_threads(os.cpu_count() or 1)
    workloads = args.workloads.split(",")
    print(f"CPU: {cpu_description()}")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads, {torch.backends.mkldnn.is_available() and 'oneDNN' or 'no oneDNN'}), "
          f"transformers {transformers.__version__}", flush=True)
    header = run_bench(args.bench, "sgemm-only")
    print(header.splitlines()[0])
    sgemm = max(map(float, re.findall(r"sgemm n=\d+: ([0-9.]+) GFLOP/s", header)))
    print(f"ours: sgemm {sgemm:.1f} GFLOP/s; PyTorch matmul n=2048: {torch_sgemm():.1f} GFLOP/s", flush=True)
    rows = []
    n = args.sequences

    def report(name: str, theirs: float, us: float):
        """Keeps a row and prints it at once, so that a later failure loses nothing."""
        rows.append((name, theirs, us))
        print(f"  {name}: peer {theirs:.3f} s, ours {us:.3f} s, ours faster by {theirs / us:.2f}×", flush=True)

    failures = []

    def attempt(workload: str, body):
        try:
            body()
        except Exception as error:  # one workload's failure (a peer's missing package, say) leaves the others
            failures.append(f"{workload}: {error}")
            print(f"  {workload} failed: {error}", flush=True)

    def gpt2_step():
        mine = figure(r"AdamW step: ([0-9.]+) s", run_bench(args.bench, "gpt2"))
        for attention in ("eager", "sdpa"):
            report(f"GPT-2 4×256, T=128, V=4096, batch 16, one AdamW step (peer: PyTorch, {attention} attention)",
                   peer_gpt2_step(attention), mine)

    if "gpt2-step" in workloads:
        attempt("gpt2-step", gpt2_step)
    for name, queries, blocks in (("gpt2-fit", 8, False), ("gpt2-fit-blocks", 8, True), ("gpt2-scores-64", 64, False)):
        if name not in workloads:
            continue

        def gpt2_influence(name=name, queries=queries, blocks=blocks):
            text = run_bench(args.bench, "influence", BENCH_SEQUENCES=n, BENCH_QUERIES=queries, BENCH_MODULES="blocks" if blocks else "mlp")
            fit, scores = figure(r"EK-FAC fit.*?: ([0-9.]+) s,", text), figure(r"EK-FAC pairwise scores.*?: ([0-9.]+) s,", text)
            their_fit, their_scores = peer_gpt2_influence(n, queries, blocks)
            layers = "every Linear of the blocks" if blocks else "MLP layers"
            if name != "gpt2-scores-64":
                report(f"EK-FAC fit, GPT-2 4×256, {n} × 128 tokens, {layers}, sampled labels (peer: Kronfluence)", their_fit, fit)
            report(f"EK-FAC pairwise scores, {queries} queries × {n} sequences, {layers} (peer: Kronfluence)", their_scores, scores)

        attempt(name, gpt2_influence)

    def llama():
        text = run_bench(args.bench, "llama", BENCH_SEQUENCES=n)
        if "llama-step" in workloads:
            mine = figure(r"AdamW step: ([0-9.]+) s", text)
            for attention in ("eager", "sdpa"):
                report(f"Llama 4×256 GQA, T=128, V=4096, batch 16, one AdamW step (peer: PyTorch, {attention} attention)",
                       peer_step(attention), mine)
        if "llama-fit" in workloads:
            report(f"EK-FAC fit, Llama 4×256, {n} × 128 tokens, MLP layers, empirical Fisher (peer: Kronfluence)",
                   peer_fit(n), figure(r"empirical Fisher: ([0-9.]+) s", text))

    if "llama-step" in workloads or "llama-fit" in workloads:
        attempt("llama", llama)
    if "pydvl" in workloads:
        attempt("pydvl", lambda: [report(*row) for row in peer_and_ours_pydvl(sys.executable)])
    if not rows:
        print("no workload finished", file=sys.stderr)
        return 1
    width = max(len(r[0]) for r in rows)
    print(f"\n{'work'.ljust(width)}  {'peer s':>9}  {'ours s':>9}  ours faster by")
    for name, theirs, us in rows:
        print(f"{name.ljust(width)}  {theirs:9.3f}  {us:9.3f}  {theirs / us:.2f}×")
    for failure in failures:
        print(f"failed: {failure}")
    return 1 if failures else 0


def torch_sgemm() -> float:
    import torch
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(5):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * 2048 ** 3 / statistics.median(times) / 1e9


if __name__ == "__main__":
    sys.exit(main())
