"""Predicting with a trained DNA model: the class of each sequence (with the probabilities of
all classes), or the marked intervals of each sequence (a tagger), and the saliency picture
of a classifier's call."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data.atomic import write_bytes
from rnnkit.data.dna import check_unknown, clean_sequence, kmer_name
from rnnkit.data.dna_files import is_fasta, label_runs, parse_fasta, parse_labelled
from rnnkit.data.sequences import in_order_batches
from rnnkit.data.text import decode_text, read_text, split_lines
from rnnkit.diagnose.saliency import plot_saliency, saliency
from rnnkit.errors import DataError, RnnkitError
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.tagger import SequenceTagger
from rnnkit.tasks.dna import load
from rnnkit.tasks.dna.config import DNADataConfig
from rnnkit.tasks.dna.data import model_input
from rnnkit.tasks.recipe import TrainedModel
from rnnkit.train.checkpoint import checkpoint_extras

STDIN = "-"
BATCH = 256
_LITERAL = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class SequenceInput:
    """A sequence to predict on: its `name` (FASTA record name, `file:line`, or `seqN` for a
    sequence given on the command line) and its letters (upper case)."""

    name: str
    sequence: str


@dataclass(frozen=True)
class Prediction:
    """A classifier's call: the `label`, its `probability`, and every class's probability."""

    name: str
    label: str
    probability: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class Mark:
    """An interval a tagger marked: bases start .. end - 1 (0-based, half-open) of `name`
    carry `label`; `score` is the mean probability of that label over its bases."""

    name: str
    start: int
    end: int
    label: str
    score: float


def _from_text(text: str, source: str, unknown: str | None) -> list[SequenceInput]:
    """FASTA records, `label<TAB>sequence` lines (named source:line), or one bare sequence
    per line (named source:line)."""
    if is_fasta(text):
        return [SequenceInput(r.name, r.sequence) for r in parse_fasta(text, source, unknown)]
    if "\t" in text:
        rows = parse_labelled(text, source, unknown)
        return [SequenceInput(f"{source}:{r.line}", r.sequence) for r in rows]
    out = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        seq, bad = clean_sequence(line.strip(), unknown)
        if bad is not None:
            raise DataError(
                f"character {seq[bad]!r} is not a nucleotide letter (map it with --unknown N)",
                path=source,
                line=number,
            )
        out.append(SequenceInput(f"{source}:{number}", seq))
    if not out:
        raise DataError("no sequences", path=source)
    return out


def read_inputs(items: Sequence[str], unknown: str | None = None) -> list[SequenceInput]:
    """The sequences named by `items`: a FASTA or TSV file (plain or gzip; a file of bare
    sequences, one per line, too), '-' for standard input (any of those), or a sequence
    written out (ACGT...)."""
    check_unknown(unknown)
    unknown = None if unknown is None else unknown.upper()
    out: list[SequenceInput] = []
    literal = 0
    if sum(item == STDIN for item in items) > 1:
        raise RnnkitError("'-' (standard input) can be given once")
    for item in items:
        if item == STDIN:
            out += _from_text(decode_text(sys.stdin.buffer.read(), "<stdin>"), "<stdin>", unknown)
        elif Path(item).exists():
            out += _from_text(read_text(item), item, unknown)
        elif _LITERAL.fullmatch(item):
            literal += 1
            seq, bad = clean_sequence(item, unknown)
            if bad is not None:
                raise RnnkitError(
                    f"sequence {literal} ({item[:20]}...): character {item[bad]!r} at position "
                    f"{bad + 1} is not a nucleotide letter (map it with --unknown N)"
                )
            out.append(SequenceInput(f"seq{literal}", seq))
        else:
            raise RnnkitError(f"{item}: no such file, and not a sequence of letters")
    if not out:
        raise RnnkitError("no sequences to predict on")
    return out


class DNAPredictor(TrainedModel[SequenceClassifier | SequenceTagger, list[str], DNADataConfig]):
    """A trained DNA model loaded once, ready for many sequences.

    >>> predictor = DNAPredictor("runs/dna-splice/best")  # doctest: +SKIP
    >>> predictor.classify([SequenceInput("s", "CAG...")])  # doctest: +SKIP
    [Prediction(name='s', label='EI', probability=0.99, probabilities={...})]
    """

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu"):
        super().__init__(load(checkpoint), checkpoint, device)
        lengths = checkpoint_extras(checkpoint).get("lengths")  # absent before rnnkit 0.1.1
        self.trained_lengths: tuple[int, int] | None = None
        if isinstance(lengths, list) and len(lengths) == 2:
            self.trained_lengths = (int(lengths[0]), int(lengths[1]))

    def check_length(self, item: SequenceInput) -> None:
        """Warn (once per sequence) when a classifier is asked about a sequence much shorter
        or longer than any it was trained on: it still answers, but the answer may mean
        little, e.g. a whole gene given to a model of 60-base windows."""
        if self.trained_lengths is None or self.is_tagger:
            return
        low, high = self.trained_lengths
        if not low // 2 <= len(item.sequence) <= 2 * high:
            trained = f"{low}" if low == high else f"{low}-{high}"
            logging.getLogger("rnnkit.tasks").warning(
                "%s: %d bases, but the model was trained on sequences of %s bases: its call "
                "may mean little (cut the sequence into windows of that size)",
                item.name, len(item.sequence), trained,
            )  # fmt: skip

    @property
    def classes(self) -> list[str]:
        return self.pipeline

    @property
    def is_tagger(self) -> bool:
        return isinstance(self.model, SequenceTagger)

    def encode(self, item: SequenceInput) -> Tensor:
        try:
            return model_input(item.sequence, self.data)
        except RnnkitError as e:
            raise RnnkitError(f"sequence {item.name}: {e}") from None

    def _outputs(self, items: Sequence[SequenceInput]) -> list[Tensor]:
        """Each sequence's probabilities: (C,) for a classifier, (T, C) for a tagger."""
        pairs = [(self.encode(x), None) for x in items]
        out: list[Tensor] = [torch.empty(0)] * len(items)
        with torch.no_grad():
            for indices, batch in in_order_batches(pairs, BATCH):
                logits = self.model(batch.to(self.device)).logits.cpu()
                if isinstance(self.model, SequenceTagger):
                    p = torch.softmax(logits, -1)  # (B, T, C)
                    for b, i in enumerate(indices):
                        out[i] = p[b, : int(batch.lengths[b])]
                    continue
                if self.model.binary:
                    p1 = torch.sigmoid(logits)  # (B,) P(class 1)
                    p = torch.stack([1 - p1, p1], -1)  # (B, 2)
                else:
                    p = torch.softmax(logits, -1)  # (B, C)
                for b, i in enumerate(indices):
                    out[i] = p[b]
        return out

    def classify(self, items: Sequence[SequenceInput]) -> list[Prediction]:
        """The class of each sequence, in order."""
        if self.is_tagger:
            raise RnnkitError(f"{self.checkpoint} is a per-base tagger: it marks intervals")
        out = []
        for item in items:
            self.check_length(item)
        for item, p in zip(items, self._outputs(items), strict=True):
            c = int(p.argmax())
            probabilities = {name: float(p[j]) for j, name in enumerate(self.classes)}
            out.append(Prediction(item.name, self.classes[c], float(p[c]), probabilities))
        return out

    def tag(self, items: Sequence[SequenceInput]) -> list[list[Mark]]:
        """The marked intervals of each sequence (maximal runs of one label other than "O"
        in the per-base argmax), in order."""
        if not self.is_tagger:
            raise RnnkitError(f"{self.checkpoint} is a classifier: it labels whole sequences")
        out = []
        for item, p in zip(items, self._outputs(items), strict=True):
            runs = label_runs(p.argmax(-1))
            out.append([Mark(item.name, s, e, self.classes[c], float(p[s:e, c].mean()))
                        for s, e, c in runs])  # fmt: skip
        return out

    def letters(self, item: SequenceInput) -> list[str]:
        """What each input position is: a base, or a k-mer for a k-mer model."""
        if self.data.encoding == "kmer":
            return [kmer_name(int(i), self.data.k) for i in self.encode(item)]
        return list(item.sequence)

    def saliency(self, item: SequenceInput, label: str | None = None) -> Tensor:
        """Gradient x input of a class's logit (the predicted one by default) for one
        sequence (`rnnkit.diagnose.saliency`): (T, 4) for one-hot frames, else (T',)."""
        if not isinstance(self.model, SequenceClassifier):
            raise RnnkitError("saliency explains a classifier's call; this model is a tagger")
        if label is None:
            label = self.classify([item])[0].label
        if label not in self.classes:
            raise RnnkitError(f"no class {label!r}; the model's are {', '.join(self.classes)}")
        x = self.encode(item).to(self.device)
        values = saliency(self.model, x, self.classes.index(label)).cpu()
        return values[:, :4] if self.data.positions else values  # the bases, not the positions

    def draw_saliency(self, item: SequenceInput, png: str | Path) -> Prediction:
        """Classify one sequence and draw the saliency of its call to `png`."""
        call = self.classify([item])[0]
        values = self.saliency(item, call.label)
        title = f"{item.name}: {call.label} (p = {call.probability:.3f}), gradient x input"
        plot_saliency(values, self.letters(item), png, title)
        return call


def write_output(path: str | Path, text: str, inputs: Sequence[str]) -> None:
    """Write the results atomically to `path`, refusing to overwrite one of the inputs."""
    target = Path(path).resolve()
    for item in inputs:
        if item != STDIN and Path(item).exists() and Path(item).resolve() == target:
            raise RnnkitError(f"--output {path} is one of the inputs: choose another file")
    write_bytes(target, text.encode("utf-8"))


def picture_name(index: int, name: str) -> str:
    """The file of the `index`-th (1-based) sequence's picture: `0001-<name>.png`, the name
    made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "sequence"
    return f"{index:04d}-{safe[:80]}.png"
