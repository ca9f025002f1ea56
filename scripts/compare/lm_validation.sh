#!/usr/bin/env bash
# The paper's comparison on a language model: a small GPT-2 trained on Debian's English fortunes,
# every strategy against PBRF and by LDS, with completion log-likelihoods as the measurements.
# Outside CI; takes tens of minutes.
#
# Data: the English fortunes of at most 64 characters (each one row of at most 32 tokens),
# in the corpus's order; the first ROWS (default 192) are the training rows, the next 8 the queries,
# each cut after its first half of words into a prompt and the completion whose log-likelihood is
# measured. The model is trained on these rows with `influence train --data`, which writes the
# tokenizer and the record `validate lds` retrains from.
#
# Usage: scripts/compare/lm_validation.sh [WORK_DIR]   (the CLI built in release mode)
#        POINTS=16 SUBSETS=50 ROWS=192 DAMPING=0.1 PBRF_STEPS=1500 STRATEGIES=... to change the settings.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
influence=${INFLUENCE:-.build/release/influence}
[ -x "$influence" ] || { echo "build the CLI first: swift build ${SWIFT_RELEASE_FLAGS[*]}" >&2; exit 1; }
work=${1:-$(mktemp -d /tmp/lm-validation.XXXXXX)}
rows=${ROWS:-192}
points=${POINTS:-16}
subsets=${SUBSETS:-50}
mkdir -p "$work"
echo "work dir $work; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"

if [ ! -f "$work/queries.jsonl" ]; then
    python3 - "$rows" "$work" <<'PY'
import json, os, sys
rows, work = int(sys.argv[1]), sys.argv[2]
directory = "/usr/share/games/fortunes"
texts = []
for name in sorted(os.listdir(directory)):
    path = os.path.join(directory, name)
    if not os.path.isfile(path) or "." in name:
        continue
    for fortune in open(path, encoding="utf-8", errors="replace").read().split("\n%\n"):
        text = " ".join(fortune.split())
        if 20 <= len(text) <= 64 and len(text.split()) >= 4:
            texts.append(text)
if len(texts) < rows + 8:
    sys.exit(f"only {len(texts)} short fortunes; install the fortunes package (scripts/setup)")
with open(os.path.join(work, "train.jsonl"), "w") as f:
    for text in texts[:rows]:
        f.write(json.dumps({"text": text}) + "\n")
with open(os.path.join(work, "queries.jsonl"), "w") as f:
    for text in texts[rows:rows + 8]:
        words = text.split()
        half = len(words) // 2
        f.write(json.dumps({"prompt": " ".join(words[:half]), "completion": " " + " ".join(words[half:])}) + "\n")
PY
fi

if [ ! -f "$work/model/model.safetensors" ]; then
    "$influence" train --architecture gpt2 --data "$work/train.jsonl" --vocab-size 512 --layers 1 --width 32 --heads 2 \
        --context 32 --dropout 0 --steps 600 --batch-size 16 --learning-rate 0.003 --validation-fraction 0 --save-every 60 \
        --out "$work/model"
fi

strategies=${STRATEGIES:-"ekfac,kfac,lissa:scale=100:depth=5000,lissa:scale=100,cg,identity,tracin"}
common=(--model "$work/model" --train "$work/train.jsonl" --queries "$work/queries.jsonl" --damping "${DAMPING:-0.1}"
        --strategies "$strategies" --modules "${MODULES:-mlp}")
"$influence" validate pbrf "${common[@]}" --points "$points" --pbrf-steps "${PBRF_STEPS:-1500}" --out "$work/pbrf"
"$influence" validate lds "${common[@]}" --subsets "$subsets" --out "$work/lds"
