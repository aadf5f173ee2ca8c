"""Averages the weights of model directories that share one network, vocab and geometry (a weight
"soup", e.g. a model and a fine-tune of it) and writes the result as a new model directory.

Only models in one basin average well: a fine-tune and its start, or checkpoints of one run.
The average is taken in fp32 and saved in fp16 like every model directory this project writes.

Usage:
    python scripts/average_weights.py OUT MODEL_DIR MODEL_DIR [MODEL_DIR ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plate_ocr.model_dir import ModelDirError, load_model_dir, save_model_dir


def average(model_dirs: list[Path]):
    """Returns (network, spec) of the first directory, holding the mean of all their weights.

    Raises:
        ModelDirError: for a directory whose network, vocab or geometry differs from the first's.
    """
    network, spec = load_model_dir(model_dirs[0])
    first = network.state_dict()
    total = {k: v.float().clone() for k, v in first.items()}
    for model_dir in model_dirs[1:]:
        other, other_spec = load_model_dir(model_dir)
        for what in ("network", "vocab", "geometry"):
            if getattr(other_spec, what) != getattr(spec, what):
                raise ModelDirError(f"{model_dir}: its {what} differs from {model_dirs[0]}'s; "
                                    "only models of one network can be averaged")
        for key, value in other.state_dict().items():
            total[key] += value.float()
    network.load_state_dict({k: (v / len(model_dirs)).to(first[k].dtype) for k, v in total.items()})
    return network, spec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="model directory to write")
    parser.add_argument("models", nargs="+", type=Path, help="model directories to average")
    args = parser.parse_args()
    if len(args.models) < 2:
        parser.error("give at least two model directories")
    try:
        network, spec = average(args.models)
    except ModelDirError as exc:
        print(exc, file=sys.stderr)
        return 1
    save_model_dir(args.out, network, spec.vocab, spec.geometry)
    print(f"{args.out}: mean of {len(args.models)} models")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
