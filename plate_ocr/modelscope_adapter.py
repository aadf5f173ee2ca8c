"""ModelScope integration: model, preprocessor and pipeline, registered under ``ocr-recognition``.

The only module of the package that imports ModelScope. Registration is idempotent: a name that
is already registered (this module imported twice, or under another package path by ModelScope's
remote-code route) keeps its first class.

Outputs follow ModelScope's ``ocr-recognition`` pipelines: ``{'text': ['京A12345']}`` for one
input; for a list, a list of those, or of ``{'text': '京A12345'}`` when ``batch_size`` is given.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch
from modelscope.models.base import TorchModel
from modelscope.models.builder import MODELS
from modelscope.outputs import OutputKeys
from modelscope.pipelines.base import Pipeline
from modelscope.pipelines.builder import PIPELINES
from modelscope.preprocessors.base import Preprocessor
from modelscope.preprocessors.builder import PREPROCESSORS
from modelscope.utils.constant import Fields, Tasks

from .model_dir import MODEL_TYPE, PIPELINE_TYPE, PREPROCESSOR_TYPE, load_model_dir, parse_spec
from .reader import DEFAULT_CHUNK_BATCH, PlateReader, candidate_canvases


class PlateOCRModel(TorchModel):
    """The recogniser of a model directory; forward takes canvases, postprocess decodes."""

    def __init__(self, model_dir: str, engine: str = "auto", decoder: str | None = None, **kwargs: Any) -> None:
        super().__init__(model_dir, **kwargs)
        network, spec = load_model_dir(model_dir)
        self.network = network
        chosen = {} if decoder is None else {"decoder": decoder}  # else the directory's
        self.reader = PlateReader.from_spec(network, spec, engine=engine, **chosen)

    def forward(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        """inputs['canvas']: (N, 32, W, 3) uint8 candidate canvases, inputs['owner']: (N,) the
        input each belongs to -> {'logits': (B, T, C)}, one row per input."""
        logits = self.reader.logits_of_canvases(list(inputs["canvas"].cpu().numpy()))
        owners = inputs.get("owner")
        return {"logits": logits if owners is None else self.reader.pick(logits, owners.tolist())}

    def postprocess(self, inputs: Dict[str, Any], **kwargs: Any) -> Dict[str, Any]:
        return {"preds": self.reader.decode(inputs["logits"]), "logits": inputs["logits"]}


class PlateOCRPreprocessor(Preprocessor):
    """Input (or list of inputs) -> ``{'canvas': (N, 32, W, 3) uint8, 'owner': (N,) int64}``:
    the candidate canvases of each input and which input each belongs to."""

    def __init__(self, model_dir: str, **kwargs: Any) -> None:
        super().__init__(kwargs.pop("mode", "inference"))
        self.geometry = kwargs["geometry"] if "geometry" in kwargs else parse_spec(model_dir).geometry

    def __call__(self, inputs: Any) -> Dict[str, torch.Tensor]:
        listed = isinstance(inputs, list)
        canvases, owners = candidate_canvases(self.geometry, inputs if listed else [inputs], 0 if listed else None)
        return {"canvas": torch.from_numpy(np.stack(canvases)), "owner": torch.tensor(owners, dtype=torch.long)}


class PlateOCRPipeline(Pipeline):
    """``pipeline(Tasks.ocr_recognition, model=<model dir>)`` for plate crops.

    Builds its model itself (no ``Model.from_pretrained``), so it works the same installed and
    through ModelScope's remote-code route. List inputs are batched for real; a bad item raises
    an error naming its index. ``engine`` (``pipeline(..., engine="torchscript")``) picks what
    runs the network and ``decoder`` (``pipeline(..., decoder="greedy")``) how its logits become
    text, as in :class:`~plate_ocr.reader.PlateReader`; by default, as the model directory says.
    """

    def __init__(self, model: Any, preprocessor: Any = None, engine: str = "auto", decoder: str | None = None,
                 **kwargs: Any) -> None:
        if isinstance(model, str):
            model = PlateOCRModel(model, engine=engine, decoder=decoder, device=kwargs.get("device", "cpu"))
        if preprocessor is None:
            preprocessor = PlateOCRPreprocessor(model.model_dir, geometry=model.reader.geometry)
        super().__init__(model=model, preprocessor=preprocessor, **kwargs)
        self.model.eval()

    def _check_input(self, input: Any) -> None:
        """Inputs are validated while loading, with errors that name them (bytes allowed)."""

    def __call__(self, input: Any, *args: Any, **kwargs: Any) -> Any:
        """Reads through the engine directly: ModelScope's per-call machinery (collation, device
        placement, output checks) costs more than the compact network itself. The result is
        what ``preprocess`` -> ``forward`` -> ``postprocess`` give, in ModelScope's shapes."""
        if not self._model_prepare:
            self.prepare_model()
        if not isinstance(input, list):
            return {OutputKeys.TEXT: [self.model.reader.read_one(input)]}
        batch_size = kwargs.pop("batch_size", None)
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        texts = self.model.reader.read(input, batch_size=batch_size or DEFAULT_CHUNK_BATCH)
        if batch_size is None:
            return [{OutputKeys.TEXT: [t]} for t in texts]
        return [{OutputKeys.TEXT: t} for t in texts]

    def preprocess(self, inputs: Any, **kwargs: Any) -> Dict[str, Any]:
        return self.preprocessor(inputs)

    def forward(self, inputs: Dict[str, Any], **kwargs: Any) -> Dict[str, Any]:
        # Straight to texts: the merged logits are not needed to read, only to inspect
        # (PlateOCRModel.forward gives them).
        canvases = list(inputs["canvas"].cpu().numpy())
        return {"preds": self.model.reader.texts_of_canvases(canvases, inputs["owner"].tolist())}

    def postprocess(self, inputs: Dict[str, Any], **kwargs: Any) -> Dict[str, Any]:
        return {OutputKeys.TEXT: inputs["preds"]}


def _register(registry: Any, group: str, name: str, cls: type) -> None:
    if registry.get(name, group_key=group) is None:
        registry.register_module(group_key=group, module_name=name, module_cls=cls)


_register(MODELS, Tasks.ocr_recognition, MODEL_TYPE, PlateOCRModel)
_register(PREPROCESSORS, Fields.cv, PREPROCESSOR_TYPE, PlateOCRPreprocessor)
_register(PIPELINES, Tasks.ocr_recognition, PIPELINE_TYPE, PlateOCRPipeline)

#: ModelScope's own pipeline type for DAMO's ConvNextViT recognisers.
UPSTREAM_PIPELINE_TYPE = "convnextTiny-ocr-recognition"


def use_for_upstream_models() -> None:
    """Opt-in: make DAMO's ConvNextViT model directories (their ``configuration.json`` names
    ``convnextTiny-ocr-recognition``) run on this implementation: same text, faster, and no
    crash on ids without a vocab line. Affects this process only; call it after importing
    ModelScope and before building the pipeline."""
    # ModelScope imports its own pipeline module lazily when the name is first built, and that
    # import registers the name: import it now, so that the override below is the last word.
    import modelscope.pipelines.cv.ocr_recognition_pipeline  # noqa: F401

    PIPELINES.register_module(group_key=Tasks.ocr_recognition, module_name=UPSTREAM_PIPELINE_TYPE,
                              module_cls=PlateOCRPipeline, force=True)
