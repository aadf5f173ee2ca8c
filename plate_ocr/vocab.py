"""CTC vocabulary in the ModelScope ConvNextViT convention.

Line ``k`` (0-based) of ``vocab.txt`` is class id ``k + 2``; id 0 is the CTC blank and id 1 is
reserved (never a target, never emitted). Only the trailing newline of a line is stripped, so a
token may in principle be any string, but this project validates that every line is exactly one
character and that no character repeats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

logger = logging.getLogger(__name__)

#: Replacement emitted for a predicted id that has no vocab line (upstream raises KeyError).
UNKNOWN_TOKEN = "\ufffd"


@dataclass(frozen=True)
class CTCVocab:
    """Maps characters to CTC class ids and back.

    Attributes:
        tokens: The vocab lines, in file order (``tokens[k]`` is class ``k + FIRST_ID``).
    """

    tokens: tuple[str, ...]

    BLANK_ID = 0
    RESERVED_ID = 1
    FIRST_ID = 2

    def __post_init__(self) -> None:
        ids: dict[str, int] = {}
        for index, token in enumerate(self.tokens):
            ids.setdefault(token, index + self.FIRST_ID)
        object.__setattr__(self, "_ids", ids)

    def problems(self) -> list[str]:
        """Lines that are not exactly one character, or that repeat an earlier line."""
        found = []
        seen: dict[str, int] = {}
        for line_no, token in enumerate(self.tokens, start=1):
            if len(token) != 1:
                found.append(f"vocab line {line_no}: expected one character, got {token!r}")
            elif token in seen:
                found.append(f"vocab line {line_no}: {token!r} repeats line {seen[token]}")
            seen.setdefault(token, line_no)
        return found

    @classmethod
    def from_chars(cls, chars: Iterable[str]) -> "CTCVocab":
        """Builds a vocab from characters, keeping first occurrences in order."""
        return cls(tuple(dict.fromkeys(chars)))

    @classmethod
    def from_file(cls, path: str | Path, strict: bool = True) -> "CTCVocab":
        """Reads a ``vocab.txt`` (or the 1.2-era ``label_dict.txt``): UTF-8, one token per line.

        Args:
            path: The vocab file.
            strict: Raise on a line that is not one character or that repeats; otherwise only
                log it (upstream vocabs are taken as they are, like ModelScope does).

        Raises:
            ValueError: naming the file and the offending line.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: vocab is not UTF-8 ({exc})") from None
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        if not lines:
            raise ValueError(f"{path}: vocab is empty")
        vocab = cls(tuple(lines))
        found = vocab.problems()
        if found and strict:
            raise ValueError(f"{path}: {found[0]}" + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""))
        for problem in found[:5]:
            logger.warning("%s: %s", path, problem)
        return vocab

    def save(self, path: str | Path) -> None:
        """Writes one token per line, UTF-8, with a trailing newline."""
        Path(path).write_text("".join(t + "\n" for t in self.tokens), encoding="utf-8")

    @property
    def num_classes(self) -> int:
        """Smallest head size that covers every token (blank + reserved + tokens)."""
        return len(self.tokens) + self.FIRST_ID

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, char: object) -> bool:
        return char in self._ids  # type: ignore[attr-defined]

    def encode(self, text: str) -> list[int]:
        """Class ids of ``text``.

        Raises:
            ValueError: naming the first character that is not in the vocab.
        """
        ids = self._ids  # type: ignore[attr-defined]
        out = []
        for pos, char in enumerate(text):
            if char not in ids:
                raise ValueError(f"label {text!r}: character {char!r} at {pos} is not in the vocab")
            out.append(ids[char])
        return out

    def token(self, class_id: int) -> str:
        """The token of one class id; ``UNKNOWN_TOKEN`` for an id with no vocab line."""
        index = class_id - self.FIRST_ID
        if 0 <= index < len(self.tokens):
            return self.tokens[index]
        return UNKNOWN_TOKEN

    def decode_greedy(self, best_ids: Sequence[int]) -> str:
        """Greedy CTC decoding of one sequence of per-step argmax ids.

        Emits id ``p`` when it is not the blank and differs from the previous step's id (a blank
        between two equal ids separates repeats). An id with no vocab line (the reserved id 1, or
        one past the vocab) becomes ``UNKNOWN_TOKEN`` where upstream raises KeyError.
        """
        chars = []
        previous = self.BLANK_ID
        for class_id in best_ids:
            if class_id != previous and class_id != self.BLANK_ID:
                chars.append(self.token(class_id))
            previous = class_id
        return "".join(chars)
