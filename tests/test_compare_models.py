import json
import subprocess
import sys
from pathlib import Path

import pytest

from .support import load_script

compare = load_script("compare_models")
SCRIPT = compare.__file__


def write(path: Path, correct: list[bool]) -> Path:
    path.write_text("".join(json.dumps({"name": f"labels.tsv:{i + 2}", "correct": c}) + "\n"
                            for i, c in enumerate(correct)), encoding="utf-8")
    return path


def test_sign_test_matches_the_binomial_by_hand():
    assert compare.sign_test_p(0, 0) == 1.0
    assert compare.sign_test_p(5, 5) == 1.0
    assert compare.sign_test_p(0, 6) == pytest.approx(2 / 64)  # both all-one-way splits of 6
    assert compare.sign_test_p(1, 9) == pytest.approx(2 * 11 / 1024)
    assert compare.sign_test_p(9, 1) == compare.sign_test_p(1, 9)


def test_counts_pair_images_by_name(tmp_path):
    old = compare.correct_by_name(write(tmp_path / "a.jsonl", [True, True, False, False]))
    new = compare.correct_by_name(write(tmp_path / "b.jsonl", [True, False, True, True]))
    assert compare.compare(old, new) == (4, 2, 3, 2, 1)


def test_files_of_different_images_are_refused(tmp_path):
    a = write(tmp_path / "a.jsonl", [True, False])
    b = write(tmp_path / "b.jsonl", [True, False, True])
    done = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "different images" in done.stderr and "labels.tsv:4" in done.stderr


def test_pooled_line_sums_the_pairs(tmp_path):
    a = write(tmp_path / "a.jsonl", [True, False])
    b = write(tmp_path / "b.jsonl", [False, True])
    done = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b), str(a), str(b)],
                          capture_output=True, text=True, check=True)
    pooled = done.stdout.splitlines()[-1]
    assert pooled.startswith("pooled: 4 images, incumbent 2, candidate 2; only the candidate reads 2, "
                             "only the incumbent 2")
