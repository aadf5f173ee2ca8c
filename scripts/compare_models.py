"""Compares two models read on the same images, plate by plate: the test the training log applies
before a candidate replaces the bundled weights.

Give it pairs of `plate-ocr eval --per-image` files, the incumbent's then the candidate's, each
pair made from the same labels. Pairs are pooled. It prints, per pair and pooled, how many images
each model reads exactly, how many only one of them reads, and the two-sided sign-test p-value of
that split: under "neither model is better", an image one model reads and the other misses is
equally likely to go either way.

Usage:
    python scripts/compare_models.py INCUMBENT.jsonl CANDIDATE.jsonl [INCUMBENT.jsonl CANDIDATE.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from math import comb
from pathlib import Path


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact binomial p-value of ``wins`` against ``losses`` at even odds."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def correct_by_name(path: Path) -> dict[str, bool]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {row["name"]: bool(row["correct"]) for row in rows}


def compare(incumbent: dict[str, bool], candidate: dict[str, bool]) -> tuple[int, int, int, int, int]:
    """(images, incumbent exact, candidate exact, only the candidate, only the incumbent)."""
    if incumbent.keys() != candidate.keys():
        differing = sorted(incumbent.keys() ^ candidate.keys())
        raise ValueError(f"the two files list different images, e.g. {differing[:3]}")
    names = incumbent.keys()
    return (len(names), sum(incumbent.values()), sum(candidate.values()),
            sum(candidate[n] and not incumbent[n] for n in names),
            sum(incumbent[n] and not candidate[n] for n in names))


def line(title: str, counts: tuple[int, int, int, int, int]) -> str:
    images, old, new, gained, lost = counts
    return (f"{title}: {images} images, incumbent {old}, candidate {new}; only the candidate reads "
            f"{gained}, only the incumbent {lost}; sign test p = {sign_test_p(gained, lost):.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="INCUMBENT.jsonl CANDIDATE.jsonl, repeated")
    args = parser.parse_args()
    if len(args.files) % 2:
        parser.error("give the per-image files in pairs: incumbent, then candidate")
    pooled = [0] * 5
    for old_path, new_path in zip(args.files[::2], args.files[1::2]):
        try:
            counts = compare(correct_by_name(old_path), correct_by_name(new_path))
        except (OSError, ValueError, KeyError) as exc:
            print(f"{old_path} vs {new_path}: {exc}", file=sys.stderr)
            return 1
        print(line(f"{old_path} vs {new_path}", counts))
        pooled = [a + b for a, b in zip(pooled, counts)]
    if len(args.files) > 2:
        print(line("pooled", tuple(pooled)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
