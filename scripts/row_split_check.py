"""How often the two-row split misses the gap between the rows, on synthetic two-row plates.

The synthesiser knows where the gap lies in each crop (``SynthSample.row_gap``). A split "misses"
when the true gap lies outside the band that both strips share, so that one row is cut:

* the row finder (``plate_ocr.geometry.find_row_gap``): strips overlap by ``ROW_OVERLAP`` on each
  side of the gap it finds; measured on the crop as it is, and after levelling a tilted plate as
  ``split_rows`` does (``level_and_find_gap``: a shear about the centre column, which keeps the
  gap's height there);
* for comparison, the fixed split the project used before: top strip to 42% of the height,
  bottom strip from 30%.

Usage:
    python scripts/row_split_check.py [--n 600] [--seed 77] [--strength 1.0]
        [--assets ../shared/data/plates/synth]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plate_ocr.geometry import ROW_OVERLAP, find_row_gap, level_and_find_gap  # noqa: E402
from plate_ocr.training.synth import DOUBLE_ROW_TYPES, PlateSynthesizer  # noqa: E402

FIXED_SPLIT = (0.30, 0.42)


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    shared = Path(os.environ.get("PLATE_OCR_SHARED", root.parent / "shared"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=77)
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--assets", type=Path, default=shared / "data/plates/synth")
    args = parser.parse_args()

    synth = PlateSynthesizer(args.assets, seed=args.seed, type_weights={t: 1.0 for t in DOUBLE_ROW_TYPES})
    errors, levelled_errors, fixed_miss = [], [], []
    for i in range(args.n):
        sample = synth.sample(i, args.strength)
        image = np.asarray(sample.image)
        errors.append(find_row_gap(image) - sample.row_gap)
        levelled_errors.append(level_and_find_gap(image)[1] - sample.row_gap)
        fixed_miss.append(not FIXED_SPLIT[0] <= sample.row_gap <= FIXED_SPLIT[1])
    print(f"{args.n} two-row synthetic plates (seed {args.seed}, strength {args.strength})")
    for name, found in (("row finder", errors), ("row finder after levelling", levelled_errors)):
        found = np.abs(np.asarray(found))
        print(f"{name}: median error {np.median(found):.3f} of the height at the centre; misses the gap "
              f"by more than the strip overlap ({ROW_OVERLAP}) on {np.mean(found > ROW_OVERLAP):.1%}")
    print(f"fixed split {FIXED_SPLIT}: gap outside the shared band on {np.mean(fixed_miss):.1%}")


if __name__ == "__main__":
    main()
