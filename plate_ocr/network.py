"""The ConvNeXt + transformer CTC recogniser family (ModelScope's ``ConvNextViT`` and smaller kin).

Order of this file: building blocks, the recogniser, checkpoint remapping, named presets.

Shapes for one chunk of ``H x W`` pixels (``H`` = 32): the stem (4x4, stride 4) gives ``H/4 x W/4``;
each of the three downsamplers halves the height only, so the map ends ``1 x W/4`` and becomes
``W/4`` tokens left to right. The transformer never looks across chunks; the caller merges chunk
tokens (see :mod:`plate_ocr.geometry`) before the linear CTC head.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

#: ITU-R 601 luma weights that upstream uses to turn its RGB input gray inside the network.
GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)
#: Width (and height) of one stem patch: every 4 input columns make one time step.
STEM_STRIDE = 4
LN_EPS = 1e-6


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of one recogniser of the family.

    Attributes:
        depths: ConvNeXt blocks per stage (4 stages).
        dims: Channels per stage (4 stages).
        embed_dim: Transformer width.
        num_blocks: Transformer blocks.
        num_heads: Attention heads (``embed_dim`` must divide by it).
        mlp_ratio: Hidden size of the transformer MLP over ``embed_dim``.
        num_positions: Tokens per chunk (chunk width / 4); one learned position each.
        num_classes: Head outputs, blank and reserved ids included.
        dropout: Dropout in the transformer blocks (training only).
        in_channels: What the stem sees: 1 is a gray image made inside the network with
            :data:`GRAY_WEIGHTS` (upstream), 3 the RGB image itself (plate colour tells the
            plate type, and with it which characters may stand where).
    """

    depths: tuple[int, ...] = (3, 3, 8, 3)
    dims: tuple[int, ...] = (96, 192, 256, 512)
    embed_dim: int = 192
    num_blocks: int = 12
    num_heads: int = 3
    mlp_ratio: float = 4.0
    num_positions: int = 75
    num_classes: int = 7644
    dropout: float = 0.1
    in_channels: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
        if len(self.depths) != 4 or len(self.dims) != 4:
            raise ValueError(f"network: depths and dims need 4 stages, got {self.depths} / {self.dims}")
        if min(self.depths) < 1 or min(self.dims) < 1:
            raise ValueError(f"network: depths and dims must be positive, got {self.depths} / {self.dims}")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"network: embed_dim {self.embed_dim} does not divide into num_heads {self.num_heads}")
        if self.num_classes < 3:
            raise ValueError(f"network: num_classes must be at least 3, got {self.num_classes}")
        if self.num_positions < 1:
            raise ValueError(f"network: num_positions must be positive, got {self.num_positions}")
        if self.in_channels not in (1, 3):
            raise ValueError(f"network: in_channels must be 1 (gray) or 3 (RGB), got {self.in_channels}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "NetworkConfig":
        """Builds from a ``configuration.json`` section; an unknown key is an error naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known - {"preset"})
        if unknown:
            raise ValueError(f"network: unknown key(s) {unknown}; known: {sorted(known)}")
        base = PRESETS[values["preset"]] if "preset" in values else cls()
        if "preset" in values and values["preset"] not in PRESETS:
            raise ValueError(f"network.preset: unknown {values['preset']!r}; known: {sorted(PRESETS)}")
        return cls(**{**asdict(base), **{k: v for k, v in values.items() if k != "preset"}})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["depths"] = list(self.depths)
        out["dims"] = list(self.dims)
        return out


class ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channels of an ``(N, C, H, W)`` map (biased variance, like upstream)."""

    def __init__(self, channels: int, eps: float = LN_EPS) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv, LayerNorm, MLP (d -> 4d -> d), layer scale, residual."""

    def __init__(self, dim: int, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) -> (N, C, H, W)."""
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        if self.gamma is not None:  # None once folded into pwconv2 (see fold_layer_scales)
            y = self.gamma * y
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtTrunk(nn.Module):
    """Four ConvNeXt stages on a gray or RGB image; the height shrinks 32 -> 1, the width only by 4."""

    def __init__(self, depths: tuple[int, ...], dims: tuple[int, ...], layer_scale: float,
                 in_channels: int = 1) -> None:
        super().__init__()
        self.downsample_layers = nn.ModuleList([nn.Sequential(
            nn.Conv2d(in_channels, dims[0], kernel_size=4, stride=4), ChannelsFirstLayerNorm(dims[0]))])
        for i in range(3):
            self.downsample_layers.append(nn.Sequential(
                ChannelsFirstLayerNorm(dims[i]),
                nn.Conv2d(dims[i], dims[i + 1], kernel_size=(2, 1), stride=(2, 1))))
        self.stages = nn.ModuleList(
            nn.Sequential(*[ConvNeXtBlock(dim, layer_scale) for _ in range(depth)])
            for depth, dim in zip(depths, dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_channels, 32, W) -> (N, dims[-1], 1, W/4)."""
        for downsample, stage in zip(self.downsample_layers, self.stages):
            x = stage(downsample(x))
        return x


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, T, D) -> (N, T, D)."""
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        drop = self.dropout if self.training else 0.0
        scores = (q @ k.transpose(-2, -1)) * (d // self.num_heads) ** -0.5
        weights = F.dropout(scores.softmax(dim=-1), drop, self.training)
        out = (weights @ v).transpose(1, 2).reshape(n, t, d)
        return F.dropout(self.proj(out), drop, self.training)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc2(self.dropout(self.act(self.fc1(x)))))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, 1, T) -> (N, T, D)."""
        return self.proj(x).flatten(2).transpose(1, 2)


class SequenceEncoder(nn.Module):
    """Patch embedding, learned positions, transformer blocks, final norm and the CTC head.

    Parameter names follow upstream's ``vitstr`` module so its checkpoints load as they are
    (``cls_token`` is kept for that reason only: upstream saves it but never uses it).
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        dim = config.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, config.num_positions, dim))
        self.patch_embed = PatchEmbed(config.dims[-1], dim)
        self.blocks = nn.Sequential(*[
            TransformerBlock(dim, config.num_heads, config.mlp_ratio, config.dropout)
            for _ in range(config.num_blocks)])
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.head = nn.Linear(dim, config.num_classes)


