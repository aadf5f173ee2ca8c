"""Short training runs on the tiny preset: the loss falls, the output is a model directory,
resuming continues (and forgets the best score when the dev set changes), fine-tuning can change the vocab."""

from __future__ import annotations

import json

import pytest
import torch

from plate_ocr.geometry import COMPACT_GEOMETRY
from plate_ocr.model_dir import save_model_dir
from plate_ocr.network import PRESETS, NetworkConfig, PlateRecognizer
from plate_ocr.reader import PlateReader
from plate_ocr.training.train import PLATE_CHARS, TrainConfig, WeightAverage, lr_at, remap_head, train
from plate_ocr.vocab import CTCVocab

from ..support import SYNTH_ASSETS, real_rows, write_tsv


@pytest.fixture
def small_sets(tmp_path):
    return (write_tsv(tmp_path / "train.tsv", real_rows("train", limit=64)),
            write_tsv(tmp_path / "dev.tsv", real_rows("dev", limit=8)))


def config(out, small_sets, **kw):
    train_tsv, dev_tsv = small_sets
    values = dict(out=out, data=[train_tsv], dev=[dev_tsv], preset="convnext-vit-test", steps=60, batch_size=16,
                  eval_every=20, warmup_steps=5, lr=3e-3, workers=0, threads=1, progress=False,
                  synth_assets=str(SYNTH_ASSETS) if SYNTH_ASSETS.exists() else None)
    values.update(kw)
    return TrainConfig(**values)


@pytest.mark.slow
def test_short_run_lowers_the_loss_and_writes_a_loadable_model_dir(tmp_path, small_sets):
    out = tmp_path / "run"
    result = train(config(out, small_sets))
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [20, 40, 60]
    assert records[-1]["loss"] < 0.7 * records[0]["loss"]
    assert result["step"] == 60
    reader = PlateReader.from_dir(out)
    assert reader.vocab.tokens == tuple(PLATE_CHARS)
    texts = reader.read([p for p, _ in real_rows("dev", limit=2)])
    assert len(texts) == 2 and all(set(t) <= set(PLATE_CHARS) for t in texts)
    assert (out / "train_state.pt").exists() and (out / "configuration.json").exists()


@pytest.mark.slow
def test_resume_continues_from_the_saved_step(tmp_path, small_sets):
    out = tmp_path / "run"
    train(config(out, small_sets, steps=40, time_limit_s=0.0))  # stops at the first step, state saved
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["step"]
    result = train(config(out, small_sets, steps=40, resume=True))
    assert result["step"] == 40 and first < 40
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps[0] == first and steps[-1] == 40


@pytest.mark.slow
def test_resume_keeps_the_best_so_far_only_on_the_same_dev_set(tmp_path, small_sets):
    out = tmp_path / "run"
    train(config(out, small_sets, steps=4, time_limit_s=0.0))  # one step, state saved
    state_path = out / "train_state.pt"
    state = torch.load(state_path, weights_only=False)
    state["best"] = [1.0, 1.0]  # a score no later evaluation on the same set can pass
    torch.save(state, state_path)

    def saved_on_resume(dev_tsv, steps):
        train(config(out, small_sets, dev=[dev_tsv], steps=steps, resume=True))
        return json.loads((out / "metrics.jsonl").read_text().splitlines()[-1]).get("saved", False)

    _, dev_tsv = small_sets
    assert not saved_on_resume(dev_tsv, steps=2)
    assert saved_on_resume(write_tsv(tmp_path / "other_dev.tsv", real_rows("dev", limit=4)), steps=3)
    assert torch.load(state_path, weights_only=False)["best"][0] < 1.0


def test_fine_tuning_remaps_the_head_to_a_new_vocab(tmp_path, small_sets):
    old = CTCVocab.from_chars("京沪A0123456789")
    net = PlateRecognizer(NetworkConfig(**{**PRESETS["convnext-vit-test"].to_dict(), "num_classes": old.num_classes}))
    src = save_model_dir(tmp_path / "old", net, old, COMPACT_GEOMETRY, half=False)
    new = CTCVocab.from_chars(PLATE_CHARS)
    remapped = remap_head(net, old, new)
    assert remapped.vitstr.head.weight.shape[0] == new.num_classes
    for char in "京A7":
        torch.testing.assert_close(remapped.vitstr.head.weight[new.encode(char)[0]],
                                   net.vitstr.head.weight[old.encode(char)[0]])
    out = tmp_path / "tuned"
    train(config(out, small_sets, init_from=str(src), steps=4, eval_every=4))
    assert PlateReader.from_dir(out).vocab == new


def test_fine_tuning_can_grow_the_network(tmp_path, small_sets, tiny_model_dir):
    out = tmp_path / "grown"
    train(config(out, small_sets, init_from=str(tiny_model_dir), depths=(1, 1, 2, 1), num_blocks=2, steps=2,
                 eval_every=2))
    config_out = PlateReader.from_dir(out).network.config
    assert config_out.depths == (1, 1, 2, 1) and config_out.num_blocks == 2


def test_fine_tuning_can_switch_a_gray_model_to_colour(tmp_path, small_sets, tiny_model_dir):
    out = tmp_path / "color"
    train(config(out, small_sets, init_from=str(tiny_model_dir), color=True, steps=2, eval_every=2))
    assert json.loads((out / "configuration.json").read_text())["model"]["network"]["in_channels"] == 3
    reader = PlateReader.from_dir(out)
    assert reader.network.config.in_channels == 3
    assert len(reader.read([p for p, _ in real_rows("dev", limit=1)])) == 1


def test_weight_average_moves_a_share_of_the_way_towards_the_network():
    torch.manual_seed(0)
    net = PlateRecognizer(PRESETS["convnext-vit-test"])
    start = {k: v.clone() for k, v in net.state_dict().items()}
    average = WeightAverage(net, decay=0.75)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    average.update(net)
    for name, value in average.network.state_dict().items():
        torch.testing.assert_close(value, start[name] + 0.25)
    assert not any(p.requires_grad for p in average.network.parameters())


def test_averaged_run_saves_the_average_not_the_last_weights(tmp_path, small_sets, tiny_model_dir):
    out = tmp_path / "averaged"
    train(config(out, small_sets, init_from=str(tiny_model_dir), steps=3, eval_every=3, warmup_steps=1,
                 ema_decay=0.5))
    state = torch.load(out / "train_state.pt", map_location="cpu", weights_only=False)
    saved = torch.load(out / "pytorch_model.pt", map_location="cpu")["vitstr.head.weight"].float()
    average, last = state["average"]["vitstr.head.weight"], state["model"]["vitstr.head.weight"]
    # fp16 rounding of the saved file is far smaller than the average's lag behind the last step
    assert (saved - average).norm() < 0.1 * (saved - last).norm()


def test_learning_rate_warms_up_then_decays(tmp_path):
    cfg = TrainConfig(out=tmp_path, steps=100, warmup_steps=10, lr=1e-3)
    assert lr_at(0, cfg) < lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(50, cfg) < 1e-3 and lr_at(100, cfg) == pytest.approx(2e-5)


def test_bad_config_names_the_option(tmp_path):
    with pytest.raises(ValueError, match="preset"):
        TrainConfig(out=tmp_path, preset="huge")
    with pytest.raises(ValueError, match="real_fraction"):
        TrainConfig(out=tmp_path, real_fraction=2)
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(out=tmp_path, ema_decay=1.0)
    with pytest.raises(ValueError, match="given without synth_assets"):
        TrainConfig(out=tmp_path, synth_weights={"blue": 1.0})
