"""Breaks down the errors of `plate-ocr eval --per-image` runs: the figures the README's weak-spot
list quotes.

For each run (a per-image JSONL and the labels TSV it was made from) it prints:
* the two-row types pooled (exact match), and how many two-row plates with a province had it
  read as a Latin letter (a military plate's top row is two letters);
* errors where only the province character is wrong, and how many of those are on crops
  narrower than --narrow pixels, against that share of the whole set;
* plates read with too few or too many characters;
and, over all runs together, the provinces misread most often (share of the plates that carry
each).

Usage:
    python scripts/error_breakdown.py PER_IMAGE.jsonl LABELS.tsv [PER_IMAGE.jsonl LABELS.tsv ...]
        [--narrow 145]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plate_ocr.formats import LETTERS, PROVINCES  # noqa: E402
from plate_ocr.training.synth import DOUBLE_ROW_TYPES  # noqa: E402

_LETTER_SET = frozenset(LETTERS)  # a set, so that an empty reading is not "in" it


def load(per_image: Path, labels: Path) -> list[dict]:
    """Per-image rows, each with the width of its crop (the name is ``labels.tsv:LINE``)."""
    lines = labels.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in per_image.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        path = lines[int(row["name"].rsplit(":", 1)[1]) - 1].split("\t")[0]
        with Image.open(labels.parent / path) as image:
            row["width"] = image.width
    return rows


def province_only(row: dict) -> bool:
    label, pred = row["label"], row["pred"]
    return not row["correct"] and len(pred) == len(label) and pred[1:] == label[1:]


def report(name: str, rows: list[dict], narrow: int) -> None:
    errors = [r for r in rows if not r["correct"]]
    two_row = [r for r in rows if r["type"] in DOUBLE_ROW_TYPES]
    province = [r for r in errors if province_only(r)]
    lengths = Counter(len(r["pred"]) - len(r["label"]) for r in errors if len(r["pred"]) != len(r["label"]))
    print(f"== {name}: {len(rows)} images, {len(errors)} errors")
    if two_row:
        print(f"two-row types pooled: {sum(r['correct'] for r in two_row)}/{len(two_row)} "
              f"= {sum(r['correct'] for r in two_row) / len(two_row):.2%}")
        as_letter = sum(r["label"][0] in PROVINCES and r["pred"][:1] in _LETTER_SET for r in two_row)
        print(f"two-row plates whose province was read as a Latin letter: {as_letter}")
    narrow_errors = sum(r["width"] < narrow for r in province)
    narrow_share = sum(r["width"] < narrow for r in rows) / len(rows)
    print(f"province alone wrong: {len(province)}; {narrow_errors} of them on crops under {narrow} px "
          f"(such crops: {narrow_share:.1%} of the set)")
    print("length errors (characters read minus label's: plates): "
          + (", ".join(f"{d:+d}: {n}" for d, n in sorted(lengths.items())) or "none"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", type=Path, help="PER_IMAGE.jsonl LABELS.tsv, repeated")
    parser.add_argument("--narrow", type=int, default=145)
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give a labels TSV after each per-image JSONL")
    pairs = list(zip(args.pairs[::2], args.pairs[1::2]))
    for per_image, labels in pairs:
        if labels.suffix != ".tsv":
            parser.error(f"{labels}: expected the labels TSV that {per_image} was made from")
        for path in (per_image, labels):
            if not path.is_file():
                parser.error(f"{path}: no such file")
    carried, missed = Counter(), Counter()
    for per_image, labels in pairs:
        rows = load(per_image, labels)
        report(str(per_image), rows, args.narrow)
        for r in rows:
            if r["label"][0] in PROVINCES:
                carried[r["label"][0]] += 1
                missed[r["label"][0]] += not r["pred"].startswith(r["label"][0])
    worst = sorted(carried, key=lambda p: -missed[p] / carried[p])[:5]
    print("provinces misread most, all runs: "
          + ", ".join(f"{p} {missed[p]}/{carried[p]} = {missed[p] / carried[p]:.0%}" for p in worst))


if __name__ == "__main__":
    main()
