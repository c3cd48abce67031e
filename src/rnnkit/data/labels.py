"""Labelled texts and label sets: the (text, label) pairs of many-to-one classification.

`LabelledText` is one example as a reader returns it; `LabelSet` maps label strings to class
ids 0..C-1. The binary sentiment set is `neg` = 0, `pos` = 1 and also accepts
`negative`/`positive` and `0`/`1` (any case). `Labels` is what readers accept as `labels=`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from rnnkit.errors import DataError, RnnkitError


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One example: the text, its label, and where it came from (for error messages).

    label: as written in the file, or its canonical name when the reader was given a LabelSet
           (`1` -> `pos` with `LabelSet.sentiment()`).
    path:  the file it was read from.
    line:  its 1-based line there (the first line of a multi-line CSV record; 1 for a
           one-review-per-file aclImdb text).
    """

    text: str
    label: str
    path: str
    line: int


class LabelSet:
    """The classes of a classifier: label names with ids 0..C-1, plus accepted aliases.

    names:          the canonical label names; `names[i]` has id i.
    aliases:        other spellings, each mapped to one canonical name ({"1": "pos"}).
    case_sensitive: when False, labels are compared after `.lower()` (`POS` == `pos`).

    Labels are compared after stripping surrounding whitespace.

    >>> s = LabelSet.sentiment()
    >>> s.names, s.id("pos"), s.id("Negative"), s.id("1"), s.canonical("0")
    (('neg', 'pos'), 1, 0, 1, 'neg')
    """

    def __init__(
        self,
        names: Iterable[str],
        aliases: Mapping[str, str] | None = None,
        case_sensitive: bool = True,
    ) -> None:
        self._names: tuple[str, ...] = tuple(names)
        self._aliases: dict[str, str] = dict(aliases or {})
        self._case_sensitive = case_sensitive
        if not self._names:
            raise RnnkitError("a label set needs at least one label")
        self._ids: dict[str, int] = {}
        for i, name in enumerate(self._names):
            if not isinstance(name, str) or not name.strip():
                raise RnnkitError(f"label names must be non-empty strings, got {name!r}")
            key = self._key(name)
            if key in self._ids:
                raise RnnkitError(f"label {name!r} appears twice in {list(self._names)}")
            self._ids[key] = i
        for alias, name in self._aliases.items():
            if self._key(name) not in self._ids:
                raise RnnkitError(f"alias {alias!r} maps to {name!r}, which is not a label name")
            key, target = self._key(alias), self._ids[self._key(name)]
            if self._ids.get(key, target) != target:
                raise RnnkitError(
                    f"alias {alias!r} -> {name!r} clashes with label "
                    f"{self._names[self._ids[key]]!r}"
                )
            self._ids[key] = target

    def _key(self, label: str) -> str:
        label = label.strip()
        return label if self._case_sensitive else label.lower()

    # ------------------------------------------------------------------ constructors

    @classmethod
    def sentiment(cls) -> LabelSet:
        """Binary sentiment: `neg` = 0, `pos` = 1; also `negative`/`positive`, `0`/`1`, any case."""
        return cls(
            ("neg", "pos"),
            aliases={"negative": "neg", "positive": "pos", "0": "neg", "1": "pos"},
            case_sensitive=False,
        )

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> LabelSet:
        """The distinct labels, sorted (so the ids do not depend on the order of the data)."""
        return cls(sorted({label.strip() for label in labels}))

    @classmethod
    def infer(cls, labels: Iterable[str]) -> LabelSet:
        """`sentiment()` when every label is one of its spellings, else `from_labels(labels)`."""
        distinct = {label.strip() for label in labels}
        sentiment = cls.sentiment()
        if distinct and all(label in sentiment for label in distinct):
            return sentiment
        return cls.from_labels(distinct)

    # ------------------------------------------------------------------------ lookup

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, label: object) -> bool:
        return isinstance(label, str) and self._key(label) in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSet) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self._names)

    def __repr__(self) -> str:
        return f"LabelSet({list(self._names)})"

    def describe(self) -> str:
        """`neg, pos (also accepted: 0, 1, negative, positive)`, for error messages."""
        text = ", ".join(self._names)
        if self._aliases:
            text += f" (also accepted: {', '.join(sorted(self._aliases))})"
        return text

    def id(self, label: str) -> int:
        """The class id of `label` (a name or an alias); RnnkitError when it is unknown."""
        try:
            return self._ids[self._key(label)]
        except KeyError:
            raise RnnkitError(
                f"unknown label {label!r}; expected one of {self.describe()}"
            ) from None

    def canonical(self, label: str) -> str:
        """The canonical name of `label` (`Positive` -> `pos`)."""
        return self._names[self.id(label)]

    def name(self, id: int) -> str:
        """The label name of class id `id`."""
        if not 0 <= id < len(self._names):
            raise RnnkitError(f"class id {id} out of range 0..{len(self._names) - 1}")
        return self._names[id]

    def encode(self, examples: Iterable[LabelledText]) -> list[int]:
        """The class ids of the examples' labels; DataError naming the example's file and line."""
        ids = []
        for ex in examples:
            key = self._key(ex.label)
            if key not in self._ids:
                raise DataError(
                    f"label {ex.label!r} is not one of {self.describe()}",
                    path=ex.path,
                    line=ex.line,
                )
            ids.append(self._ids[key])
        return ids

    # --------------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, saved beside a checkpoint."""
        return {
            "names": list(self._names),
            "aliases": dict(sorted(self._aliases.items())),
            "case_sensitive": self._case_sensitive,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelSet:
        """Inverse of `to_dict`."""
        try:
            names = data["names"]
            if not isinstance(names, list):
                raise TypeError(f"'names' must be a list, got {type(names).__name__}")
            return cls(names, data.get("aliases"), bool(data.get("case_sensitive", True)))
        except (KeyError, TypeError, AttributeError) as e:
            raise RnnkitError(f"not a label set description: {e!r}") from None


Labels: TypeAlias = LabelSet | Collection[str] | None
"""What readers accept as `labels=`: a LabelSet, a collection of allowed names, or None (any)."""


def as_label_set(labels: Labels) -> LabelSet | None:
    """A reader's `labels=` argument as a LabelSet (None stays None)."""
    if labels is None or isinstance(labels, LabelSet):
        return labels
    if isinstance(labels, str):
        raise RnnkitError(f"labels must be a collection of label names, got the string {labels!r}")
    return LabelSet(sorted(set(labels)))


__all__ = ["LabelSet", "LabelledText", "Labels", "as_label_set"]
