#!/usr/bin/env bash
# The paper's small-scale comparison on a real regression table: a tanh MLP on the diabetes data
# Debian's scikit-learn package ships (442 patients, 10 measurements, a disease-progression target),
# every strategy against PBRF and by LDS. Outside CI; takes a few minutes.
#
# The package is downloaded and unpacked here, not installed (it would pull in SciPy); its two CSV
# files become one table, each column standardised (mean 0, standard deviation 1), the first 400
# rows the training set and the other 42 the queries.
#
# Usage: scripts/compare/regression_validation.sh [WORK_DIR]   (the CLI built in release mode)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
influence=${INFLUENCE:-.build/release/influence}
[ -x "$influence" ] || { echo "build the CLI first: swift build ${SWIFT_RELEASE_FLAGS[*]}" >&2; exit 1; }
work=${1:-$(mktemp -d /tmp/regression-validation.XXXXXX)}
mkdir -p "$work"
echo "work dir $work; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"

if [ ! -f "$work/diabetes.csv" ]; then
    (cd "$work" && apt-get download python3-sklearn >/dev/null && dpkg-deb -x python3-sklearn_*.deb package)
    data="$work/package/usr/lib/python3/dist-packages/sklearn/datasets/data"
    # Columns as scikit-learn's diabetes.rst names them; then standardise every column.
    paste -d' ' <(zcat "$data/diabetes_data_raw.csv.gz") <(zcat "$data/diabetes_target.csv.gz") | awk '
        { for (i = 1; i <= NF; i++) { v[NR, i] = $i; s[i] += $i; q[i] += $i * $i } n = NR; f = NF }
        END {
            print "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,progression"
            for (i = 1; i <= f; i++) { m[i] = s[i] / n; d[i] = sqrt(q[i] / n - m[i] * m[i]) }
            for (r = 1; r <= n; r++) {
                line = ""
                for (i = 1; i <= f; i++) line = line (i > 1 ? "," : "") sprintf("%.6f", (v[r, i] - m[i]) / d[i])
                print line
            }
        }' > "$work/diabetes.csv"
    { head -n 401 "$work/diabetes.csv"; } > "$work/train.csv"
    { head -n 1 "$work/diabetes.csv"; tail -n 42 "$work/diabetes.csv"; } > "$work/queries.csv"
fi

if [ ! -f "$work/model/model.safetensors" ]; then
    "$influence" train --model-type mlp --data "$work/train.csv" --target-column progression --hidden 32,32 --activation tanh \
        --steps 2000 --batch-size 32 --learning-rate 0.003 --validation-fraction 0 --save-every 200 --out "$work/model"
fi

strategies="ekfac,kfac,lissa:scale=100:depth=10000,lissa:scale=100,cg,exact,identity,tracin"
common=(--model "$work/model" --train "$work/train.csv" --queries "$work/queries.csv" --damping 0.01 --strategies "$strategies")
"$influence" validate pbrf "${common[@]}" --points 100 --out "$work/pbrf"
"$influence" validate lds "${common[@]}" --subsets 100 --out "$work/lds"
