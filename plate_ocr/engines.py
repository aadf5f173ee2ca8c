"""Ways to run a recogniser on a batch of chunks: ONNX Runtime, TorchScript or eager PyTorch.

Every engine is a callable ``(N, H, W, 3) uint8 chunks -> (N, T, num_classes) float logits``,
built from a :class:`~plate_ocr.network.PlateRecognizer` for one device and thread count. The
float engines compute the same function and differ in speed only (reading the bundled model's
plates in turn at one thread, ``scripts/benchmark.py`` measured ONNX Runtime a quarter faster per
plate than TorchScript). ``onnxruntime-int8`` is ONNX Runtime with the weights of every matrix
product stored as int8 and the activations quantized to 8 bits on the fly: about 40% faster for
the compact family, at logits that differ from the float ones by a few tenths.

``auto`` takes the fastest one available: ONNX Runtime for a network on the CPU when the ``onnx``
extra is installed (``pip install 'plate-ocr[onnx]'``), in int8 only for a model directory that
says ``model.int8: true`` (its accuracy was measured that way), else TorchScript, else eager mode.
"""

from __future__ import annotations

import io
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .network import PlateRecognizer, count_parameters, fold_layer_scales

logger = logging.getLogger(__name__)

ENGINES = ("auto", "onnxruntime", "onnxruntime-int8", "torchscript", "eager")
#: The ONNX Runtime engines, float then int8.
ONNX_ENGINES = ("onnxruntime", "onnxruntime-int8")
#: What to install for the ``onnxruntime`` engine.
ONNX_INSTALL_HINT = "pip install 'plate-ocr[onnx]'  (onnx and onnxruntime)"

Runner = Callable[[np.ndarray], torch.Tensor]
#: Smallest batch of chunks of a small network that ONNX Runtime shares among threads; smaller
#: ones run on one thread.
MIN_SHARED_BATCH = 4
#: Networks up to this size count as small (the compact family has 1.3-1.5 M parameters).
SMALL_NETWORK_PARAMETERS = 5_000_000


class ChunkNetwork(nn.Module):
    """The recogniser with its input conversion: (N, H, W, 3) uint8 -> (N, T, C) logits.

    Seen as NCHW, NHWC bytes are already in channels-last order, which the traced network keeps.
    Wrapping puts the network in eval mode.
    """

    def __init__(self, network: PlateRecognizer) -> None:
        super().__init__()
        self.network = network
        self.eval()

    def forward(self, chunks: torch.Tensor) -> torch.Tensor:
        return self.network(chunks.permute(0, 3, 1, 2).float() / 255.0)


