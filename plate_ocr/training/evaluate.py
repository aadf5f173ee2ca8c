"""Evaluation through the same engine as the pipeline (:class:`plate_ocr.reader.PlateReader`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..reader import PlateReader
from .data import Sample
from .metrics import Report


def evaluate(reader: PlateReader, samples: Sequence[Sample], batch_size: int = 64,
             per_image: str | Path | None = None) -> dict:
    """Reads every sample and scores it; unreadable images count as wrong (prediction ``""``)
    and are listed in the per-image file with their error.

    Returns:
        :meth:`Report.summary` plus ``errors`` (unreadable images).
    """
    report = Report()
    rows = []
    errors = 0
    for index, text, error in reader.read_many((s.image for s in samples), batch_size=batch_size):
        sample = samples[index]
        pred = text if error is None else ""
        errors += error is not None
        report.add(pred, sample.label, sample.plate_type)
        rows.append({"name": sample.name, "label": sample.label, "pred": pred, "type": sample.plate_type,
                     "correct": pred == sample.label, **({"error": str(error)} if error else {})})
    if per_image:
        with open(per_image, "w", encoding="utf-8") as f:
            for row in sorted(rows, key=lambda r: r["name"]):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {**report.summary(), "errors": errors}
