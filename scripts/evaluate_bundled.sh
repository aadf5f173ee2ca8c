#!/usr/bin/env bash
# Reproduces the README's accuracy figures for the bundled model (the repository root):
#   1. real crops: ../shared/data/plates/real/dev.tsv (375 crops, never trained on);
#   2. a held-out synthetic set of the rarer types (seed 1000, full augmentation strength as in
#      training; training used seeds 1 to 6 and 8 to 18 and picked checkpoints with seed 2000), made here;
#   3. the same types at half strength (seed 1001): moderately degraded plates;
#   4. the real dev crops made gray (scripts/gray_copy.py), as an infrared camera sees them.
# Usage: [MODEL=dir] [ENGINE=name] [DECODER=name] [PYTHON=python] scripts/evaluate_bundled.sh [OUT_DIR]
#   (default: runs/eval; ENGINE and DECODER as plate-ocr eval --engine and --decoder, default auto);
# needs the train extra.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/eval}"
shared="${PLATE_OCR_SHARED:-../shared}"
py="${PYTHON:-.venv/bin/python}"
model="${MODEL:-.}"  # another model directory to measure the same way
engine="${ENGINE:-auto}"  # e.g. onnxruntime for the float figures of an int8 model directory
decoder="${DECODER:-auto}"  # e.g. greedy for the figures without the plate-format decoder
mkdir -p "$out"
rare=yellow_double,white_army_double,yellow_trailer_double,green_car,green_truck,white_police,yellow_coach,yellow_trailer,black_hk_macao,black_embassy,black_consulate
synth_set() {  # NAME SEED STRENGTH: made once, kept for later runs
    [ -f "$out/$1/labels.tsv" ] || "$py" -m plate_ocr.cli synth --assets "$shared/data/plates/synth" \
        --out "$out/$1" --count 1100 --seed "$2" --strength "$3" --types "$rare"
}
measure() {  # TITLE NAME TSV
    echo "== $1"
    "$py" -m plate_ocr.cli eval "$3" --model "$model" --engine "$engine" --decoder "$decoder" --threads 2 \
        --json-out "$out/$2.json" --per-image "$out/$2_per_image.jsonl"
}
synth_set synth_rare 1000 1.0
synth_set synth_rare_half 1001 0.5
measure "real dev crops" dev "$shared/data/plates/real/dev.tsv"
measure "held-out synthetic rarer types" synth_rare "$out/synth_rare/labels.tsv"
measure "held-out synthetic rarer types, half strength" synth_rare_half "$out/synth_rare_half/labels.tsv"
[ -f "$out/dev_gray/labels.tsv" ] || "$py" scripts/gray_copy.py "$shared/data/plates/real/dev.tsv" "$out/dev_gray"
measure "real dev crops, gray" dev_gray "$out/dev_gray/labels.tsv"
