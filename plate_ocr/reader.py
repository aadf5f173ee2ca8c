"""The inference engine shared by the ModelScope pipeline, the CLI and evaluation.

Exactness: every chunk goes through the network on its own (no BatchNorm, attention within a
chunk) and the CTC head is applied per time step, so a chunk's logits depend on its pixels only;
merging chunk logits equals upstream's merging of features before the head. Identical chunks
(above all the all-black padding chunks that fill two thirds of upstream's canvas for a plate
crop) are computed once per call, and the all-black chunk once per reader.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from .engines import Runner, build_runner, check_engine
from .formats import PlateFormats, check_decoder
from .geometry import ChunkGeometry
from .imageio import PlateInputError, describe, load_rgb
from .model_dir import ModelSpec, load_model_dir
from .network import PlateRecognizer
from .vocab import CTCVocab

#: Chunks per network call; bounds peak memory for long lists.
DEFAULT_CHUNK_BATCH = 32


def candidate_canvases(geometry: ChunkGeometry, items: Sequence[Any], first_index: int | None = 0
                       ) -> tuple[list[np.ndarray], list[int]]:
    """Candidate canvases of a list of inputs and, per canvas, the list position it belongs to.

    A bad item raises :class:`PlateInputError` naming it, with its index unless
    ``first_index`` is None (a single input, not a list).
    """
    canvases, owners = [], []
    for i, item in enumerate(items):
        name = describe(item) if first_index is None else describe(item, first_index + i)
        found = geometry.candidates(load_rgb(item, name))
        canvases.extend(found)
        owners.extend([i] * len(found))
    return canvases, owners


class PlateReader:
    """Reads plate crops with one recogniser.

    Args:
        network: The recogniser (put in eval mode here).
        vocab: Its vocabulary.
        geometry: How images become chunks.
        chunk_batch: Most chunks per network call.
        engine: What runs the network (:data:`plate_ocr.engines.ENGINES`): ``auto`` (the
            default) takes ONNX Runtime on the CPU when the ``onnx`` extra is installed, else a
            traced, frozen TorchScript copy in channels-last layout, else eager mode. The
            engine is built on first use, for the network's device and torch's thread count at
            that time, and rebuilt when either changes. The float engines give the same
            logits to float rounding; ``onnxruntime-int8`` close to them.
        int8: Whether ``auto`` takes ``onnxruntime-int8`` on the CPU (``model.int8`` of the
            model directory).
        decoder: How logits become text (``model.decoder`` of the model directory):
            ``greedy``, upstream's best-path decoding, or ``plate-format``, the best path whose
            text is a valid Chinese plate (:class:`plate_ocr.formats.PlateFormats`). It also
            decides which candidate canvas of an input is read: the one whose path scores
            highest.
    """

    def __init__(self, network: PlateRecognizer, vocab: CTCVocab, geometry: ChunkGeometry,
                 chunk_batch: int = DEFAULT_CHUNK_BATCH, engine: str = "auto",
                 int8: bool = False, decoder: str = "greedy") -> None:
        if chunk_batch < 1:
            raise ValueError(f"chunk_batch must be positive, got {chunk_batch}")
        self.network = network.eval()
        self.vocab = vocab
        self.geometry = geometry
        self.chunk_batch = chunk_batch
        self._blank_logits: torch.Tensor | None = None
        self.engine = check_engine(engine)
        self.int8 = int8
        self.decoder = check_decoder(decoder)
        self.formats = PlateFormats(vocab) if self.decoder == "plate-format" else None
        self._runner_key: tuple[torch.device, int] | None = None
        self._runner_name = ""
        self._run: Runner | None = None

    @classmethod
    def from_dir(cls, model_dir: str | Path, **kwargs: Any) -> "PlateReader":
        """Loads a model directory (this project's or ModelScope's ConvNextViT layout)."""
        network, spec = load_model_dir(model_dir)
        return cls.from_spec(network, spec, **kwargs)

    @classmethod
    def from_spec(cls, network: PlateRecognizer, spec: ModelSpec, **kwargs: Any) -> "PlateReader":
        kwargs.setdefault("int8", spec.int8)
        kwargs.setdefault("decoder", spec.decoder)
        return cls(network, spec.vocab, spec.geometry, **kwargs)

    # -- network -----------------------------------------------------------------------------
    @torch.inference_mode()
    def _chunk_logits(self, chunks: list[np.ndarray],
                      reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """(N, 32, cw, 3) uint8 chunks -> (N, T, C) logits, ``chunk_batch`` at a time, each
        batch passed through ``reduce`` if given (so full logits never pile up)."""
        out = []
        for start in range(0, len(chunks), self.chunk_batch):
            batch = np.stack(chunks[start:start + self.chunk_batch])
            logits = self._runner(batch)(batch).cpu()
            out.append(logits if reduce is None else reduce(logits))
        return torch.cat(out)

    def _runner(self, example: np.ndarray) -> Runner:
        # the pipeline may have moved the network, and the CLI sets the thread count after loading
        key = (self.network.vitstr.head.weight.device, torch.get_num_threads())
        if self._run is None or self._runner_key != key:
            self._runner_name, self._run = build_runner(self.network, self.engine, example, key[1], self.int8)
            self._runner_key = key
        return self._run

    @property
    def engine_in_use(self) -> str:
        """The engine that runs the network (``onnxruntime``, ``onnxruntime-int8``, ``torchscript`` or ``eager``),
        building it if it is not built yet."""
        self._runner(self._black_chunk()[None])
        return self._runner_name

    def _black_chunk(self) -> np.ndarray:
        g = self.geometry
        return np.zeros((g.img_height, g.chunk_width, 3), np.uint8)

    def _blank(self) -> torch.Tensor:
        if self._blank_logits is None:
            self._blank_logits = self._chunk_logits([self._black_chunk()])[0]
        return self._blank_logits

    @torch.inference_mode()
    def _assemble(self, canvases: Sequence[np.ndarray], reduce: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Per-step values of canvases, computed per distinct chunk and merged along the token
        spans: ``reduce`` maps chunk logits (N, T, C) to (N, T, ...) before merging, which is
        exact for anything computed step by step (logits themselves, argmax, max log-prob)."""
        g = self.geometry
        index: dict[bytes, int] = {}
        unique: list[np.ndarray] = []
        slots: list[list[int]] = []  # per image, per chunk: -1 for blank, else row of `unique`
        for canvas in canvases:
            row = []
            for chunk in g.chunks(canvas):
                if not chunk.any():
                    row.append(-1)
                    continue
                key = chunk.tobytes()
                if key not in index:
                    index[key] = len(unique)
                    unique.append(chunk)
                row.append(index[key])
            slots.append(row)
        values = self._chunk_logits(unique, reduce) if unique else None
        blank = reduce(self._blank()[None])[0] if any(-1 in row for row in slots) else None
        sequences = [
            torch.cat([(blank if slot < 0 else values[slot])[start:end] for slot, (start, end) in zip(row, g.token_spans)])
            for row in slots]
        if not sequences:
            shape = reduce(torch.zeros(1, g.tokens_per_chunk, self.network.config.num_classes)).shape[2:]
            return torch.zeros(0, g.sequence_length, *shape)
        return torch.stack(sequences)

    def logits_of_canvases(self, canvases: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, img_height, img_width, 3) canvases -> (B, sequence_length, num_classes) logits."""
        return self._assemble(canvases, lambda logits: logits)

    @staticmethod
    def _best(logits: torch.Tensor) -> torch.Tensor:
        """(N, T, C) -> (N, T, 2): the argmax id (as float) and its log-probability."""
        top = logits.max(-1)
        log_p = top.values - logits.logsumexp(-1)
        return torch.stack([top.indices.to(logits.dtype), log_p], dim=-1)

    def _nothing_to_choose(self, owners: Sequence[int]) -> bool:
        """Greedy decoding with one candidate per owner: each row is read as it is."""
        return self.formats is None and len(set(owners)) == len(owners)

    def _readings(self, best: torch.Tensor, owners: Sequence[int],
                  logits: torch.Tensor | None = None) -> tuple[list[int], list[str]]:
        """Per owner, in order: the candidate row read and its text.

        A candidate scores its path's summed log-probability: the greedy path's, or with the
        ``plate-format`` decoder the best valid path's. Candidates of one owner are adjacent;
        ties keep the first.

        Args:
            best: (N, T, 2) per-step argmax id and its log-probability (:meth:`_best`).
            owners: (N,) the owner of each row.
            logits: (N, T, C) the rows' logits, which the ``plate-format`` decoder needs to
                search the rows whose greedy text is not a valid plate (None for ``greedy``).
        """
        ids = best[..., 0].long().tolist()
        greedy_scores = best[..., 1].sum(-1).tolist()
        texts = [self.vocab.decode_greedy(row) for row in ids]
        if self._nothing_to_choose(owners):
            return list(range(len(owners))), texts
        scores = list(greedy_scores)
        if self.formats is not None:
            valid = [self.formats.matches(text) for text in texts]
            beaten: dict[int, float] = {}  # owner -> its best valid greedy score
            for row, owner in enumerate(owners):
                if valid[row]:
                    beaten[owner] = max(beaten.get(owner, -math.inf), scores[row])
            for row, owner in enumerate(owners):
                if valid[row]:
                    continue
                found = None
                if scores[row] > beaten.get(owner, -math.inf):  # a valid path scores at most the greedy one
                    found = self.formats.search(logits[row].log_softmax(-1).numpy())
                scores[row] = -math.inf if found is None else found.log_prob
                if found is not None:
                    texts[row] = found.text
        # ranked by (score, greedy score): where no candidate has a valid path, the most confident wins
        ranks = list(zip(scores, greedy_scores))
        keep: dict[int, int] = {}
        for row, owner in enumerate(owners):
            if owner not in keep or ranks[row] > ranks[keep[owner]]:
                keep[owner] = row
        rows = [keep[o] for o in sorted(keep)]
        return rows, [texts[r] for r in rows]

    def pick(self, logits: torch.Tensor, owners: Sequence[int]) -> torch.Tensor:
        """(N, T, C) candidate logits -> one row per owner: the candidate read (see
        :meth:`_readings`)."""
        if self._nothing_to_choose(owners):
            return logits  # skip the confidence computation
        return logits[self._readings(self._best(logits), owners, logits)[0]]

    def logits(self, items: Sequence[Any]) -> torch.Tensor:
        """Logits of a list of inputs: (B, sequence_length, num_classes)."""
        canvases, owners = candidate_canvases(self.geometry, items)
        return self.pick(self.logits_of_canvases(canvases), owners)

    def texts_of_canvases(self, canvases: Sequence[np.ndarray], owners: Sequence[int]) -> list[str]:
        """Texts of candidate canvases, one per owner, without materialising the merged logits
        (for upstream's 7644 classes those copies cost more than a small network); the
        format decoder keeps them, for the candidates it must search."""
        if self.formats is None:
            return self._readings(self._assemble(canvases, self._best), owners)[1]
        logits = self.logits_of_canvases(canvases)
        return self._readings(self._best(logits), owners, logits)[1]

    # -- decoding ----------------------------------------------------------------------------
    def decode(self, logits: torch.Tensor) -> list[str]:
        """Decoding of (B, T, C) logits, one text per row, by the reader's decoder."""
        if self.formats is None:
            return [self.vocab.decode_greedy(row) for row in logits.argmax(-1).tolist()]
        return [self.formats.decode(row.numpy()).text for row in logits.log_softmax(-1)]

    def read(self, items: Sequence[Any], batch_size: int = DEFAULT_CHUNK_BATCH) -> list[str]:
        """Reads a list of inputs; a bad item raises :class:`PlateInputError` naming it."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        texts: list[str] = []
        for start in range(0, len(items), batch_size):
            canvases, owners = candidate_canvases(self.geometry, items[start:start + batch_size], start)
            texts.extend(self.texts_of_canvases(canvases, owners))
        return texts

    def read_one(self, item: Any) -> str:
        return self.read([item])[0]

    def read_many(self, items: Iterable[Any], batch_size: int = DEFAULT_CHUNK_BATCH):
        """For bulk jobs: yields ``(index, text, error)``; a bad item yields its error and the
        rest are still read."""
        pending: list[tuple[int, list[np.ndarray]]] = []

        def flush():
            canvases = [c for _, found in pending for c in found]
            owners = [k for k, (_, found) in enumerate(pending) for _ in found]
            texts = self.texts_of_canvases(canvases, owners)
            out = [(i, t, None) for (i, _), t in zip(pending, texts)]
            pending.clear()
            return out

        for i, item in enumerate(items):
            try:
                pending.append((i, candidate_canvases(self.geometry, [item], i)[0]))
            except PlateInputError as exc:
                yield i, None, exc
            if len(pending) >= batch_size:
                yield from flush()
        if pending:
            yield from flush()
