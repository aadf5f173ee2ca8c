#!/usr/bin/env bash
# Reproduces the README's accuracy figures for the bundled model (the repository root):
#   1. real crops: ../shared/data/plates/real/dev.tsv (375 crops, never trained on);
#   2. a held-out synthetic set of the rarer types (seed 1000; training used seed 1), made here.
# Usage: scripts/evaluate_bundled.sh [OUT_DIR]   (default: runs/eval); needs the train extra.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/eval}"
shared="${PLATE_OCR_SHARED:-../shared}"
py="${PYTHON:-.venv/bin/python}"
mkdir -p "$out"
rare=yellow_double,white_army_double,yellow_trailer_double,green_car,green_truck,white_police,yellow_coach,yellow_trailer,black_hk_macao,black_embassy,black_consulate
[ -f "$out/synth_rare/labels.tsv" ] || "$py" -m plate_ocr.cli synth --assets "$shared/data/plates/synth" \
    --out "$out/synth_rare" --count 1100 --seed 1000 --types "$rare"
echo "== real dev crops"
"$py" -m plate_ocr.cli eval "$shared/data/plates/real/dev.tsv" --model . --threads 2 \
    --json-out "$out/dev.json" --per-image "$out/dev_per_image.jsonl"
echo "== held-out synthetic rarer types"
"$py" -m plate_ocr.cli eval "$out/synth_rare/labels.tsv" --model . --threads 2 \
    --json-out "$out/synth_rare.json" --per-image "$out/synth_rare_per_image.jsonl"
