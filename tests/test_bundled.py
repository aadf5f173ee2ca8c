"""The weights this repository ships (its root is the model directory)."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from plate_ocr.reader import PlateReader

from .support import REPO, SYNTH_ASSETS, real_rows

DEMO = REPO / "resources" / "demo"


def demo_rows() -> list[tuple[str, str]]:
    with open(DEMO / "labels.tsv", encoding="utf-8") as f:
        return [(str(DEMO / r["path"]), r["label"]) for r in csv.DictReader(f, delimiter="\t")]


def test_root_is_a_compact_fp16_model_directory():
    config = json.loads((REPO / "configuration.json").read_text(encoding="utf-8"))
    assert config["model"]["type"] == "plate-ocr-recognizer"
    assert "allow_remote" not in config  # the installed route must work without trust_remote_code
    weights = REPO / "pytorch_model.pt"
    assert weights.stat().st_size < 5 * 1024 * 1024
    state = torch.load(weights, weights_only=True)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}


def test_bundled_weights_read_the_demo_crops_through_the_pipeline():
    pytest.importorskip("modelscope")
    from modelscope.pipelines import pipeline
    from modelscope.utils.constant import Tasks

    import plate_ocr  # noqa: F401

    ocr = pipeline(Tasks.ocr_recognition, model=str(REPO), device="cpu")
    rows = demo_rows()
    assert len(rows) == 8
    texts = [r["text"][0] for r in ocr([path for path, _ in rows])]
    # Every 7-character (blue / yellow) demo plate exactly. The green 8-character ones are rare
    # in the real training crops and plate_06 is a 112x39 blur: there the length and the
    # province + letter + D/F prefix must be right (README: known weakness).
    for text, (path, label) in zip(texts, rows):
        if len(label) == 7:
            assert text == label, path
        else:
            assert len(text) == 8 and text[:3] == label[:3], (path, text)
    assert sum(t == label for t, (_, label) in zip(texts, rows)) >= 7


def test_bundled_model_runs_in_int8_and_reads_the_demo_crops_as_in_float():
    """``model.int8`` was set after the README's sets read the same in int8 as in float."""
    pytest.importorskip("onnxruntime")
    paths = [path for path, _ in demo_rows()]
    int8 = PlateReader.from_dir(REPO)
    assert int8.engine_in_use == "onnxruntime-int8"
    assert int8.read(paths) == PlateReader.from_dir(REPO, engine="onnxruntime").read(paths)


@pytest.mark.slow
def test_bundled_weights_on_the_real_dev_set():
    """A floor under the README's figure (98.67%), so a clearly worse model cannot land unnoticed."""
    rows = real_rows("dev")
    texts = PlateReader.from_dir(REPO).read([p for p, _ in rows])
    exact = sum(t == label for t, (_, label) in zip(texts, rows)) / len(rows)
    assert exact >= 0.97


@pytest.mark.slow
def test_bundled_weights_read_two_row_plates_as_one_string():
    if not SYNTH_ASSETS.exists():
        pytest.skip("synthesis assets not present")
    from plate_ocr.training.synth import DOUBLE_ROW_TYPES, PlateSynthesizer

    synth = PlateSynthesizer(SYNTH_ASSETS, seed=4242, type_weights={t: 1.0 for t in DOUBLE_ROW_TYPES})
    samples = [synth.sample(i, strength=0.5) for i in range(40)]
    texts = PlateReader.from_dir(REPO).read([s.image for s in samples])
    exact = sum(t == s.label for t, s in zip(texts, samples)) / len(samples)
    # A floor under what the shipped weights read here (40 of 40 at this strength with the
    # eleventh, twelfth and fourteenth runs, 39 with the tenth, 38 with the eighth and ninth;
    # the weights before the row finder read 31); the README gives the figures per two-row type.
    assert exact >= 0.85


@pytest.mark.slow
def test_bundled_decoder_only_changes_readings_that_are_no_plate():
    """The bundled ``plate-format`` decoder against greedy, on hard synthetic plates of every type."""
    if not SYNTH_ASSETS.exists():
        pytest.skip("synthesis assets not present")
    from plate_ocr.training.synth import PlateSynthesizer

    synth = PlateSynthesizer(SYNTH_ASSETS, seed=4343)
    samples = [synth.sample(i, strength=1.0) for i in range(150)]
    images = [s.image for s in samples]
    plate = PlateReader.from_dir(REPO)
    assert plate.decoder == "plate-format"
    chosen, greedy = plate.read(images), PlateReader.from_dir(REPO, decoder="greedy").read(images)
    assert all(plate.formats.matches(t) for t in chosen)
    for mine, theirs, sample in zip(chosen, greedy, samples):
        if mine != theirs:
            assert not plate.formats.matches(theirs), sample.label  # a valid greedy reading is kept
    assert sum(t == s.label for t, s in zip(chosen, samples)) >= sum(t == s.label for t, s in zip(greedy, samples))
