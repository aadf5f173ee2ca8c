"""Gray copies of a labelled set, as a monochrome or infrared camera would see the plates.

Writes OUT/images/NNNNNN.png (lossless, three equal channels: what ``--gray-fraction`` trains
on) and OUT/labels.tsv (path, label, type) for ``plate-ocr eval``; measures whether a model still
reads plates without their colour.

    python scripts/gray_copy.py SET.tsv OUT
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from PIL import Image

from plate_ocr.training.data import desaturate, read_tsv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tsv", help="labelled set (path<TAB>label rows)")
    parser.add_argument("out", type=Path, help="output folder")
    args = parser.parse_args()
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    samples = read_tsv(args.tsv)
    with open(args.out / "labels.tsv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["path", "label", "type"])
        for i, sample in enumerate(samples):
            name = f"images/{i:06d}.png"
            Image.fromarray(desaturate(sample.rgb())).save(args.out / name)
            writer.writerow([name, sample.label, sample.plate_type])
    print(f"{len(samples)} gray copies of {args.tsv} in {args.out}")


if __name__ == "__main__":
    main()