def check_engine(engine: str) -> str:
    """Returns ``engine`` if it is one of :data:`ENGINES`, else raises ValueError naming it."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    return engine


def build_runner(network: PlateRecognizer, engine: str, example: np.ndarray, threads: int,
                 int8: bool = False) -> tuple[str, Runner]:
    """The runner of ``network`` for ``engine``, and the name of the engine it uses.

    Args:
        network: The recogniser, in eval mode (not modified: engines work on copies or exports).
        engine: One of :data:`ENGINES`.
        example: (N, H, W, 3) uint8 chunks of the size the runner will see (N may vary).
        threads: Intra-op threads for ONNX Runtime (PyTorch's engines use torch's setting).
        int8: Whether ``auto`` may take ``onnxruntime-int8`` (the model directory's
            ``model.int8``).

    Raises:
        ValueError: ``engine`` is unknown, or an ONNX Runtime engine was asked for a network
            that is not on the CPU.
        ImportError: an ONNX Runtime engine was asked for and the ``onnx`` extra is missing
            (the message says what to install).
    """
    check_engine(engine)
    device = next(network.parameters()).device
    on_cpu = device.type == "cpu"
    if engine in ONNX_ENGINES and not on_cpu:
        raise ValueError(f"engine {engine!r} runs on the CPU only; move the network to the CPU "
                         "or use engine 'torchscript'")
    if engine in ONNX_ENGINES or (engine == "auto" and on_cpu):
        quantized = engine == "onnxruntime-int8" or (engine == "auto" and int8)
        try:
            return ONNX_ENGINES[quantized], _onnx_runner(network, example, threads, quantized)
        except ImportError as exc:
            if engine != "auto":
                raise ImportError(f"engine {engine!r} needs {ONNX_INSTALL_HINT}: {exc}") from None
            logger.info("ONNX Runtime is not installed (%s); using TorchScript", ONNX_INSTALL_HINT)
        except Exception as exc:  # an export or session failure: the PyTorch engines give the same answers
            if engine != "auto":
                raise
            logger.warning("ONNX export failed (%s); using TorchScript", exc)
    if engine in ("auto", "torchscript"):
        try:
            return "torchscript", _traced_runner(network, example, device)
        except Exception as exc:  # an unusual build of torch: eager mode gives the same answers
            if engine == "torchscript":
                raise
            logger.warning("TorchScript tracing failed (%s); running eagerly", exc)
    wrapped = ChunkNetwork(network)
    return "eager", lambda chunks: wrapped(torch.from_numpy(chunks).to(device))


def _traced_runner(network: PlateRecognizer, example: np.ndarray, device: torch.device) -> Runner:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks
        # channels-last weights spare the depthwise convolutions and the LayerNorm/Linear steps
        # of each ConvNeXt block their layout copies
        model = ChunkNetwork(fold_layer_scales(network).to(memory_format=torch.channels_last))
        traced = torch.jit.freeze(torch.jit.trace(model, torch.from_numpy(example).to(device)))
    return lambda chunks: traced(torch.from_numpy(chunks).to(device))


def _onnx_runner(network: PlateRecognizer, example: np.ndarray, threads: int, int8: bool) -> Runner:
    import onnx  # noqa: F401  (torch's exporter needs it; fail here with the install hint)
    import onnxruntime as ort

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks
        model = ChunkNetwork(fold_layer_scales(network).float())
        torch.onnx.export(model, (torch.from_numpy(example),), buffer, input_names=["chunks"],
                          output_names=["logits"], dynamic_axes={"chunks": {0: "n"}, "logits": {0: "n"}},
                          opset_version=17, dynamo=False)
    model_bytes = _int8_matmuls(buffer.getvalue()) if int8 else buffer.getvalue()

    def session(intra_op_threads: int) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # idle workers sleep instead of spinning: spinning ones fight torch's own OpenMP
        # threads for the cores (on 2 cores, a list read at 2 threads ran at half speed)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])

    many = session(threads)
    # A chunk or two of a small network is too little work to share: waking the sleeping
    # workers for each op costs more than they save (the bundled model, one plate: 4.2 ms at
    # 1 thread, 6.1 ms at 2); upstream's 19 M-parameter network gains from 2 threads even so
    small = count_parameters(network) <= SMALL_NETWORK_PARAMETERS
    few = session(1) if threads > 1 and small else many
    return lambda chunks: torch.from_numpy(
        (few if len(chunks) < MIN_SHARED_BATCH else many).run(None, {"chunks": chunks})[0])


def _int8_matmuls(model_bytes: bytes) -> bytes:
    """The ONNX model with each MatMul's weights quantized to int8 (one scale per tensor) and its
    activations quantized per call (ONNX Runtime's dynamic quantization).

    Only matrix products change: they take about 40% of the compact network's time, and the
    depthwise convolutions and LayerNorms stay in float.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="plate-ocr-int8-") as tmp:
        source, target = Path(tmp, "float.onnx"), Path(tmp, "int8.onnx")
        source.write_bytes(model_bytes)
        quiet = logging.getLogger()  # the quantizer advises on pre-processing through the root logger
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            quantize_dynamic(source, target, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
        finally:
            quiet.setLevel(level)
        return target.read_bytes()
