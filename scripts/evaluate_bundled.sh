#!/usr/bin/env bash
# Reproduces the README's accuracy figures for the bundled model (the repository root):
#   1. real crops: ../shared/data/plates/real/dev.tsv (375 crops, never trained on);
#   2. a held-out synthetic set of the rarer types (seed 1000, full augmentation strength as in
#      training; training used seeds 1 to 4 and picked its checkpoint with seed 2000), made here;
#   3. the same types at half strength (seed 1001): moderately degraded plates.
# Usage: [MODEL=dir] [PYTHON=python] scripts/evaluate_bundled.sh [OUT_DIR]   (default: runs/eval);
# needs the train extra.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/eval}"
shared="${PLATE_OCR_SHARED:-../shared}"
py="${PYTHON:-.venv/bin/python}"
model="${MODEL:-.}"  # another model directory to measure the same way
mkdir -p "$out"
rare=yellow_double,white_army_double,yellow_trailer_double,green_car,green_truck,white_police,yellow_coach,yellow_trailer,black_hk_macao,black_embassy,black_consulate
[ -f "$out/synth_rare/labels.tsv" ] || "$py" -m plate_ocr.cli synth --assets "$shared/data/plates/synth" \
    --out "$out/synth_rare" --count 1100 --seed 1000 --types "$rare"
[ -f "$out/synth_rare_half/labels.tsv" ] || "$py" -m plate_ocr.cli synth --assets "$shared/data/plates/synth" \
    --out "$out/synth_rare_half" --count 1100 --seed 1001 --strength 0.5 --types "$rare"
echo "== real dev crops"
"$py" -m plate_ocr.cli eval "$shared/data/plates/real/dev.tsv" --model "$model" --threads 2 \
    --json-out "$out/dev.json" --per-image "$out/dev_per_image.jsonl"
echo "== held-out synthetic rarer types"
"$py" -m plate_ocr.cli eval "$out/synth_rare/labels.tsv" --model "$model" --threads 2 \
    --json-out "$out/synth_rare.json" --per-image "$out/synth_rare_per_image.jsonl"
echo "== held-out synthetic rarer types, half strength"
"$py" -m plate_ocr.cli eval "$out/synth_rare_half/labels.tsv" --model "$model" --threads 2 \
    --json-out "$out/synth_rare_half.json" --per-image "$out/synth_rare_half_per_image.jsonl"
