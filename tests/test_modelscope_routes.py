"""Both ways ModelScope finds the plugin: the installed package, and a remote-code directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from .support import REPO, real_rows

pytest.importorskip("modelscope")
from modelscope.pipelines import pipeline  # noqa: E402
from modelscope.utils.constant import Tasks  # noqa: E402

import plate_ocr  # noqa: E402,F401
from plate_ocr.imageio import PlateInputError  # noqa: E402
from plate_ocr.model_dir import MODEL_TYPE, PIPELINE_TYPE, PREPROCESSOR_TYPE  # noqa: E402
from plate_ocr.reader import PlateReader  # noqa: E402
from plate_ocr.upstream import ENTRY_POINTS, export_hub_dir  # noqa: E402


def test_registration_is_idempotent_and_uses_our_own_names():
    import importlib

    from modelscope.models.builder import MODELS
    from modelscope.pipelines.builder import PIPELINES
    from modelscope.preprocessors.builder import PREPROCESSORS

    import plate_ocr.modelscope_adapter as adapter

    importlib.reload(adapter)  # a second import must not raise
    assert MODELS.get(MODEL_TYPE, group_key=Tasks.ocr_recognition) is not None
    assert PIPELINES.get(PIPELINE_TYPE, group_key=Tasks.ocr_recognition) is not None
    assert PREPROCESSORS.get(PREPROCESSOR_TYPE, group_key="cv") is not None
    # names of our own, not the built-in ones (registering those would raise or shadow upstream)
    assert {MODEL_TYPE, PIPELINE_TYPE, PREPROCESSOR_TYPE}.isdisjoint(
        {"OCRRecognition", "convnextTiny-ocr-recognition", "ocr-recognition"})


def test_installed_route_reads_like_the_engine(tiny_model_dir):
    paths = [p for p, _ in real_rows("dev", limit=3)]
    ocr = pipeline(Tasks.ocr_recognition, model=str(tiny_model_dir), device="cpu")
    expected = PlateReader.from_dir(tiny_model_dir).read(paths)
    assert ocr(paths[0]) == {"text": [expected[0]]}
    assert ocr(paths) == [{"text": [t]} for t in expected]
    assert ocr(paths, batch_size=2) == [{"text": t} for t in expected]
    assert ocr(Path(paths[0]).read_bytes()) == {"text": [expected[0]]}


def test_pipeline_takes_the_engine_to_run(tiny_model_dir):
    paths = [p for p, _ in real_rows("dev", limit=3)]
    ocr = pipeline(Tasks.ocr_recognition, model=str(tiny_model_dir), device="cpu", engine="eager")
    assert ocr.model.reader.engine_in_use == "eager"
    assert ocr(paths) == [{"text": [t]} for t in PlateReader.from_dir(tiny_model_dir).read(paths)]
    with pytest.raises(ValueError, match="'tensorrt'"):
        pipeline(Tasks.ocr_recognition, model=str(tiny_model_dir), device="cpu", engine="tensorrt")


def test_pipeline_takes_the_decoder(tiny_model_dir):
    paths = [p for p, _ in real_rows("dev", limit=3)]
    ocr = pipeline(Tasks.ocr_recognition, model=str(tiny_model_dir), device="cpu", decoder="plate-format")
    assert ocr.model.reader.decoder == "plate-format"
    expected = PlateReader.from_dir(tiny_model_dir, decoder="plate-format").read(paths)
    assert ocr(paths) == [{"text": [t]} for t in expected]
    assert pipeline(Tasks.ocr_recognition, model=str(tiny_model_dir), device="cpu").model.reader.decoder == "greedy"
    with pytest.raises(ValueError, match="'beam'"):
        pipeline(Tasks.ocr_recognition, model=str(tiny_model_dir), device="cpu", decoder="beam")


def test_bad_item_in_a_list_raises_naming_it(tiny_model_dir, tmp_path):
    ocr = pipeline(Tasks.ocr_recognition, model=str(tiny_model_dir), device="cpu")
    good = real_rows("dev", limit=1)[0][0]
    with pytest.raises(PlateInputError, match=r"item 1 \('.*missing.jpg'\): no such file"):
        ocr([good, str(tmp_path / "missing.jpg"), good])
    with pytest.raises(PlateInputError, match="item 2 .*zero size"):
        ocr([good, good, np.zeros((0, 3), np.uint8)], batch_size=2)
    with pytest.raises(PlateInputError, match="no such file"):
        ocr(str(tmp_path / "missing.jpg"))


def test_root_entry_points_are_the_exported_ones():
    for name, text in ENTRY_POINTS.items():
        assert (REPO / name).read_text(encoding="utf-8") == text, name


def test_every_py_file_of_the_repository_imports_without_side_effects(tmp_path):
    """What ModelScope's remote-code route does to a model directory: copy every .py into a
    package and import each one. Nothing may fail or run (setup(), training, servers)."""
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True)
    files = listed.stdout.split() if listed.returncode == 0 and listed.stdout.strip() else [
        str(p.relative_to(REPO)) for p in REPO.rglob("*.py") if not {".venv", "build"} & set(p.parts)]
    package = tmp_path / "probe_model_dir"
    for rel in files:
        target = package / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / rel).read_bytes())
        for parent in target.parents:
            if parent == tmp_path:
                break
            (parent / "__init__.py").touch(exist_ok=True)
    code = textwrap.dedent("""
        import importlib, sys
        for rel in sys.argv[1:]:
            importlib.import_module("probe_model_dir." + rel[:-3].replace("/", "."))
        print("ok", len(sys.argv) - 1)
    """)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code, *files], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == f"ok {len(files)}"


@pytest.mark.slow
def test_remote_code_route_in_a_process_that_never_imported_the_package(tiny_model_dir, tmp_path):
    hub = export_hub_dir(tiny_model_dir, tmp_path / "plate_hub")
    assert json.loads((hub / "configuration.json").read_text())["allow_remote"] is True
    paths = [p for p, _ in real_rows("dev", limit=2)]
    expected = PlateReader.from_dir(tiny_model_dir).read(paths)
    code = textwrap.dedent("""
        import json, sys
        from modelscope.pipelines import pipeline
        from modelscope.utils.constant import Tasks
        ocr = pipeline(Tasks.ocr_recognition, model=sys.argv[1], trust_remote_code=True, device="cpu")
        out = {"single": ocr(sys.argv[2]), "list": ocr(sys.argv[2:]),
               "classes": type(ocr).__module__,
               "imported": sorted(m for m in sys.modules if m == "plate_ocr" or m.startswith("plate_ocr."))}
        print("RESULT" + json.dumps(out, ensure_ascii=False))
    """)
    env = {**os.environ, "MODELSCOPE_CACHE": str(tmp_path / "cache"), "PYTHONPATH": ""}
    out = subprocess.run([sys.executable, "-c", code, str(hub), *paths], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.split("RESULT", 1)[1])
    assert result["imported"] == []
    assert result["classes"].startswith("plate_hub.")
    assert result["single"] == {"text": [expected[0]]}
    assert result["list"] == [{"text": [t]} for t in expected]


def test_allow_remote_directory_is_refused_without_trust(tiny_model_dir, tmp_path):
    hub = export_hub_dir(tiny_model_dir, tmp_path / "hub2")
    with pytest.raises(RuntimeError, match="trust_remote_code"):
        pipeline(Tasks.ocr_recognition, model=str(hub))


def test_pipeline_steps_give_what_the_call_gives(tiny_model_dir):
    ocr = pipeline(Tasks.ocr_recognition, model=str(tiny_model_dir), device="cpu")
    path = real_rows("dev", limit=1)[0][0]
    stepwise = ocr.postprocess(ocr.forward(ocr.preprocess(path)))
    assert stepwise == ocr(path)
    model_out = ocr.model(ocr.preprocess(path))
    assert model_out["preds"] == stepwise["text"] and model_out["logits"].shape == (1, 40, 74)
