"""Sentiment classification (many-to-one) on movie reviews: the recipe.

The lecture's example: read a whole review x<1>, ..., x<T_x>, one word id per step, and output
one label y from the last state: ŷ = σ(W_ya a<T_x> + b_y) = P(positive | review).

Data: labelled reviews in any format `rnnkit.data.classification.load_sentiment` reads (the
shared `imdb/train.tsv.gz` by default, or the original aclImdb folders after `--download`).
A stratified 10% of the training file is held out as the dev split. Each review is tokenized
(`rnnkit.data.text.tokenize`) and only its LAST `max_len` tokens are kept: a review's verdict
tends to come at its end, and Keras's `pad_sequences` also cuts at the front by default. The
vocabulary is the `max_words - 2` most frequent words of the training part plus `<pad>` (id 0)
and `<unk>` (id 1), so `max_words` is V, the number of embedding rows.

Batches are padded at the end and carry their lengths, so the recurrent layer stops at each
review's own last word (Keras pads at the front instead, so that the last step is the last
word; the result is the same state without running over padding).

Presets (dev accuracy on IMDB; see benchmarks/sentiment_imdb.py):
  lecture  exactly Embedding(10,000, 100) -> SimpleRNN(10) -> Dense(1, sigmoid), 1,001,121
           parameters (`rnnkit summary sentiment --preset lecture`), trained with dropout 0.3
           on the embedded words (no parameters): 0.848, 0.855, 0.855 with seeds 0, 1, 2
           (0.855 without the dropout, seed 0);
  bilstm   Embedding(30,000, 128) -> bidirectional LSTM(64) -> masked max-pooling over time
           -> Dense(1, sigmoid), dropout 0.5, learning rate decayed by a cosine over 3
           epochs: 0.896 (seed 0).

Metrics: accuracy, and precision, recall and F1 of the positive class (`pos`), from the 2x2
confusion matrix; the dev accuracy picks the best checkpoint and drives early stopping. The
vocabulary, label set and max_len are saved in the checkpoint, so `evaluate` and `predict`
rebuild everything from the checkpoint directory alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rnnkit.data.batch import Batch
from rnnkit.data.classification import load_sentiment, split_dev
from rnnkit.data.imdb import download_imdb
from rnnkit.data.labels import LabelledText, LabelSet
from rnnkit.data.lines import CHUNK_LINES, chunked
from rnnkit.data.paths import find_data
from rnnkit.data.sequences import epoch_batches, in_order_batches
from rnnkit.data.text import tokenize
from rnnkit.data.vocab import PAD, UNK, Vocabulary
from rnnkit.errors import CheckpointError, DataError, RnnkitError
from rnnkit.metrics.classification import binary_scores, confusion_matrix
from rnnkit.metrics.running import RunningMeans
from rnnkit.models.base import ModelOutput
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig
from rnnkit.tasks.recipe import Loaded, Prepared, TrainedModel, load_run, report_data, run_training
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import DistInfo
from rnnkit.train.fit import FitResult
from rnnkit.train.sources import on_device

NAME = "sentiment"
HELP = "sentiment classification of movie reviews (many-to-one)"
# The vocabulary size comes from --max-words, the two classes from the label set, and the
# inputs are always token ids.
HIDDEN = frozenset({"vocab_size", "num_features", "num_classes"})
# The dev metrics `evaluate_classifier` reports: --metric takes one of them.
METRICS: tuple[str, ...] = ("loss", "accuracy", "precision", "recall", "f1")
EVAL_BATCH_SIZE = 256


@dataclass(frozen=True)
class SentimentDataConfig:
    # Labelled reviews to train on: `label<TAB>text` lines (e.g. imdb/train.tsv.gz), a CSV or
    # TSV table with a header, JSON lines, or an aclImdb folder (its train half). Default: the
    # shared imdb/train.tsv.gz when it is found.
    path: str | None = field(default=None, metadata={"option": "data"})
    # Download the original IMDB reviews (aclImdb_v1, about 80 MB) into the cache and train on
    # its 25,000 training reviews (instead of --data).
    download: bool = False
    # Fraction of the training reviews held out as the dev split (stratified by label).
    dev_fraction: float = 0.1
    # Seed of the dev split, separate from the training seed so that every run is evaluated on
    # the same held-out reviews.
    split_seed: int = 0
    # Keep each review's LAST max_len tokens (Keras's pad_sequences also cuts at the front).
    max_len: int = 500
    # Vocabulary size V, <pad> and <unk> included: the max_words - 2 most frequent words of the
    # training reviews; every other word becomes <unk>.
    max_words: int = 10_000

    def __post_init__(self) -> None:
        if self.path is not None and self.download:
            raise RnnkitError("give either --data FILE or --download, not both")
        if not 0.0 < self.dev_fraction < 1.0:
            raise RnnkitError(f"--dev-fraction must be between 0 and 1, got {self.dev_fraction}")
        if self.max_len < 1:
            raise RnnkitError(f"--max-len must be at least 1, got {self.max_len}")
        if self.max_words < 3:
            raise RnnkitError(
                f"--max-words must be at least 3 (<pad>, <unk> and one word), got {self.max_words}"
            )


def _classifier(
    max_words: int,
    embedding_dim: int,
    cell: str,
    hidden_size: int,
    bidirectional: bool = False,
    pooling: str = "last",
    input_dropout: float = 0.0,
    output_dropout: float = 0.0,
) -> ClassifierConfig:
    return ClassifierConfig(
        encoder=EncoderConfig(
            vocab_size=max_words,
            embedding_dim=embedding_dim,
            cell=cell,
            hidden_size=hidden_size,
            bidirectional=bidirectional,
            input_dropout=input_dropout,
        ),
        num_classes=2,
        pooling=pooling,
        output_dropout=output_dropout,
    )


@dataclass(frozen=True)
class SentimentConfig:
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"metric": METRICS}
    # Which reviews, and how they become token ids.
    data: SentimentDataConfig = field(default_factory=SentimentDataConfig)
    # The classifier; by default the lecture's, with dropout on the embedded words (it adds
    # no parameters; --input-dropout 0 gives the bare model). Its encoder.vocab_size is
    # replaced by the size of the vocabulary built from the data (at most data.max_words).
    model: ClassifierConfig = field(
        default_factory=lambda: _classifier(10_000, 100, "rnn", 10, input_dropout=0.3)
    )
    # How to train; the dev accuracy picks the best checkpoint and stops training early.
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=5,
            batch_size=64,
            lr=1e-3,
            clip_norm=5.0,
            metric="accuracy",
            patience=2,
            out_dir="runs/sentiment",
        )
    )


_LECTURE = SentimentConfig()

PRESETS: dict[str, SentimentConfig] = {
    # The lecture's Embedding(10,000, 100) -> SimpleRNN(10) -> Dense(1, sigmoid).
    "default": _LECTURE,
    "lecture": _LECTURE,
    # Stronger: a bidirectional LSTM, max-pooled over every step, with strong dropout and a
    # cosine-decaying learning rate (it overfits from the second epoch at a constant one).
    "bilstm": SentimentConfig(
        data=SentimentDataConfig(max_words=30_000),
        model=_classifier(
            30_000,
            128,
            "lstm",
            64,
            bidirectional=True,
            pooling="max",
            input_dropout=0.5,
            output_dropout=0.5,
        ),
        train=replace(_LECTURE.train, epochs=3, lr_schedule="cosine"),
    ),
}


# ----------------------------------------------------------------------------------- data


def training_source(config: SentimentDataConfig) -> Path:
    """The training reviews: --data, the download, or the shared file."""
    if config.download:
        return download_imdb()
    return find_data(
        config.path,
        "imdb/train.tsv.gz",
        "no training data: pass --data FILE (label<TAB>text lines, CSV, JSON lines or an "
        "aclImdb folder), or run `rnnkit data fetch imdb` (or pass --download) to train on the "
        "IMDB reviews",
    )


@dataclass(frozen=True)
class TextPipeline:
    """Review -> token ids, exactly as the model was trained: tokenize, keep the last max_len
    tokens, look each one up (unknown words -> <unk>). Saved in every checkpoint."""

    vocab: Vocabulary
    labels: LabelSet
    max_len: int

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], max_words: int, max_len: int
    ) -> TextPipeline:
        """The vocabulary of the max_words - 2 most frequent tokens (plus <pad>, <unk>)."""
        vocab = Vocabulary.build(token_lists, max_size=max_words - 2, specials=(PAD, UNK))
        return cls(vocab, LabelSet.sentiment(), max_len)

    def ids(self, tokens: Sequence[str]) -> Tensor:
        """The ids of the last max_len tokens: (T,) int64, T = min(len(tokens), max_len)."""
        return torch.tensor(self.vocab.encode(tokens[-self.max_len :]), dtype=torch.int64)

    def encode(self, text: str) -> Tensor:
        tokens = tokenize(text)
        if not tokens:
            raise RnnkitError("empty text: nothing to classify")
        return self.ids(tokens)

    def to_extras(self) -> dict[str, Any]:
        return {
            "vocab": self.vocab.to_dict(),
            "labels": self.labels.to_dict(),
            "max_len": self.max_len,
        }

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any], where: str | Path) -> TextPipeline:
        try:
            return cls(
                Vocabulary.from_dict(extras["vocab"]),
                LabelSet.from_dict(extras["labels"]),
                int(extras["max_len"]),
            )
        except (KeyError, TypeError, ValueError, RnnkitError) as e:
            raise CheckpointError(
                f"checkpoint {where}: no usable vocabulary, label set and max_len ({e})"
            ) from None


def encode_examples(
    examples: Sequence[LabelledText], pipeline: TextPipeline, tokens: Sequence[Sequence[str]]
) -> list[tuple[Tensor, Tensor]]:
    """(ids (T,), label id ()) per review; a review with no tokens is a DataError at its line."""
    out = []
    for ex, toks in zip(examples, tokens, strict=True):
        if not toks:
            raise DataError("the text has no words after tokenizing", path=ex.path, line=ex.line)
        out.append((pipeline.ids(toks), torch.tensor(pipeline.labels.id(ex.label))))
    return out


def _loss_and_confusion(model: nn.Module, batches: Iterable[Batch]) -> tuple[float, Tensor]:
    assert isinstance(model, SequenceClassifier)
    means = RunningMeans()
    confusion = torch.zeros(2, 2, dtype=torch.int64)
    for batch in batches:
        out: ModelOutput = model(batch)
        assert out.loss is not None and batch.targets is not None
        means.add("loss", out.loss, out.count)
        predictions = model.predict(out.logits)  # (B,)
        confusion += confusion_matrix(batch.targets, predictions).cpu()
    if not means.names():
        raise RnnkitError("the evaluation split yielded no batches")
    return means.means()["loss"], confusion


def evaluate_classifier(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
    """Dev metrics for the training engine: loss (mean per review), accuracy, precision,
    recall and F1 (positive class)."""
    loss, confusion = _loss_and_confusion(model, batches)
    return {"loss": loss, **binary_scores(confusion)}


# ----------------------------------------------------------------------------- the recipe


def prepare(
    config: SentimentConfig, dist: DistInfo | None = None, pipeline: TextPipeline | None = None
) -> Prepared[SentimentConfig]:
    """Read the training reviews, hold out the dev part, build the vocabulary from the rest
    (unless `pipeline` is given: a resumed run's), encode both; the model config gets the
    vocabulary's size."""
    path = training_source(config.data)
    report_data(NAME, dist, path)
    reviews = load_sentiment(path, split="train")
    check_both_classes(reviews, path)
    train_part, dev_part = split_dev(reviews, config.data.dev_fraction, config.data.split_seed)
    if not train_part or not dev_part:
        raise DataError(
            f"{len(reviews)} reviews are too few to hold out a dev part of "
            f"--dev-fraction {config.data.dev_fraction} and train on the rest",
            path=path,
        )
    train_tokens = [tokenize(ex.text) for ex in train_part]
    if pipeline is None:
        pipeline = TextPipeline.build(train_tokens, config.data.max_words, config.data.max_len)
    train_examples = encode_examples(train_part, pipeline, train_tokens)
    dev = encode_examples(dev_part, pipeline, [tokenize(ex.text) for ex in dev_part])
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    train_batches = epoch_batches(
        train_examples, config.train.batch_size, config.train.seed, rank=rank, world_size=world
    )
    dev_batches = epoch_batches(dev, EVAL_BATCH_SIZE, seed=0, shuffle=False)(0)
    encoder = replace(config.model.encoder, vocab_size=len(pipeline.vocab))
    sized = replace(
        config,
        data=replace(config.data, path=str(path.resolve()), download=False),
        model=replace(config.model, encoder=encoder),
    )
    return Prepared(
        sized, train_batches, lambda: dev_batches, evaluate_classifier, pipeline.to_extras()
    )


def check_both_classes(reviews: Sequence[LabelledText], path: str | Path) -> None:
    """DataError naming the file when its reviews do not have both labels: a classifier
    trained on one class predicts it always and scores a perfect dev accuracy."""
    labels = {r.label for r in reviews}
    if len(labels) < 2:
        found = ", ".join(repr(label) for label in sorted(labels)) or "none"
        raise DataError(
            f"every review has the same label ({found}): training needs both classes, "
            "positive and negative",
            path=path,
        )


def build_model(config: SentimentConfig) -> SequenceClassifier:
    """The untrained classifier a config describes."""
    return SequenceClassifier(config.model)


def train(config: SentimentConfig, resume: bool = False) -> FitResult:
    """Train the review classifier; checkpoints and logs go to config.train.out_dir."""
    return run_training(
        NAME,
        config,
        prepare,
        build_model,
        resume,
        lambda c, d, extras: prepare(c, d, TextPipeline.from_extras(extras, "the run to resume")),
    )


# -------------------------------------------------------------------- evaluate and predict


def load(checkpoint: str | Path) -> Loaded[SequenceClassifier, TextPipeline, SentimentDataConfig]:
    """The trained classifier, its text pipeline, and the data config it was trained on."""
    model, meta, data = load_run(checkpoint, NAME, SequenceClassifier, SentimentDataConfig)
    return Loaded(model, TextPipeline.from_extras(meta.extras, checkpoint), data)


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    split: str | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Metrics of a trained model on labelled reviews, run on `device`.

    data:  a file in any format of `load_sentiment`, or an aclImdb folder (its `split` half,
           "test" by default); None: the dev part held out of the model's own training data.
    Returns {"examples", "loss", "accuracy", "precision", "recall", "f1", "labels",
    "confusion_matrix"}: precision, recall and F1 of the positive class; the matrix has one
    row per true label and one column per predicted label, in `labels` order ([[TN, FP],
    [FN, TP]]).
    """
    trained = load(checkpoint)
    pipeline = trained.pipeline
    if data is None:
        if trained.data.path is None:
            raise CheckpointError(
                f"checkpoint {checkpoint} does not say which data it was trained on; pass --data"
            )
        _, examples = split_dev(
            load_sentiment(trained.data.path, split="train"),
            trained.data.dev_fraction,
            trained.data.split_seed,
        )
    else:
        examples = load_sentiment(data, split=split or "test", labels=pipeline.labels)
    encoded = encode_examples(examples, pipeline, [tokenize(ex.text) for ex in examples])
    batches = in_order_batches(encoded, EVAL_BATCH_SIZE)
    with torch.no_grad():
        loss, confusion = _loss_and_confusion(
            trained.model.to(device), on_device((b for _, b in batches), device)
        )
    return {
        "examples": len(examples),
        "loss": loss,
        **binary_scores(confusion),
        "labels": list(pipeline.labels.names),
        "confusion_matrix": confusion.tolist(),
    }


class SentimentClassifier(TrainedModel[SequenceClassifier, TextPipeline, SentimentDataConfig]):
    """A trained review classifier loaded once from a checkpoint, ready for many calls.

    >>> classifier = SentimentClassifier("runs/sentiment/best")             # doctest: +SKIP
    >>> classifier.predict(["A wonderful film.", "Dull and far too long."])  # doctest: +SKIP
    [('pos', 0.93...), ('neg', 0.88...)]
    """

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu"):
        super().__init__(load(checkpoint), checkpoint, device)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(label, probability of that label) for each text, in order.

        The probability is the model's σ(z) = P(pos) for a `pos` answer and 1 - σ(z) for
        `neg`. Raises RnnkitError naming the text (1-based) when one is empty or has no words.
        """
        if isinstance(texts, str):
            raise RnnkitError(
                "predict expects a list of texts, got a single string; wrap it: [text]"
            )
        return _predict(self.model, self.pipeline, texts, self.device)

    def predict_chunks(
        self, texts: Iterable[str], source: str | None = None, chunk_size: int = CHUNK_LINES
    ) -> Iterator[list[tuple[str, str, float]]]:
        """(text, label, probability) for each text, `chunk_size` texts at a time: each chunk
        is classified and yielded before the next is taken from `texts` (a file of any size
        streams through in bounded memory; results start at once). `source` names the file
        the texts are the lines of: a text that cannot be classified is then reported as
        `source:line`, else as `text N`, N counted over the whole stream."""
        if isinstance(texts, str):
            raise RnnkitError("predict_chunks expects texts (lines), got a single string")
        first = 1
        for chunk in chunked(texts, chunk_size):
            results = _predict(self.model, self.pipeline, chunk, self.device, first, source)
            yield [(text, *result) for text, result in zip(chunk, results, strict=True)]
            first += len(chunk)


def predict(
    checkpoint: str | Path, texts: Sequence[str], device: str | torch.device = "cpu"
) -> list[tuple[str, float]]:
    """`SentimentClassifier(checkpoint, device).predict(texts)`: loads the model for this one
    call; keep a SentimentClassifier to classify many batches of texts."""
    if isinstance(texts, str):
        raise RnnkitError("predict expects a list of texts, got a single string; wrap it: [text]")
    return SentimentClassifier(checkpoint, device).predict(texts)


def _predict(
    model: SequenceClassifier,
    pipeline: TextPipeline,
    texts: Sequence[str],
    device: torch.device,
    first: int = 1,
    source: str | None = None,
) -> list[tuple[str, float]]:
    """(label, probability) of each text; texts[0] is text (or line of `source`) `first`."""
    inputs = []
    for i, text in enumerate(texts, start=first):
        try:
            inputs.append(pipeline.encode(text))
        except RnnkitError as e:
            if source is not None:
                raise DataError(str(e), path=source, line=i) from None
            raise RnnkitError(f"text {i}: {e}") from None
    if not inputs:
        return []
    p_pos = torch.empty(len(inputs))
    label_ids = torch.empty(len(inputs), dtype=torch.int64)
    with torch.no_grad():
        for indices, batch in in_order_batches([(x, None) for x in inputs], EVAL_BATCH_SIZE):
            logits = model(batch.to(device)).logits  # (B,)
            p_pos[indices] = model.probabilities(logits).cpu()
            label_ids[indices] = model.predict(logits).cpu()  # 1 where z > 0, i.e. σ(z) > 0.5
    return [
        (pipeline.labels.name(int(y)), float(p) if y == 1 else float(1.0 - p))
        for y, p in zip(label_ids, p_pos, strict=True)
    ]
