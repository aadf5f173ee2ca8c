import pytest
import torch

from plate_ocr.network import (PRESETS, NetworkConfig, PlateRecognizer, checkpoint_filter_fn, count_parameters,
                               fold_layer_scales, grow, infer_config, strip_prefixes, with_color_input)


def test_upstream_preset_has_upstreams_names_shapes_and_size():
    pytest.importorskip("modelscope")
    from modelscope.models.cv.ocr_recognition.modules.ConvNextViT.main_model import ConvNextViT

    ours = PlateRecognizer(PRESETS["convnext-vit-upstream"]).state_dict()
    theirs = ConvNextViT().state_dict()
    assert len(ours) == len(theirs) == 321
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}
    assert sum(v.numel() for v in ours.values()) == 19_177_980


def test_shapes_and_every_parameter_gets_a_gradient():
    net = PlateRecognizer(PRESETS["convnext-vit-test"])
    x = torch.rand(2, 3, 32, 160)
    logits = net(x)
    assert logits.shape == (2, 40, 74)
    assert torch.isfinite(logits).all()
    logits.logsumexp(-1).sum().backward()
    unused = {"vitstr.cls_token"}  # kept for upstream checkpoints, never used in forward
    missing = [n for n, p in net.named_parameters() if n not in unused and (p.grad is None or not p.grad.abs().sum())]
    assert missing == []


def test_chunks_are_independent():
    net = PlateRecognizer(PRESETS["convnext-vit-test"]).eval()
    a, b = torch.rand(1, 3, 32, 160), torch.rand(1, 3, 32, 160)
    with torch.no_grad():
        together = net(torch.cat([a, b]))
        torch.testing.assert_close(together[:1], net(a))


def test_wrong_input_sizes_name_the_problem():
    net = PlateRecognizer(PRESETS["convnext-vit-test"])
    with pytest.raises(ValueError, match="chunk width 200 gives 50 tokens"):
        net(torch.rand(1, 3, 32, 200))
    with pytest.raises(ValueError, match="height 64"):
        net(torch.rand(1, 3, 64, 160))


def test_checkpoint_filter_strips_prefixes_and_reports_keys_by_name():
    net = PlateRecognizer(PRESETS["convnext-vit-test"])
    state = {"module.recognizer." + k: v for k, v in net.state_dict().items()}
    assert set(checkpoint_filter_fn(state, net)) == set(net.state_dict())
    del state["module.recognizer.vitstr.norm.weight"]
    state["module.recognizer.extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"missing: vitstr\.norm\.weight.*unexpected: extra\.weight"):
        checkpoint_filter_fn(state, net)
    state = dict(net.state_dict())
    state["vitstr.head.bias"] = torch.zeros(5)
    with pytest.raises(ValueError, match="shape mismatch: vitstr.head.bias"):
        checkpoint_filter_fn(state, net)


def test_infer_config_reads_sizes_off_weights():
    config = PRESETS["convnext-vit-compact"]
    state = strip_prefixes(PlateRecognizer(config).state_dict())
    inferred = infer_config(state, num_heads=config.num_heads)
    assert inferred == config


def test_config_validation_names_the_key():
    with pytest.raises(ValueError, match="num_heads"):
        NetworkConfig(embed_dim=10, num_heads=3)
    with pytest.raises(ValueError, match="unknown key.*'depth'"):
        NetworkConfig.from_dict({"depth": 3})
    assert NetworkConfig.from_dict({"preset": "convnext-vit-compact", "num_blocks": 3}).num_blocks == 3


def test_compact_preset_is_small():
    assert count_parameters(PlateRecognizer(PRESETS["convnext-vit-compact"])) < 1_500_000


def test_grow_adds_blocks_that_start_as_identities():
    small = PlateRecognizer(PRESETS["convnext-vit-test"], layer_scale=0.5).eval()
    for p in small.parameters():  # nothing at zero, so an identity block is not an accident
        p.data.add_(0.01 * torch.randn_like(p))
    grown = grow(small, depths=(1, 2, 3, 1), num_blocks=3).eval()
    assert grown.config.depths == (1, 2, 3, 1) and grown.config.num_blocks == 3
    assert count_parameters(grown) > count_parameters(small)
    x = torch.rand(2, 3, 32, 160)
    with torch.no_grad():
        torch.testing.assert_close(grown(x), small(x))
    # the new blocks are real blocks: once their scale moves off zero, the output changes
    with torch.no_grad():
        grown.cnn_model.stages[2][2].gamma.fill_(0.5)
        assert not torch.allclose(grown(x), small(x))
    assert infer_config(grown.state_dict(), num_heads=2, mlp_ratio=2.0) == grown.config


def test_folded_layer_scales_compute_the_same_function_with_fewer_parameters():
    net = PlateRecognizer(PRESETS["convnext-vit-test"]).eval()
    for block in net.cnn_model.modules():  # scales far from 1 and from each other
        if hasattr(block, "gamma"):
            block.gamma.data.uniform_(-2.0, 2.0)
    folded = fold_layer_scales(net).eval()
    x = torch.rand(2, 3, 32, 160)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), rtol=1e-5, atol=1e-5)
    assert not any("gamma" in name for name, _ in folded.named_parameters())
    assert count_parameters(net) - count_parameters(folded) == sum(net.config.dims[s] * d for s, d in enumerate(net.config.depths))
    assert all(block.gamma is not None for block in net.cnn_model.modules() if hasattr(block, "gamma"))  # a copy


def test_color_input_starts_as_the_gray_network_and_can_then_see_colour():
    gray = PlateRecognizer(PRESETS["convnext-vit-test"], layer_scale=0.5).eval()
    color = with_color_input(gray).eval()
    stem = color.cnn_model.downsample_layers[0][0]
    assert color.config.in_channels == 3 and stem.weight.shape[1] == 3
    x = torch.rand(2, 3, 32, 160)
    with torch.no_grad():
        torch.testing.assert_close(color(x), gray(x))
        # a stem that weighs the channels otherwise tells apart what the gray conversion does not
        red = x.clone()
        red[:, 0] += 0.1 * 0.5870 / 0.2989
        red[:, 1] -= 0.1  # same luma as x, other colour
        torch.testing.assert_close(gray(red), gray(x))
        stem.weight[:, 2] += 0.3
        stem.weight[:, 0] -= 0.3
        assert not torch.allclose(color(red), color(x))
    assert infer_config(color.state_dict(), num_heads=2, mlp_ratio=2.0) == color.config
    with pytest.raises(ValueError, match="not gray"):
        with_color_input(color)
    with pytest.raises(ValueError, match="in_channels"):
        NetworkConfig(in_channels=2)


def test_grow_refuses_to_remove_blocks():
    net = PlateRecognizer(PRESETS["convnext-vit-compact"])
    with pytest.raises(ValueError, match="only be added"):
        grow(net, depths=(2, 2, 3, 2))
    with pytest.raises(ValueError, match="only be added"):
        grow(net, num_blocks=1)
