"""Chinese plate formats (GA 36-2018 families) and CTC decoding constrained to them.

A format is a fixed-length sequence of character sets, one per plate character (two-row plates:
top row then bottom row). :class:`PlateFormats` decodes CTC log-probabilities to the most
probable *path* whose collapsed text is a valid plate: best-path (greedy) decoding with the
search restricted to those paths. When the greedy reading is already a valid plate it is that
reading, with the same score; otherwise a Viterbi search over (format, position, character)
states finds the best valid path. Plain greedy decoding lives in :class:`plate_ocr.vocab.CTCVocab`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .vocab import CTCVocab

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
SPECIALS = "学警挂港澳使领"
DIGITS = "0123456789"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on plates
ALNUM = DIGITS + LETTERS
#: Every character a plate of :data:`PLATE_FORMATS` can hold.
CHARSET: str = PROVINCES + SPECIALS + DIGITS + LETTERS

_P, _L, _A, _D = PROVINCES, LETTERS, ALNUM, DIGITS
_STANDARD = (_P, _L) + (_A,) * 5


def _suffixed(last: str) -> tuple[str, ...]:
    return (_P, _L) + (_A,) * 4 + (last,)


#: The character sets of each plate type's label, position by position.
PLATE_FORMATS: dict[str, tuple[str, ...]] = {
    "blue": _STANDARD,
    "yellow": _STANDARD,
    "yellow_double": _STANDARD,
    "green_car": (_P, _L, "DF", _A) + (_D,) * 4,
    "green_truck": (_P, _L) + (_D,) * 5 + ("DF",),
    "white_police": _suffixed("警"),
    "white_army": (_L, _L) + (_D,) * 5,
    "white_army_double": (_L, _L) + (_D,) * 5,
    "black_hk_macao": ("粤", "Z") + (_A,) * 4 + ("港澳",),
    "black_embassy": ("使",) + (_D,) * 6,
    "black_consulate": (_P, _L) + (_D,) * 4 + ("领",),
    "yellow_coach": _suffixed("学"),
    "yellow_trailer": _suffixed("挂"),
    "yellow_trailer_double": _suffixed("挂"),
}


def format_regex(sets: Sequence[str]) -> str:
    """A full-match regular expression of one format."""
    return "".join(f"[{re.escape(chars)}]" if len(chars) > 1 else re.escape(chars) for chars in sets)


_NO_SOURCE = -1  # back-pointer: stayed in the same state
_FROM_BLANK = -2  # back-pointer: entered a character from the blank before it


@dataclass(frozen=True)
class Reading:
    """A decoded text and the summed log-probability of its best path (``-inf``: none)."""

    text: str
    log_prob: float


class PlateFormats:
    """Plate formats over one vocab: which texts are valid, and constrained CTC decoding.

    Args:
        vocab: The model's vocab. Characters it lacks are dropped from the formats, and a
            format left with an empty position is dropped.
        formats: The formats (default: the distinct ones of :data:`PLATE_FORMATS`).

    Raises:
        ValueError: If no format survives the vocab.
    """

    def __init__(self, vocab: CTCVocab, formats: Sequence[Sequence[str]] | None = None) -> None:
        if formats is None:
            formats = list(dict.fromkeys(PLATE_FORMATS.values()))
        kept = []
        for sets in formats:
            sets = tuple("".join(c for c in chars if c in vocab) for chars in sets)
            if sets and all(sets):
                kept.append(sets)
        if not kept:
            raise ValueError("no plate format can be written with this vocab")
        self.vocab = vocab
        self.formats = tuple(kept)
        self._pattern = re.compile("|".join(f"(?:{format_regex(sets)})" for sets in kept))
        chars = sorted({c for sets in kept for chars in sets for c in chars})
        # the search runs over the blank and the formats' characters only (a few dozen columns,
        # whatever the head size)
        self._columns = np.array([CTCVocab.BLANK_ID] + [vocab.encode(c)[0] for c in chars])
        self._chars = [""] + chars
        index = {c: k for k, c in enumerate(self._chars)}
        self._lengths = np.array([len(sets) for sets in kept])
        self._allowed = np.zeros((len(kept), int(self._lengths.max()), len(self._chars)), bool)
        for f, sets in enumerate(kept):
            for i, chars in enumerate(sets):
                self._allowed[f, i, [index[c] for c in chars]] = True

    def matches(self, text: str) -> bool:
        """Whether ``text`` is a plate of one of the formats."""
        return self._pattern.fullmatch(text) is not None

    def decode(self, log_probs: np.ndarray) -> Reading:
        """The valid reading of one sequence.

        Args:
            log_probs: (T, C) log-probabilities (log-softmax of the logits).

        Returns:
            The greedy reading if it is a valid plate, else the best valid path's text; when
            no valid path fits in T steps, the greedy reading with ``log_prob`` ``-inf``.
        """
        best = log_probs.argmax(-1)
        greedy = self.vocab.decode_greedy(best.tolist())
        if self.matches(greedy):
            return Reading(greedy, float(log_probs.max(-1).sum()))
        found = self.search(log_probs)
        return found if found is not None else Reading(greedy, float("-inf"))

    def search(self, log_probs: np.ndarray) -> Reading | None:
        """Viterbi search for the best path whose text is a valid plate (None if none fits).

        States per format: a character state per (position, allowed character) and a blank
        state before the first and after every position. A character state is entered from
        the blank before it or from any other character of the previous position (the same
        character twice needs a blank between, as in CTC collapsing).
        """
        x = np.asarray(log_probs, np.float64)[:, self._columns]  # (T, K), column 0 = blank
        steps, width = x.shape
        allowed, lengths = self._allowed, self._lengths
        n_formats, n_pos = allowed.shape[:2]
        neg = -np.inf
        chars = np.full(allowed.shape, neg)
        chars[:, 0] = np.where(allowed[:, 0], x[0], neg)
        blanks = np.full((n_formats, n_pos + 1), neg)  # blanks[:, i]: before position i
        blanks[:, 0] = x[0, 0]
        from_char = np.full((steps,) + allowed.shape, _NO_SOURCE, np.int16)
        from_blank = np.full((steps, n_formats, n_pos + 1), _NO_SOURCE, np.int16)
        columns = np.arange(width)
        for t in range(1, steps):
            top = chars.argmax(-1)  # (F, L)
            top_value = np.take_along_axis(chars, top[..., None], -1)[..., 0]
            others = chars.copy()
            np.put_along_axis(others, top[..., None], neg, -1)
            second = others.argmax(-1)
            second_value = np.take_along_axis(others, second[..., None], -1)[..., 0]
            # entering position i from position i - 1: its best character unless that is this one
            same = columns == top[:, :-1, None]  # (F, L-1, K)
            enter = np.full(allowed.shape, neg)
            enter_from = np.full(allowed.shape, _NO_SOURCE, np.int64)
            enter[:, 1:] = np.where(same, second_value[:, :-1, None], top_value[:, :-1, None])
            enter_from[:, 1:] = np.where(same, second[:, :-1, None], top[:, :-1, None])
            options = np.stack([chars, np.broadcast_to(blanks[:, :-1, None], chars.shape), enter])
            choice = options.argmax(0)
            from_char[t] = np.where(choice == 0, _NO_SOURCE, np.where(choice == 1, _FROM_BLANK, enter_from))
            chars = np.where(allowed, options.max(0) + x[t], neg)
            left = top_value > blanks[:, 1:]
            from_blank[t, :, 1:] = np.where(left, top, _NO_SOURCE)
            blanks = blanks + x[t, 0]
            blanks[:, 1:] = np.maximum(blanks[:, 1:], top_value + x[t, 0])
        rows = np.arange(n_formats)
        end_char = chars[rows, lengths - 1].max(-1)
        end_blank = blanks[rows, lengths]
        scores = np.maximum(end_char, end_blank)
        f = int(scores.argmax())
        if not np.isfinite(scores[f]):
            return None
        return Reading(self._trace(f, chars, end_char[f] >= end_blank[f], from_char, from_blank), float(scores[f]))

    def _trace(self, f: int, chars: np.ndarray, ends_on_char: bool, from_char: np.ndarray,
               from_blank: np.ndarray) -> str:
        """Follows the back-pointers of format ``f`` from the last step to the first."""
        n = int(self._lengths[f])
        on_char, pos = ends_on_char, (n - 1 if ends_on_char else n)
        col = int(chars[f, n - 1].argmax()) if ends_on_char else -1
        out = []
        for t in range(from_char.shape[0] - 1, 0, -1):
            if on_char:
                source = int(from_char[t, f, pos, col])
                if source == _NO_SOURCE:
                    continue
                out.append(col)
                if source == _FROM_BLANK:
                    on_char = False  # the blank before position pos has index pos
                else:
                    pos, col = pos - 1, source
            else:
                source = int(from_blank[t, f, pos])
                if source == _NO_SOURCE:
                    continue
                on_char, pos, col = True, pos - 1, source
        if on_char:
            out.append(col)
        return "".join(self._chars[c] for c in reversed(out))


#: ``greedy``: best path, collapsed (upstream's decoding). ``plate-format``: the best path whose
#: text is a valid Chinese plate (:class:`PlateFormats`).
DECODERS: tuple[str, ...] = ("greedy", "plate-format")


def check_decoder(name: object, key: str = "decoder") -> str:
    """``name`` if it is one of :data:`DECODERS`.

    Raises:
        ValueError: naming ``key`` and the value otherwise.
    """
    if name not in DECODERS:
        raise ValueError(f"{key}: expected one of {', '.join(DECODERS)}, got {name!r}")
    return name  # type: ignore[return-value]
