import sys

import numpy as np
import pytest
import torch

from plate_ocr.engines import ENGINES, MIN_SHARED_BATCH, ONNX_ENGINES, ONNX_INSTALL_HINT, build_runner
from plate_ocr.model_dir import ModelDirError
from plate_ocr.reader import PlateReader

from .support import config_copy

FLOAT_ENGINES = tuple(e for e in ENGINES if e != "onnxruntime-int8")


def chunks(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 160, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_network(tiny_model_dir):
    return PlateReader.from_dir(tiny_model_dir).network


@pytest.mark.parametrize("engine,threads", [("torchscript", 1), ("onnxruntime", 1), ("onnxruntime", 2)])
def test_engines_give_eager_logits_for_any_batch_size(tiny_network, engine, threads):
    pytest.importorskip("onnxruntime")
    _, eager = build_runner(tiny_network, "eager", chunks(1), threads=1)
    name, run = build_runner(tiny_network, engine, chunks(1), threads=threads)
    assert name == engine
    # traced and exported at batch 1, run at others; at 2 threads, ONNX Runtime runs batches
    # under MIN_SHARED_BATCH on a one-thread session and larger ones on a shared one
    assert 3 < MIN_SHARED_BATCH <= 7
    for n in (1, 3, 7):
        x = chunks(n, seed=n)
        with torch.inference_mode():
            expected = eager(x)
        got = run(x)
        assert got.shape == expected.shape == (n, 40, tiny_network.config.num_classes)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_readers_on_every_float_engine_read_the_same_text(tiny_model_dir):
    pytest.importorskip("onnxruntime")
    images = list(chunks(5, seed=3))
    texts = {e: PlateReader.from_dir(tiny_model_dir, engine=e).read(images) for e in FLOAT_ENGINES}
    assert len(set(map(tuple, texts.values()))) == 1, texts


def test_auto_takes_onnxruntime_on_the_cpu(tiny_model_dir):
    pytest.importorskip("onnxruntime")
    assert PlateReader.from_dir(tiny_model_dir).engine_in_use == "onnxruntime"


def test_int8_engine_quantizes_the_matrix_products_and_stays_close(tiny_network, monkeypatch):
    pytest.importorskip("onnxruntime")
    import onnx

    from plate_ocr import engines

    seen = {}
    real = engines._int8_matmuls

    def spy(model_bytes):
        seen["float"], seen["int8"] = model_bytes, real(model_bytes)
        return seen["int8"]

    monkeypatch.setattr(engines, "_int8_matmuls", spy)
    name, run = build_runner(tiny_network, "onnxruntime-int8", chunks(1), threads=1)
    assert name == "onnxruntime-int8"
    ops = {kind: {n.op_type for n in onnx.load_from_string(seen[kind]).graph.node} for kind in seen}
    assert "MatMul" in ops["float"] and not ops["float"] & {"DynamicQuantizeLinear", "MatMulInteger"}
    assert "DynamicQuantizeLinear" in ops["int8"]
    _, eager = build_runner(tiny_network, "eager", chunks(1), threads=1)
    x = chunks(3, seed=5)
    with torch.inference_mode():
        expected = eager(x)
    got = run(x)
    assert got.shape == expected.shape
    assert not torch.equal(got, expected)  # it really runs the quantized graph
    spread = float(expected.max() - expected.min())
    assert float((got - expected).abs().max()) < 0.1 * spread


def int8_copy(model_dir, tmp_path, value):
    return config_copy(model_dir, tmp_path / "model", "int8", value)


def test_auto_takes_int8_where_the_model_directory_says_so(tiny_model_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    model = int8_copy(tiny_model_dir, tmp_path, True)
    assert PlateReader.from_dir(model).engine_in_use == "onnxruntime-int8"
    assert PlateReader.from_dir(model, engine="onnxruntime").engine_in_use == "onnxruntime"


def test_int8_key_must_be_a_boolean(tiny_model_dir, tmp_path):
    model = int8_copy(tiny_model_dir, tmp_path, "yes")
    with pytest.raises(ModelDirError, match=r"model\.int8: must be true or false, got 'yes'"):
        PlateReader.from_dir(model)


def test_auto_falls_back_to_torchscript_without_onnxruntime(tiny_model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    reader = PlateReader.from_dir(tiny_model_dir)
    assert reader.engine_in_use == "torchscript"
    assert len(reader.read(list(chunks(2)))) == 2


@pytest.mark.parametrize("engine", ONNX_ENGINES)
def test_asking_for_onnxruntime_without_it_says_what_to_install(tiny_network, monkeypatch, engine):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=rf"'{engine}' needs .*plate-ocr\[onnx\]"):
        build_runner(tiny_network, engine, chunks(1), threads=1)
    assert "onnxruntime" in ONNX_INSTALL_HINT


def test_unknown_engine_is_refused_by_name(tiny_model_dir):
    with pytest.raises(ValueError, match="'tensorrt'"):
        PlateReader.from_dir(tiny_model_dir, engine="tensorrt")


def test_engine_is_rebuilt_when_the_thread_count_changes(tiny_model_dir):
    pytest.importorskip("onnxruntime")
    reader = PlateReader.from_dir(tiny_model_dir)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        reader.engine_in_use
        first = reader._run
        torch.set_num_threads(2)
        reader.engine_in_use
        second = reader._run
        assert second is not first
        reader.engine_in_use
        assert reader._run is second  # same device and count: kept
    finally:
        torch.set_num_threads(before)
