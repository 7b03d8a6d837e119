#!/usr/bin/env bash
# The "Sort and route" benchmark over several data seeds: each seed holds out another wording of each intent, so one
# seed's figure rests on 36 held-out wordings and moves by points from seed to seed. For each seed: write the data
# (bench/IntentData), train from scratch with the default 15 minutes, export, and measure our model and the keyword
# model on the mixed test file and on a test file of held-out wordings only; then print the mean over the seeds.
#
#   bash bench/intent-benchmark.sh [--seeds "42 1 2 3"] [--out runs/intent-benchmark] [-- extra slm train options]
#
# Run from the repository root after `dotnet build -c Release`, on a quiet machine (a busy one trains a weaker model).
set -euo pipefail
seeds="42 1 2 3"
out=runs/intent-benchmark
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
slm="$PWD/src/SlmStudio.Cli/bin/Release/net10.0/slm"
[[ -x "$slm" ]] || { echo "build first: dotnet build -c Release" >&2; exit 2; }
mkdir -p "$out"
results="$out/results.tsv"
printf 'seed\tminutes\tours_mixed\tkeyword_mixed\tours_heldout\tkeyword_heldout\tload\n' > "$results"
for seed in $seeds; do
  dir="$out/seed-$seed"
  rm -rf "$dir"; mkdir -p "$dir"
  dotnet run --no-build --project bench/IntentData -c Release -- --out "$dir/data" --seed "$seed" --unseen 0.3 > /dev/null
  dotnet run --no-build --project bench/IntentData -c Release -- --out "$dir/data-heldout" --seed "$seed" --unseen 1 > /dev/null
  load=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s)
  "$slm" train --task classify --data "$dir/data/intents-train.csv" --out "$dir/run" --minutes 15 --seed 42 "$@" > "$dir/train.log"
  minutes=$(( ($(date +%s) - start + 30) / 60 ))
  "$slm" export "$dir/run" --out "$dir/artifact" > "$dir/export.log"
  "$slm" eval "$dir/artifact" --data "$dir/data/intents-test.csv" --baseline "$dir/run" --json > "$dir/eval-mixed.json"
  "$slm" eval "$dir/artifact" --data "$dir/data-heldout/intents-test.csv" --baseline "$dir/run" --json > "$dir/eval-heldout.json"
  python3 - "$seed" "$minutes" "$load" "$dir" >> "$results" <<'PY'
import json, sys
seed, minutes, load, folder = sys.argv[1:]
mixed, heldout = (json.load(open(f"{folder}/eval-{name}.json")) for name in ("mixed", "heldout"))
print("\t".join([seed, minutes, f"{mixed['accuracy']:.4f}", f"{mixed['baseline']['accuracy']:.4f}",
                 f"{heldout['accuracy']:.4f}", f"{heldout['baseline']['accuracy']:.4f}", load]))
PY
  tail -n 1 "$results"
done
python3 - "$results" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
mean = lambda key: sum(float(r[key]) for r in rows) / len(rows)
print(f"mean over {len(rows)} seeds: ours {mean('ours_mixed'):.1%} (held-out wordings {mean('ours_heldout'):.1%}), "
      f"keyword model {mean('keyword_mixed'):.1%} ({mean('keyword_heldout'):.1%}); ours minus keyword "
      f"{100 * (mean('ours_mixed') - mean('keyword_mixed')):+.1f} points")
PY
