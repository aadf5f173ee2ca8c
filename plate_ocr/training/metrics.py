"""Recognition metrics.

* exact match: prediction equals the label;
* character accuracy (ModelScope's AR): ``1 - sum(edit distance) / sum(label characters)``,
  clipped at 0 per data set (not per image), with Levenshtein distance over characters;
* exact match without the province: both strings compared from their second character on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def confusions(pred: str, label: str) -> list[tuple[str, str]]:
    """Character substitutions ``(label char, predicted char)`` when lengths match; else one
    whole-string pair marking a length error."""
    if len(pred) == len(label):
        return [(l, p) for p, l in zip(pred, label) if p != l]
    return [(f"len{len(label)}", f"len{len(pred)}")]


@dataclass
class Tally:
    count: int = 0
    exact: int = 0
    exact_no_province: int = 0
    edits: int = 0
    chars: int = 0

    def add(self, pred: str, label: str) -> None:
        self.count += 1
        self.exact += pred == label
        self.exact_no_province += pred[1:] == label[1:]
        self.edits += edit_distance(pred, label)
        self.chars += len(label)

    def as_dict(self) -> dict[str, float]:
        n = max(1, self.count)
        return {
            "count": self.count,
            "exact_match": self.exact / n,
            "char_accuracy": max(0.0, 1 - self.edits / max(1, self.chars)),
            "exact_match_no_province": self.exact_no_province / n,
        }


@dataclass
class Report:
    """Accumulates predictions; ``summary()`` gives the figures, overall and by plate type."""

    overall: Tally = field(default_factory=Tally)
    by_type: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    confusion_counts: Counter = field(default_factory=Counter)

    def add(self, pred: str, label: str, plate_type: str = "") -> None:
        self.overall.add(pred, label)
        self.by_type[plate_type or "all"].add(pred, label)
        if pred != label:
            self.confusion_counts.update(confusions(pred, label))

    def extend(self, rows: Iterable[tuple[str, str, str]]) -> "Report":
        for pred, label, plate_type in rows:
            self.add(pred, label, plate_type)
        return self

    def summary(self, top: int = 15) -> dict:
        return {
            **self.overall.as_dict(),
            "by_type": {k: v.as_dict() for k, v in sorted(self.by_type.items())},
            "top_confusions": [
                {"label": l, "pred": p, "count": c} for (l, p), c in self.confusion_counts.most_common(top)],
        }


def format_summary(summary: dict) -> str:
    """Human-readable table of a :meth:`Report.summary`."""
    lines = [
        f"images {summary['count']}: exact {summary['exact_match']:.2%}, "
        f"char accuracy {summary['char_accuracy']:.2%}, "
        f"exact without province {summary['exact_match_no_province']:.2%}",
        "by type:",
    ]
    for name, t in summary["by_type"].items():
        lines.append(f"  {name:<22} {t['count']:>6}  exact {t['exact_match']:7.2%}  char {t['char_accuracy']:7.2%}")
    if summary["top_confusions"]:
        lines.append("most frequent confusions (label -> prediction):")
        lines.extend(f"  {c['label']} -> {c['pred']}: {c['count']}" for c in summary["top_confusions"])
    return "\n".join(lines)
