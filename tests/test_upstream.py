"""Converting DAMO-format directories (made by ModelScope's own ConvNextViT) in one step."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from .support import real_rows, write_upstream_dir
from plate_ocr.model_dir import ModelDirError
from plate_ocr.reader import PlateReader
from plate_ocr.upstream import convert_upstream

pytest.importorskip("modelscope")


def test_convert_keeps_every_tensor_and_the_class_count(upstream_dir, tmp_path):
    out = convert_upstream(upstream_dir, tmp_path / "plate")
    theirs = torch.load(upstream_dir / "pytorch_model.pt", weights_only=True)
    ours = torch.load(out / "pytorch_model.pt", weights_only=True)
    assert len(ours) == 321
    for key, value in theirs.items():
        assert torch.equal(ours[key.removeprefix("recognizer.")], value)
    config = json.loads((out / "configuration.json").read_text())
    assert config["model"]["num_classes"] == 7644
    assert "allow_remote" not in config
    assert (out / "vocab.txt").read_text(encoding="utf-8") == (upstream_dir / "vocab.txt").read_text(encoding="utf-8")


def test_legacy_label_dict_and_module_prefix(upstream_dir, tmp_path):
    legacy = write_upstream_dir(tmp_path / "legacy", prefix="module.recognizer.", legacy=True)
    out = convert_upstream(legacy, tmp_path / "plate")
    path = real_rows("dev", limit=1)[0][0]
    # same seed as the session fixture: the same weights, so the same logits
    torch.testing.assert_close(PlateReader.from_dir(out).logits([path]),
                               PlateReader.from_dir(upstream_dir).logits([path]), rtol=0, atol=0)


def test_fp16_conversion_halves_the_file_and_reads_the_same(upstream_dir, tmp_path):
    full = convert_upstream(upstream_dir, tmp_path / "full")
    half = convert_upstream(upstream_dir, tmp_path / "half", half=True)
    assert (half / "pytorch_model.pt").stat().st_size < 0.55 * (full / "pytorch_model.pt").stat().st_size
    paths = [p for p, _ in real_rows("dev", limit=8)]
    assert PlateReader.from_dir(half).read(paths) == PlateReader.from_dir(full).read(paths)


def test_missing_and_unexpected_keys_are_named(upstream_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(upstream_dir, broken)
    state = torch.load(broken / "pytorch_model.pt", weights_only=True)
    del state["recognizer.vitstr.blocks.3.attn.qkv.bias"]
    state["recognizer.vitstr.extra"] = torch.zeros(1)
    torch.save(state, broken / "pytorch_model.pt")
    with pytest.raises(ModelDirError, match=r"missing: vitstr\.blocks\.3\.attn\.qkv\.bias.*unexpected: vitstr\.extra"):
        convert_upstream(broken, tmp_path / "out")
    with pytest.raises(ModelDirError, match="missing: vitstr.blocks.3.attn.qkv.bias"):
        PlateReader.from_dir(broken)


def test_vocab_longer_than_the_head_is_refused(upstream_dir, tmp_path):
    broken = tmp_path / "long"
    shutil.copytree(upstream_dir, broken)
    (broken / "vocab.txt").write_text("".join(chr(0x4E00 + i) + "\n" for i in range(8000)), encoding="utf-8")
    with pytest.raises(ModelDirError, match="8000 lines"):
        convert_upstream(broken, tmp_path / "out")