class PlateRecognizer(nn.Module):
    """ConvNeXt trunk + transformer + linear CTC head, over fixed-size chunks.

    ``forward`` runs chunks that each stand alone (a single-chunk model); a chunked caller uses
    :meth:`encode` per chunk, merges the token sequences and applies :meth:`classify`.
    """

    def __init__(self, config: NetworkConfig, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.config = config
        self.cnn_model = ConvNeXtTrunk(config.depths, config.dims, layer_scale, config.in_channels)
        self.vitstr = SequenceEncoder(config)
        nn.init.trunc_normal_(self.vitstr.pos_embed, std=0.02)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Token features of independent chunks.

        Args:
            images: (N, 3, 32, W) RGB in [0, 1], W = 4 * ``num_positions``.

        Returns:
            (N, W/4, embed_dim) features after the final LayerNorm.
        """
        if self.config.in_channels == 1:
            r, g, b = GRAY_WEIGHTS
            images = images[:, 0:1] * r + images[:, 1:2] * g + images[:, 2:3] * b
        feats = self.cnn_model(images)
        if feats.shape[2] != 1:
            raise ValueError(f"input height {images.shape[2]} does not reduce to 1 (expected 32)")
        enc = self.vitstr
        tokens = enc.patch_embed(feats)
        if tokens.shape[1] != enc.pos_embed.shape[1]:
            raise ValueError(
                f"chunk width {images.shape[3]} gives {tokens.shape[1]} tokens; the model has "
                f"{enc.pos_embed.shape[1]} positions (width {STEM_STRIDE * enc.pos_embed.shape[1]})")
        return enc.norm(enc.blocks(tokens + enc.pos_embed))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """(N, T, D) features -> (N, T, num_classes) logits (no softmax)."""
        return self.vitstr.head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, 32, W) -> (N, W/4, num_classes) logits."""
        return self.classify(self.encode(images))


def grow(network: PlateRecognizer, depths: Sequence[int] | None = None,
         num_blocks: int | None = None) -> PlateRecognizer:
    """A deeper copy of ``network`` that computes the same function.

    New ConvNeXt blocks go at the end of their stage with layer scale 0; new transformer blocks
    go after the last one with their attention and MLP output projections at 0. Each starts as
    an identity, so fine-tuning the grown network starts from the old one's accuracy.

    Raises:
        ValueError: if a stage or the transformer would get fewer blocks than it has.
    """
    old = network.config
    depths = tuple(old.depths if depths is None else (int(d) for d in depths))
    num_blocks = old.num_blocks if num_blocks is None else int(num_blocks)
    if any(n < o for n, o in zip(depths, old.depths)) or num_blocks < old.num_blocks:
        raise ValueError(f"grow: cannot go from depths {old.depths} and {old.num_blocks} transformer "
                         f"blocks to {depths} and {num_blocks}: blocks can only be added")
    out = PlateRecognizer(NetworkConfig(**{**asdict(old), "depths": depths, "num_blocks": num_blocks}))
    result = out.load_state_dict(network.state_dict(), strict=False)
    assert not result.unexpected_keys, result.unexpected_keys  # every old tensor has a place
    with torch.no_grad():
        for stage, kept in zip(out.cnn_model.stages, old.depths):
            for block in list(stage)[kept:]:
                block.gamma.zero_()
        for block in list(out.vitstr.blocks)[old.num_blocks:]:
            for layer in (block.attn.proj, block.mlp.fc2):
                layer.weight.zero_()
                layer.bias.zero_()
    return out


def fold_layer_scales(network: PlateRecognizer) -> PlateRecognizer:
    """A copy of ``network`` for inference with each ConvNeXt block's layer scale multiplied
    into the weights and bias of its second pointwise layer: the same function with one
    elementwise product per block fewer. The copy has no ``gamma`` parameters, so it is not for
    training or saving."""
    out = copy.deepcopy(network)
    with torch.no_grad():
        for block in out.modules():
            if isinstance(block, ConvNeXtBlock) and block.gamma is not None:
                block.pwconv2.weight.mul_(block.gamma[:, None])
                block.pwconv2.bias.mul_(block.gamma)
                block.gamma = None
    return out


def with_color_input(network: PlateRecognizer) -> PlateRecognizer:
    """A copy of a gray-input ``network`` that takes RGB and computes the same function.

    The stem's one input channel becomes three, weighted by :data:`GRAY_WEIGHTS`: a convolution
    of the weighted sum equals the sum of the weighted convolutions. Fine-tuning then starts
    from the gray model's accuracy and can learn to use colour.

    Raises:
        ValueError: if ``network`` takes RGB already.
    """
    if network.config.in_channels != 1:
        raise ValueError(f"with_color_input: the network takes {network.config.in_channels} channels, not gray")
    out = PlateRecognizer(replace(network.config, in_channels=3))
    state = dict(network.state_dict())
    stem = "cnn_model.downsample_layers.0.0.weight"
    state[stem] = state[stem] * torch.tensor(GRAY_WEIGHTS, dtype=state[stem].dtype)[None, :, None, None]
    out.load_state_dict(state, strict=True)
    return out.train(network.training)


def strip_prefixes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drops the ``recognizer.`` / ``module.`` prefixes of fine-tuned and DDP checkpoints."""
    out = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for prefix in ("module.", "recognizer."):
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def checkpoint_filter_fn(state_dict: Mapping[str, torch.Tensor], model: PlateRecognizer) -> dict[str, torch.Tensor]:
    """Remaps a foreign checkpoint onto ``model``'s names and checks it covers every parameter.

    Raises:
        ValueError: listing missing keys, unexpected keys and shape mismatches by name.
    """
    state = strip_prefixes(state_dict)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(state) if tuple(state[k].shape) != tuple(own[k].shape))
    if missing or unexpected or mismatched:
        parts = []
        for name, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if items:
                shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
                parts.append(f"{name}: {shown}")
        raise ValueError("checkpoint does not fit the network: " + "; ".join(parts))
    return {k: v.to(own[k].dtype) for k, v in state.items()}


def infer_config(state_dict: Mapping[str, torch.Tensor], **overrides: Any) -> NetworkConfig:
    """Reads the network sizes off a checkpoint (depths, dims, blocks, positions, classes).

    ``num_heads`` and ``mlp_ratio`` cannot all be read off weights: heads default to
    ``embed_dim // 64`` (upstream: 192 -> 3) unless given in ``overrides``.
    """
    state = strip_prefixes(state_dict)
    depths = tuple(
        1 + max((int(k.split(".")[3]) for k in state if k.startswith(f"cnn_model.stages.{s}.")), default=-1)
        for s in range(4))
    dims = tuple(int(state[f"cnn_model.stages.{s}.0.gamma"].shape[0]) for s in range(4))
    _, num_positions, embed_dim = state["vitstr.pos_embed"].shape
    num_blocks = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("vitstr.blocks."))
    hidden = state["vitstr.blocks.0.mlp.fc1.weight"].shape[0]
    in_channels = int(state["cnn_model.downsample_layers.0.0.weight"].shape[1])
    values: dict[str, Any] = dict(
        depths=depths, dims=dims, embed_dim=int(embed_dim), num_blocks=num_blocks,
        num_heads=max(1, int(embed_dim) // 64), mlp_ratio=hidden / embed_dim,
        num_positions=int(num_positions), num_classes=int(state["vitstr.head.weight"].shape[0]),
        in_channels=in_channels)
    values.update(overrides)
    return NetworkConfig(**values)


PRESETS: dict[str, NetworkConfig] = {
    # Exactly ModelScope's ConvNextViT (damo/cv_convnextTiny_ocr-recognition-*): 321 tensors.
    "convnext-vit-upstream": NetworkConfig(),
    # The bundled plate model: ~1.2 M parameters, one 32x160 chunk per plate.
    "convnext-vit-compact": NetworkConfig(
        depths=(2, 2, 4, 2), dims=(32, 64, 96, 128), embed_dim=128, num_blocks=2, num_heads=4,
        mlp_ratio=2.0, num_positions=40, num_classes=74),
    # For tests: builds and runs in milliseconds.
    "convnext-vit-test": NetworkConfig(
        depths=(1, 1, 1, 1), dims=(8, 8, 16, 16), embed_dim=16, num_blocks=1, num_heads=2,
        mlp_ratio=2.0, num_positions=40, num_classes=74),
}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
