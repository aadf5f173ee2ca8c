"""Reads the demo plates in resources/demo with the bundled model through ModelScope's pipeline().

Prints one line per plate (file, expected, read, ok) and the count read correctly. Exits 1 if the
pipeline could not be built or a plate could not be read at all.
"""

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from modelscope.pipelines import pipeline
    from modelscope.utils.constant import Tasks

    import plate_ocr  # noqa: F401  registers the plugin with ModelScope

    # An absolute path: a relative 'a/b' would make ModelScope look the name up on its hub.
    reader = pipeline(Tasks.ocr_recognition, model=str(ROOT), device="cpu")
    demo = ROOT / "resources" / "demo"
    with open(demo / "labels.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    correct = 0
    for row in rows:
        result = reader(str(demo / row["path"]))
        text = result["text"][0]
        correct += text == row["label"]
        print(f"{row['path']}\texpected {row['label']}\tread {text}\t{'ok' if text == row['label'] else 'WRONG'}")
    print(f"{correct}/{len(rows)} demo plates read correctly; output format: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
