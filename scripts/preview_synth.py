"""Writes a PNG grid of synthetic plate samples with their labels, and reports the speed.

Usage:
    python scripts/preview_synth.py OUT.png [--n 48] [--strength 1.0] [--seed 0]
        [--assets /work/shared/data/plates/synth] [--types blue,green_car] [--cjk-font FONT ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plate_ocr.training.synth import PLATE_TYPES, PlateSynthesizer  # noqa: E402

CELL_W, CELL_H, LABEL_H = 300, 130, 22
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


def default_assets() -> Path:
    shared = os.environ.get("PLATE_OCR_SHARED")
    base = Path(shared) if shared else Path(__file__).resolve().parents[1].parent / "shared"
    return base / "data/plates/synth"


def load_font() -> ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, 16)
    return ImageFont.load_default()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--strength", type=float, default=1.0,
                    help="augmentation strength; negative times a ramp 0..1 in the speed test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--assets", type=Path, default=default_assets())
    ap.add_argument("--types", default="", help="comma-separated plate types to restrict to")
    ap.add_argument("--cjk-font", action="append", default=[], help="as plate-ocr synth --cjk-font")
    ap.add_argument("--bench", type=int, default=600, help="samples timed for the speed figure")
    args = ap.parse_args()

    weights = None
    if args.types:
        weights = {t: 1.0 for t in args.types.split(",")}
    t0 = time.perf_counter()
    synth = PlateSynthesizer(args.assets, seed=args.seed, type_weights=weights, cjk_fonts=args.cjk_font)
    print(f"init: {time.perf_counter() - t0:.2f} s")

    samples = [synth.sample(args.start + i, args.strength) for i in range(args.n)]
    font = load_font()
    rows = (args.n + args.cols - 1) // args.cols
    grid = Image.new("RGB", (args.cols * CELL_W, rows * (CELL_H + LABEL_H)), (90, 90, 90))
    draw = ImageDraw.Draw(grid)
    for i, s in enumerate(samples):
        img = s.image.copy()
        img.thumbnail((CELL_W - 6, CELL_H - 4))
        x = (i % args.cols) * CELL_W
        y = (i // args.cols) * (CELL_H + LABEL_H)
        grid.paste(img, (x + 3, y + 2))
        w, h = s.image.size
        draw.text((x + 3, y + CELL_H), f"{s.label} {s.plate_type} {w}x{h}", fill=(255, 255, 0),
                  font=font)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out)
    print(f"wrote {args.out}")

    if args.bench > 0:
        t0 = time.perf_counter()
        strengths = np.linspace(0, 1, args.bench)
        for i in range(args.bench):
            synth.sample(10_000 + i, float(strengths[i]) if args.strength < 0 else args.strength)
        dt = time.perf_counter() - t0
        print(f"speed: {args.bench / dt:.0f} samples/s (strength {args.strength})")


if __name__ == "__main__":
    main()
