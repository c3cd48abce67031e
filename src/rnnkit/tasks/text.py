"""Character-level text generation (one-to-many): the recipe.

Data: one plain UTF-8 text file (default: Tiny Shakespeare, `tinyshakespeare/input.txt` of the
shared data sets), one x<t> per character. The vocabulary is the characters of the whole file
(so validation meets no unknown one), sorted, after two specials: `<pad>` (id 0, the id the
encoder's embedding reserves for padding; it never occurs in the data) and `<bos>`, the start
symbol x<1> before the first character, which also lets a sample start from an empty prime.
The first 90% of the characters train, the last 10% validate, as is usual for this data set
(`text[:1003854]` / `text[1003854:]` for Tiny Shakespeare).

The whole text is one sequence: inputs = [<bos>, c<1>, ..., c<N-1>], targets = [c<1>, ..., c<N>]
and position t of the inputs predicts character t. Training cuts the training positions into
`batch_size` parallel streams and trains with truncated backpropagation through time over
windows of `bptt` characters, carrying the state from window to window
(`rnnkit.models.stateful`); each epoch after the first starts the streams at a new random
offset (fixed by the seed), so the window boundaries move. Validation carries the state too,
over `eval_streams` streams that cover every validation character exactly once.

Model: an embedding (initialised at unit scale, see `new_model`), a stack of LSTM (or GRU)
layers and a softmax over the characters, ŷ<t> = softmax(W_ya a<t> + b_y) = P(c<t+1> | c<1..t>).
The metric is the validation loss in nats per character (the mean of -ln P over every
validation character) and in bits per character (nats / ln 2).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rnnkit.data.batch import Batch
from rnnkit.data.paths import find_data
from rnnkit.data.text import read_text
from rnnkit.data.vocab import BOS, PAD, Vocabulary
from rnnkit.errors import CheckpointError, DataError, RnnkitError
from rnnkit.models.checks import check_int, check_sampling
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.stateful import StatefulLanguageModel, stream_batches
from rnnkit.tasks.recipe import (
    Loaded,
    Prepared,
    TrainedModel,
    load_run,
    report_data,
    run_training,
)
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import DistInfo
from rnnkit.train.fit import FitResult, TrainBatches, evaluate_loss
from rnnkit.train.sources import on_device

NAME = "text"
HELP = "character-level text generation (one-to-many)"
# The vocabulary comes from the text, the inputs are always character ids, and a language
# model reads them forwards.
HIDDEN = frozenset({"vocab_size", "num_features", "bidirectional", "merge"})
# The dev metrics `evaluate_chars` reports: --metric takes one of them.
METRICS: tuple[str, ...] = ("loss", "bits_per_char")
SPECIALS = (PAD, BOS)


@dataclass(frozen=True)
class TextDataConfig:
    # Plain UTF-8 text file (gzip allowed), modelled one character at a time. Default: the
    # shared tinyshakespeare/input.txt when it is found.
    path: str | None = field(default=None, metadata={"option": "data"})
    # Fraction of the text, taken from its end, that validates (0 trains on all of it).
    dev_fraction: float = 0.1
    # Characters per training window (truncated BPTT): gradients flow back at most this far,
    # while the recurrent state carries over from one window to the next.
    bptt: int = 128
    # Parallel streams the validation text is cut into (each starts from a zero state; fewer
    # streams: closer to one pass over the whole text, but slower to evaluate).
    eval_streams: int = 32

    def __post_init__(self) -> None:
        if not 0.0 <= self.dev_fraction < 1.0:
            raise RnnkitError(f"--dev-fraction must be in [0, 1), got {self.dev_fraction}")
        if self.bptt < 1:
            raise RnnkitError(f"--bptt must be at least 1, got {self.bptt}")
        if self.eval_streams < 1:
            raise RnnkitError(f"--eval-streams must be at least 1, got {self.eval_streams}")


@dataclass(frozen=True)
class TextConfig:
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"metric": METRICS}
    data: TextDataConfig = field(default_factory=TextDataConfig)
    model: LanguageModelConfig = field(
        default_factory=lambda: LanguageModelConfig(
            encoder=EncoderConfig(
                # Replaced at training time by the size of the text's vocabulary (67 for Tiny
                # Shakespeare: 65 characters and the two specials).
                vocab_size=67,
                embedding_dim=64,
                cell="lstm",
                hidden_size=512,
                num_layers=2,
                dropout=0.3,
                input_dropout=0.0,
            ),
            output_dropout=0.3,
        )
    )
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=5,
            # Streams per batch: 32 windows of bptt characters per step.
            batch_size=32,
            lr=3e-3,
            clip_norm=1.0,
            lr_schedule="cosine",
            warmup_steps=50,
            min_lr=1e-5,
            log_every=25,
            out_dir="runs/text",
        )
    )


PRESETS: dict[str, TextConfig] = {
    # The Tiny Shakespeare setting: a 2-layer LSTM-512 with dropout 0.3 between the layers and
    # before the output, five epochs of 246 steps. benchmarks/text_shakespeare.py fits the
    # epochs to the machine's speed: six in 27 minutes on two idle CPU cores, 1.448 nats/char
    # on the validation text.
    "default": TextConfig(),
    # A quick look in a few minutes on a CPU: one LSTM layer of 256 units, two epochs.
    "small": TextConfig(
        model=LanguageModelConfig(
            encoder=EncoderConfig(
                vocab_size=67, embedding_dim=64, cell="lstm", hidden_size=256, dropout=0.0
            ),
            output_dropout=0.1,
        ),
        train=replace(TextConfig().train, epochs=2),
    ),
}


# ------------------------------------------------------------------------------------ data


def load_text(path: str | Path | None) -> tuple[str, Path]:
    """(text, path) of a UTF-8 text file (the shared Tiny Shakespeare when `path` is None);
    an empty file is an error."""
    p = find_data(
        path,
        "tinyshakespeare/input.txt",
        "no text given: pass --data FILE (a plain UTF-8 text file), or run "
        "`rnnkit data fetch tinyshakespeare` to train on Tiny Shakespeare",
    )
    text = read_text(p)
    if not text:
        raise DataError("the file is empty: there is no text to model", path=p)
    return text, p


def build_vocabulary(text: str) -> Vocabulary:
    """<pad>, <bos>, then every character of `text` in code-point order."""
    return Vocabulary(sorted(set(text)), specials=SPECIALS)


def encode(text: str, vocab: Vocabulary, source: str | Path | None = None) -> Tensor:
    """Characters -> (N,) ids. A character outside the vocabulary is an error that names it
    (and its line in `source`, when the text comes from a file)."""
    unknown = sorted({c for c in set(text) if c not in vocab})
    if unknown:
        first = min(text.index(c) for c in unknown)
        line = text.count("\n", 0, first) + 1 if source is not None else None
        shown = ", ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise DataError(
            f"{len(unknown)} character(s) the model has no id for: {shown} (the model knows "
            f"the {len(vocab) - len(SPECIALS)} characters of its training text)",
            path=source,
            line=line,
        )
    return torch.tensor(vocab.encode(text), dtype=torch.long)  # (N,)


def split_point(n: int, dev_fraction: float) -> int:
    """Number of leading characters that train: int(n * (1 - dev_fraction))."""
    return int(n * (1.0 - dev_fraction))


def next_char_pairs(ids: Tensor, bos: int) -> tuple[Tensor, Tensor]:
    """Teacher forcing over the whole text: inputs [<bos>, c<1..N-1>], targets c<1..N>."""
    return torch.cat([ids.new_tensor([bos]), ids[:-1]]), ids  # (N,), (N,)


def epoch_offset(seed: int, epoch: int, limit: int) -> int:
    """Where the streams of an epoch start: 0 in the first epoch, then random in [0, limit)."""
    return 0 if epoch == 0 else random.Random(f"{seed}:{epoch}").randrange(limit)


def train_batches(
    inputs: Tensor, targets: Tensor, config: TextConfig, dist: DistInfo | None = None
) -> TrainBatches:
    """`batches(epoch)`: window after window of `batch_size` streams (this rank's share).

    Epochs after the first drop a random number of leading characters (fewer than bptt and
    than a stream's length), so that the window boundaries fall elsewhere in the text.
    """
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    bptt, streams, seed = config.data.bptt, config.train.batch_size, config.train.seed
    limit = min(bptt, len(inputs) // (streams * world))

    def batches(epoch: int) -> list[Batch]:
        start = epoch_offset(seed, epoch, max(limit, 1))
        return stream_batches(
            inputs[start:], targets[start:], streams, bptt, rank=rank, world_size=world
        )

    return batches


def eval_batches(inputs: Tensor, targets: Tensor, config: TextDataConfig) -> list[Batch]:
    """Every position exactly once, in `eval_streams` streams of windows of `bptt`."""
    return stream_batches(inputs, targets, config.eval_streams, config.bptt, exact=True)


def evaluate_chars(model: nn.Module, batches: Any) -> dict[str, float]:
    """{"loss", "bits_per_char"}: the mean -ln P(c<t+1> | c<1..t>) over every character of
    the batches, in nats, and the same in bits. `model` must carry its state (stateful)."""
    loss = evaluate_loss(model, batches)["loss"]
    return {"loss": loss, "bits_per_char": loss / math.log(2)}


# ------------------------------------------------------------------------------ the recipe


def prepare(
    config: TextConfig, dist: DistInfo | None = None, vocab: Vocabulary | None = None
) -> Prepared[TextConfig]:
    """Read and split the text, build the vocabulary (unless given: a resumed run's) and the
    batches of streams; the model config gets the vocabulary's size."""
    text, path = load_text(config.data.path)
    report_data(NAME, dist, path)
    vocab = vocab if vocab is not None else build_vocabulary(text)
    ids = encode(text, vocab, path)
    assert vocab.bos_id is not None
    inputs, targets = next_char_pairs(ids, vocab.bos_id)
    n_train = split_point(len(ids), config.data.dev_fraction)
    if n_train < 1 or (config.data.dev_fraction > 0 and n_train == len(ids)):
        raise DataError(
            f"{len(ids)} characters are too few to split into train and validation "
            f"(--dev-fraction {config.data.dev_fraction})",
            path=path,
        )
    streams = config.train.batch_size * (dist.world_size if dist is not None else 1)
    if n_train < streams:
        raise DataError(
            f"the training part has {n_train} characters, fewer than the {streams} streams of "
            f"--batch-size {config.train.batch_size}: lower --batch-size",
            path=path,
        )
    valid = eval_batches(inputs[n_train:], targets[n_train:], config.data)
    sized = replace(
        config,
        data=replace(config.data, path=str(path)),
        model=with_vocabulary(config.model, vocab),
    )
    return Prepared(
        sized,
        train_batches(inputs[:n_train], targets[:n_train], config, dist),
        (lambda: valid) if n_train < len(ids) else None,
        evaluate_chars,
        {"vocab": vocab.to_dict()},
    )


def build_model(config: TextConfig) -> StatefulLanguageModel:
    """The untrained character model a config describes (see `new_model`)."""
    return new_model(config.model)


def train(config: TextConfig, resume: bool = False) -> FitResult:
    """Train the character model; checkpoints and logs go to config.train.out_dir. It is
    saved as a plain language model: the stateful model only adds the carried state, which
    is not a parameter."""
    return run_training(NAME, config, prepare, build_model, resume, prepare_resumed)


def prepare_resumed(
    config: TextConfig, dist: DistInfo | None, extras: Mapping[str, Any]
) -> Prepared[TextConfig]:
    """`prepare` with the vocabulary a run recorded (resuming it)."""
    try:
        vocab = Vocabulary.from_dict(extras["vocab"])
    except (KeyError, RnnkitError) as e:
        raise CheckpointError(f"the run to resume has no usable vocabulary ({e})") from e
    return prepare(config, dist, vocab)


def new_model(config: LanguageModelConfig) -> StatefulLanguageModel:
    """An untrained character model, its character embeddings drawn from N(0, 1).

    Unit-scale embeddings (PyTorch's nn.Embedding default) rather than rnnkit's Keras-style
    U(-0.05, 0.05): with 64 dimensions and Glorot-initialised W_ax, the small ones reach the
    LSTM gates about 30 times weaker (a pre-activation std of ~0.007), and a character model
    then sits at the unigram loss (~3.3 nats) for its first hundred or so steps.
    """
    model = StatefulLanguageModel(config)
    if model.encoder.embedding is not None:
        nn.init.normal_(model.encoder.embedding.E, mean=0.0, std=1.0)
    return model


def with_vocabulary(config: LanguageModelConfig, vocab: Vocabulary) -> LanguageModelConfig:
    """The model config with its vocabulary size set to the text's."""
    return replace(config, encoder=replace(config.encoder, vocab_size=len(vocab), num_features=0))


# ----------------------------------------------------------------------- using a trained model


def load(checkpoint: str | Path) -> Loaded[StatefulLanguageModel, Vocabulary, TextDataConfig]:
    """The trained model (stateful, in eval mode), its vocabulary and its data settings."""
    model, meta, data = load_run(checkpoint, NAME, LanguageModel, TextDataConfig)
    try:
        vocab = Vocabulary.from_dict(meta.extras["vocab"])
    except (KeyError, RnnkitError) as e:
        raise CheckpointError(
            f"checkpoint {checkpoint}: no usable character vocabulary ({e})"
        ) from e
    return Loaded(StatefulLanguageModel.from_language_model(model).eval(), vocab, data)


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    split: str | None = None,
    eval_streams: int | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Loss per character of a trained model on one split of a text file, run on `device`.

    data: the text (default: the file it was trained on); split: "valid" (the default: the
    last dev_fraction of it, as in training), "train" (the rest) or "all" (the whole file).
    Returns {"loss" and "nats_per_char" (the same), "bits_per_char", "characters"}.
    """
    split = split or "valid"
    if split not in ("valid", "train", "all"):
        raise RnnkitError(f"--split must be valid, train or all, got {split!r}")
    loaded = load(checkpoint)
    model, vocab, trained = loaded.model, loaded.pipeline, loaded.data
    text, path = load_text(data if data is not None else trained.path)
    ids = encode(text, vocab, path)
    assert vocab.bos_id is not None
    inputs, targets = next_char_pairs(ids, vocab.bos_id)
    n_train = split_point(len(ids), trained.dev_fraction)
    lo, hi = {"valid": (n_train, len(ids)), "train": (0, n_train), "all": (0, len(ids))}[split]
    if hi <= lo:
        raise DataError(
            f"the {split} split of this {len(ids)}-character text is empty "
            f"(dev_fraction {trained.dev_fraction})",
            path=path,
        )
    config = replace(trained, eval_streams=eval_streams or trained.eval_streams)
    batches = eval_batches(inputs[lo:hi], targets[lo:hi], config)
    with torch.no_grad():
        metrics = evaluate_chars(model.to(device), on_device(batches, device))
    return {
        "loss": metrics["loss"],
        "nats_per_char": metrics["loss"],
        "bits_per_char": metrics["bits_per_char"],
        "characters": hi - lo,
    }


def generate(
    checkpoint: str | Path,
    prime: str = "",
    length: int = 500,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> str:
    """`length` characters sampled after `prime` (not included in the result), with the model
    on `device`.

    The model reads <bos> and the prime, then samples each character from
    softmax(z<t> / temperature), restricted to the top_k likeliest when given, and feeds it
    back. The same seed gives the same text.
    """
    return generate_samples(checkpoint, prime, length, temperature, top_k, seed, device)[0]


def generate_samples(
    checkpoint: str | Path,
    prime: str = "",
    length: int = 500,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    samples: int = 1,
) -> list[str]:
    """`samples` texts of `length` characters, each drawn after `prime` as `generate` draws
    one, all at once (`LanguageModel.generate_batch`: one kernel call per character for the
    whole batch). The same seed and number of samples give the same texts; one sample is
    `generate`'s text."""
    _check_generation(length, temperature, top_k, seed, samples)
    return TextGenerator(checkpoint, device).sample(
        prime, length, temperature, top_k, seed, samples
    )


def _check_generation(
    length: int, temperature: float, top_k: int | None, seed: int, samples: int
) -> None:
    if length < 1:
        raise RnnkitError(f"--length must be at least 1, got {length}")
    check_int("", "samples", samples, 1)
    check_sampling(temperature, top_k, seed)


class TextGenerator(TrainedModel[StatefulLanguageModel, Vocabulary, TextDataConfig]):
    """A trained character model loaded once, sampling texts for many calls: whole
    (`sample`) or one character at a time as each is drawn (`stream`)."""

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu"):
        super().__init__(load(checkpoint), checkpoint, device)
        assert self.pipeline.bos_id is not None
        # <pad> and <bos> are never targets, so the model gives them almost no probability;
        # make that none, so that every sampled id is a character.
        with torch.no_grad():
            for special in SPECIALS:
                self.model.head.b_y[self.pipeline.index(special)] = -math.inf

    def _steps(
        self, prime: str, length: int, temperature: float, top_k: int | None, seed: int, n: int
    ) -> Iterator[Tensor]:
        """Each step's n sampled ids, (n,), as `LanguageModel.sample_steps` draws them."""
        _check_generation(length, temperature, top_k, seed, n)
        try:
            ids = encode(prime, self.pipeline)
        except DataError as e:
            raise RnnkitError(f"--prime: {e}") from None
        generator = torch.Generator().manual_seed(seed)
        bos = ids.new_tensor([self.pipeline.bos_id])
        primed = torch.cat([bos, ids]).to(self.device)  # (1 + T0,)
        return self.model.sample_steps(length, [primed] * n, temperature, top_k, generator)

    def sample(
        self,
        prime: str = "",
        length: int = 500,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int = 0,
        samples: int = 1,
    ) -> list[str]:
        """`samples` texts of `length` characters after `prime` (see `generate_samples`)."""
        steps = self._steps(prime, length, temperature, top_k, seed, samples)
        sampled = torch.stack([x.cpu() for x in steps], dim=1)  # (samples, length)
        return ["".join(self.pipeline.decode(row)) for row in sampled]

    def stream(
        self,
        prime: str = "",
        length: int = 500,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int = 0,
    ) -> Iterator[str]:
        """`generate`'s text, one character at a time as each is sampled: the options are
        checked (RnnkitError) when this is called, before the first character is drawn."""
        steps = self._steps(prime, length, temperature, top_k, seed, 1)
        return ("".join(self.pipeline.decode(x.cpu())) for x in steps)
