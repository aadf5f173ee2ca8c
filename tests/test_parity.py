"""This plugin against ModelScope's built-in ConvNextViT pipeline on the same checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from .support import real_rows

modelscope = pytest.importorskip("modelscope")
from modelscope.pipelines import pipeline  # noqa: E402
from modelscope.utils.constant import Tasks  # noqa: E402

import plate_ocr  # noqa: E402,F401  registers the plugin
from plate_ocr.reader import PlateReader  # noqa: E402
from plate_ocr.upstream import convert_upstream  # noqa: E402


@pytest.fixture(scope="module")
def builtin(upstream_dir):
    return pipeline(Tasks.ocr_recognition, model=str(upstream_dir), device="cpu")


@pytest.fixture(scope="module")
def converted(upstream_dir, tmp_path_factory):
    return convert_upstream(upstream_dir, tmp_path_factory.mktemp("conv") / "plate")


@pytest.fixture(scope="module")
def plugin(converted):
    return pipeline(Tasks.ocr_recognition, model=str(converted), device="cpu")


def odd_images() -> list[np.ndarray]:
    """Wide, tall and tiny images beside the real crops: squash, pad and chunk-merge paths."""
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, (40, 2000, 3), dtype=np.uint8),   # wider than the canvas: squashed
        rng.integers(0, 256, (32, 700, 3), dtype=np.uint8),    # spans all three chunks
        rng.integers(0, 256, (300, 40, 3), dtype=np.uint8),    # tall
        rng.integers(0, 256, (64, 64), dtype=np.uint8),        # gray 2-D
        rng.integers(0, 256, (5, 3, 3), dtype=np.uint8),       # tiny
    ]


def builtin_logits(builtin, item) -> torch.Tensor:
    data = builtin.preprocessor(item)
    with torch.no_grad():
        return builtin.model(data["image"])["probs"]


def test_logits_and_text_match_builtin_on_real_crops_and_odd_images(builtin, plugin, converted):
    items = [path for path, _ in real_rows("dev", limit=24)] + odd_images()
    reader = PlateReader.from_dir(converted)
    for i, item in enumerate(items):
        ours = reader.logits([item])
        theirs = builtin_logits(builtin, item)
        assert ours.shape == theirs.shape == (1, 201, 7644)
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4, msg=f"item {i}")
        assert plugin(item) == builtin(item), f"item {i}"


def test_list_outputs_have_upstream_shapes(builtin, plugin):
    items = [path for path, _ in real_rows("dev", limit=5)]
    expected = builtin(items)
    assert plugin(items) == expected
    assert isinstance(expected[0]["text"], list)
    batched = builtin(items, batch_size=2)
    assert plugin(items, batch_size=2) == batched
    assert isinstance(batched[0]["text"], str)


def test_pil_and_rgb_array_inputs_match_builtin(builtin, plugin):
    path = real_rows("dev", limit=1)[0][0]
    image = Image.open(path)
    assert plugin(image) == builtin(image)
    assert plugin(np.asarray(image.convert("RGB"))) == builtin(np.asarray(image.convert("RGB")))


@pytest.mark.parametrize("engine", ["torchscript", "onnxruntime"])
def test_engines_agree_with_eager_mode(converted, engine):
    paths = [path for path, _ in real_rows("dev", limit=4)]
    eager = PlateReader.from_dir(converted, engine="eager").logits(paths)
    reader = PlateReader.from_dir(converted, engine=engine)
    torch.testing.assert_close(reader.logits(paths), eager, rtol=1e-4, atol=1e-4)
    assert reader.engine_in_use == engine


def test_reader_loads_the_upstream_directory_directly(upstream_dir, converted):
    path = real_rows("dev", limit=1)[0][0]
    direct = PlateReader.from_dir(upstream_dir).logits([path])
    torch.testing.assert_close(direct, PlateReader.from_dir(converted).logits([path]), rtol=0, atol=0)


def test_padding_chunks_are_computed_once(converted, monkeypatch):
    reader = PlateReader.from_dir(converted, engine="eager")  # count eager forward calls
    paths = [path for path, _ in real_rows("dev", limit=6)]
    seen = []
    original = reader.network.forward

    def counting(x):
        seen.append(x.shape[0])
        return original(x)

    monkeypatch.setattr(reader.network, "forward", counting)
    reader.read(paths)
    # One call for the six plate chunks and one for the blank chunk, cached from then on.
    assert sum(seen) == len(paths) + 1
    seen.clear()
    reader.read(paths)
    assert sum(seen) == len(paths)


def test_opt_in_runs_the_upstream_directory_itself_on_this_implementation(upstream_dir, builtin):
    import subprocess
    import sys
    import textwrap

    # In a subprocess: the override is process-wide and must not leak into the other tests.
    code = textwrap.dedent("""
        import json, sys
        from modelscope.pipelines import pipeline
        from modelscope.utils.constant import Tasks
        import plate_ocr
        plate_ocr.use_for_upstream_models()
        ocr = pipeline(Tasks.ocr_recognition, model=sys.argv[1], device="cpu")
        print("RESULT" + json.dumps({"cls": type(ocr).__module__, "out": ocr(sys.argv[2:])}, ensure_ascii=False))
    """)
    paths = [p for p, _ in real_rows("dev", limit=3)]
    out = subprocess.run([sys.executable, "-c", code, str(upstream_dir), *paths], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    import json
    result = json.loads(out.stdout.split("RESULT", 1)[1])
    assert result["cls"] == "plate_ocr.modelscope_adapter"
    assert result["out"] == builtin(paths)
