"""Named-entity recognition (many-to-many, T_x = T_y): the recipe.

The lecture's example: read "Harry Potter and Hermione Granger invented a new spell." one word
x<t> per step and output one label y<t> per word. Real corpora tag *which* kind of name and
where it starts (BIO: B-PER I-PER O B-PER I-PER O ...); the readers convert every scheme to
BIO (`rnnkit.data.conll`), and the lecture's binary labels become entities of type NAME.

Data: CoNLL-2003 (`token POS chunk NER` columns) by default, the shared conll2003/eng.train for
training and conll2003/eng.testa as the dev split; `format` also reads `token<TAB>tag` files
("tsv") and the lecture's `sentence<TAB>0 1 1 0` lines ("binary").

Model presets:
  bilstm-crf  (default) words and characters -> BiLSTM -> CRF, as Lample et al. (2016)
              (`rnnkit.models.crf_tagger.CRFTagger`);
  softmax     the plain `SequenceTagger`: words -> BiLSTM -> softmax at every step, no
              characters, no CRF; for comparison.

Words. A word is looked up in lowercase with every digit replaced by 0 ("Potter" and "potter"
share an embedding, "1996-08-22" reads as "0000-00-00"); its characters keep the original
spelling, so the case is not lost, only moved to the character encoder. The word vocabulary
holds the normalised training words seen at least `min_count` times; everything else is
`<unk>`. So that `<unk>` learns what an unseen word looks like, each training word seen only
once is replaced by `<unk>` with probability `unk_replace` in every epoch (Lample et al.'s
singleton replacement), drawn from a generator seeded by (seed, epoch), so an epoch's batches
are always the same.

Metric: entity-level micro F1 on the dev split (exact type and boundaries, as conlleval
counts; `rnnkit.metrics.entities`); it picks the best checkpoint and stops training early.
The word, character and tag vocabularies and the normalisation switches are saved in every
checkpoint, so `evaluate`, `tag_texts` and `tag_file` need only the checkpoint directory.

Raw text is split into words and punctuation by `tokenize_with_offsets` (CoNLL / Penn
Treebank conventions: "U.S." stays whole, "Clinton's" -> "Clinton" "'s", "don't" -> "do"
"n't"), which keeps each token's character offsets, so entities can be marked in the original
text with its spacing untouched.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.data.batch import Batch
from rnnkit.data.batching import BucketBatcher, make_batch
from rnnkit.data.conll import TaggedSentence, read_binary, read_conll, read_token_tags
from rnnkit.data.paths import shared_data_dir
from rnnkit.data.tags import OUTSIDE, bio_to_spans, to_bio
from rnnkit.data.text import read_text
from rnnkit.data.vocab import PAD, UNK, Vocabulary
from rnnkit.errors import CheckpointError, DataError, RnnkitError
from rnnkit.metrics.entities import EntityScores, entity_scores
from rnnkit.metrics.running import RunningMeans
from rnnkit.models.crf_tagger import CHARS, WORD_LENGTHS, CRFTagger, CRFTaggerConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.registry import describe_model
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import current_dist
from rnnkit.train.fit import FitResult, fit
from rnnkit.train.loading import load_model

TASK = "ner"
FORMATS = ("conll", "tsv", "binary")
ARCHITECTURES = ("bilstm-crf", "softmax")
EVAL_BATCH_SIZE = 128


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class NERDataConfig:
    # Training sentences. Default: the shared CoNLL-2003 conll2003/eng.train.
    train_file: str | None = None
    # Dev sentences, whose entity F1 picks the best checkpoint. Default: the shared
    # conll2003/eng.testa (required when train_file is given).
    dev_file: str | None = None
    # File format: "conll" (token first, tag last, whitespace-separated columns), "tsv"
    # (token<TAB>tag) or "binary" (the lecture's `sentence<TAB>0 1 1 0` lines).
    format: str = "conll"
    # Training words (lowercased, digits -> 0) seen fewer times than this become <unk>.
    min_count: int = 1
    # Probability of replacing a training word seen only once by <unk>, drawn anew each epoch,
    # so that the <unk> embedding learns what unseen words look like. 0 disables it.
    unk_replace: float = 0.5
    # Probability of replacing any other training word by <unk>, drawn anew each epoch (word
    # dropout: the tagger learns to rely on the characters and the context too). 0 disables it.
    word_dropout: float = 0.0
    # Look words up in lowercase (their characters keep the original case).
    lowercase: bool = True
    # Replace every digit by 0 before the word lookup.
    zero_digits: bool = True

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise RnnkitError(f"--format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.min_count < 1:
            raise RnnkitError(f"--min-count must be at least 1, got {self.min_count}")
        if not 0.0 <= self.unk_replace < 1.0:
            raise RnnkitError(f"--unk-replace must be in [0, 1), got {self.unk_replace}")
        if not 0.0 <= self.word_dropout < 1.0:
            raise RnnkitError(f"--word-dropout must be in [0, 1), got {self.word_dropout}")


@dataclass(frozen=True)
class NERConfig:
    # Which sentences, and how words become ids (with word dropout 0.1 in training).
    data: NERDataConfig = field(default_factory=lambda: NERDataConfig(word_dropout=0.1))
    # "bilstm-crf": words and characters -> BiLSTM -> CRF; "softmax": the plain SequenceTagger
    # (words -> BiLSTM -> softmax per step; the character options are not used).
    architecture: str = "bilstm-crf"
    # The tagger. vocab_size, num_chars and tags are replaced by the sizes and tags of the
    # training data when training starts.
    model: CRFTaggerConfig = field(
        default_factory=lambda: CRFTaggerConfig(
            encoder=EncoderConfig(
                vocab_size=20_000,
                embedding_dim=100,
                cell="lstm",
                hidden_size=200,
                bidirectional=True,
                input_dropout=0.5,
            ),
            output_dropout=0.5,
        )
    )
    # How to train; the dev entity F1 picks the best checkpoint and stops training early.
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=15,
            batch_size=32,
            lr=2e-3,
            clip_norm=5.0,
            lr_schedule="cosine",
            min_lr=1e-4,
            metric="f1",
            mode="max",
            patience=5,
            ema_decay=0.999,
            out_dir="runs/ner",
        )
    )

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise RnnkitError(
                f"--architecture must be one of {', '.join(ARCHITECTURES)}, got "
                f"{self.architecture!r}"
            )


_CRF = NERConfig()

PRESETS: dict[str, NERConfig] = {
    # Lample et al. (2016) without pretrained embeddings: word embeddings (100) and a character
    # BiLSTM (2 x 25) -> BiLSTM -> CRF, dropout 0.5 before and after the BiLSTM. Two changes:
    # 200 units per direction instead of 100 (random embeddings leave more to the BiLSTM: +0.6
    # dev F1 in 6-epoch runs), and Adam with batches of 32 and a cosine decay of the learning
    # rate from 2e-3 to 1e-4 over 15 epochs (Lample et al. used SGD on single sentences, which
    # needs many more, slower epochs on a CPU). Two regularisers on top: word dropout 0.1
    # (any training word becomes <unk> with probability 0.1, so the tagger leans on the
    # characters and the context: dev F1 90.00 -> 90.95 with seed 1, 90.11 -> 90.66 with
    # seed 0), and weights evaluated and saved as an exponential moving average over about the
    # last 1,000 steps (ema_decay 0.999, some 2 epochs): the dev F1 of the raw weights jumps
    # by a point from epoch to epoch, the average's climbs smoothly and higher (90.11 against
    # 89.87 at best, same settings otherwise).
    "default": _CRF,
    "bilstm-crf": _CRF,
    # The per-step softmax tagger over word embeddings alone, for comparison.
    "softmax": replace(_CRF, architecture="softmax"),
}


# ------------------------------------------------------------------------------ tokenizer


class Token(NamedTuple):
    """A token of raw text and where it is: text[start:end] == token.text."""

    text: str
    start: int
    end: int


_CLITIC = r"(?:s|re|m|ve|ll|d)\b"
_TOKEN = re.compile(
    r"(?:[^\W\d_]\.){2,}"  # abbreviations with periods: U.S.  a.m.
    r"|\d+(?:[.,:/-]\d+)+"  # numbers with separators: 3.5  1,000  1996-08-22  12:30
    r"|[^\W_]+?(?=n['’]t\b)"  # the word before n't: does|n't
    r"|n['’]t\b"  # n't
    r"|['’]" + _CLITIC + r""  # clitics: 's 're 'm 've 'll 'd
    r"|[^\W_]+(?:-[^\W_]+|['’](?!" + _CLITIC + r")[^\W_]+)*"  # words: EU-wide O'Brien 1990s
    r"|\.{2,}"  # ...
    r"|[^\w\s]|_",  # any other single symbol
    re.IGNORECASE,
)


def tokenize_with_offsets(text: str) -> list[Token]:
    """Split raw text into words and punctuation, CoNLL-style, keeping character offsets.

    >>> [t.text for t in tokenize_with_offsets("Yesterday, Harry Potter's owl didn't come.")]
    ['Yesterday', ',', 'Harry', 'Potter', "'s", 'owl', 'did', "n't", 'come', '.']
    >>> tokenize_with_offsets("U.S. troops")[1]
    Token(text='troops', start=5, end=11)
    """
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


# ------------------------------------------------------------------------------ reading


def read_sentences(
    path: str | Path, format: str = "conll", tag_set: Iterable[str] | None = None
) -> list[TaggedSentence]:
    """Tagged sentences of a file, tags in BIO (binary labels become B-NAME / I-NAME).

    tag_set: every tag must be one of these (the tags a model was trained on); a DataError
    names the file and line of the first tag that is not.
    """
    if format not in FORMATS:
        raise RnnkitError(f"unknown format {format!r}: expected one of {', '.join(FORMATS)}")
    known = None if tag_set is None else set(tag_set)
    if format == "conll":
        return read_conll(path, tag_set=known)
    if format == "tsv":
        return read_token_tags(path, tag_set=known)
    sentences = [
        TaggedSentence(s.tokens, to_bio(s.tags, "binary"), s.lines, s.path)
        for s in read_binary(path)
    ]
    if known is not None:
        for s in sentences:
            for i, tag in enumerate(s.tags):
                if tag not in known:
                    raise DataError(
                        f"tag {tag!r} (binary label {s.tags[i] != OUTSIDE:d}) is not one of the "
                        f"tags the model knows ({', '.join(sorted(known))})",
                        path=s.path,
                        line=s.lines[i],
                    )
    return sentences


def _shared_conll(name: str) -> Path:
    shared = shared_data_dir()
    path = None if shared is None else shared / "conll2003" / name
    if path is None or not path.is_file():
        raise RnnkitError(
            f"no training data: the shared CoNLL-2003 file conll2003/{name} was not found; pass "
            "--train-file FILE and --dev-file FILE (or set RNNKIT_SHARED_DATA)"
        )
    return path


def data_files(config: NERDataConfig) -> tuple[Path, Path]:
    """(train, dev) paths: the ones given, or the shared CoNLL-2003 eng.train and eng.testa."""
    if config.train_file is None:
        if config.format != "conll":
            raise RnnkitError(f"--format {config.format} needs --train-file and --dev-file")
        train = _shared_conll("eng.train")
        dev = Path(config.dev_file) if config.dev_file else _shared_conll("eng.testa")
        return train, dev
    if config.dev_file is None:
        raise RnnkitError(
            "--train-file needs a --dev-file too: the dev entity F1 picks the best checkpoint"
        )
    return Path(config.train_file), Path(config.dev_file)


# ------------------------------------------------------------------------------ encoding


class Example(NamedTuple):
    """One encoded sentence of T words, longest word W characters."""

    words: Tensor  # (T,) int64 word ids
    tags: Tensor | None  # (T,) int64 tag ids, None when unlabelled
    chars: Tensor  # (T, W) int64 character ids, 0 after each word's end
    word_lengths: Tensor  # (T,) int64 characters per word


@dataclass(frozen=True)
class NERPipeline:
    """Tokens -> ids exactly as the model was trained (see the module docstring). Saved in
    every checkpoint."""

    words: Vocabulary  # normalised words, <pad> = 0, <unk> = 1
    chars: Vocabulary  # characters of the original tokens, <pad> = 0, <unk> = 1
    tags: Vocabulary  # BIO tags, no specials, O first
    lowercase: bool = True
    zero_digits: bool = True

    @classmethod
    def build(cls, sentences: Sequence[TaggedSentence], config: NERDataConfig) -> NERPipeline:
        """Vocabularies of the training sentences."""
        lowercase, zero_digits = config.lowercase, config.zero_digits
        keys = [[_normalise(t, lowercase, zero_digits) for t in s.tokens] for s in sentences]
        words = Vocabulary.build(keys, min_count=config.min_count, specials=(PAD, UNK))
        chars = Vocabulary.build(
            ([c for token in s.tokens for c in token] for s in sentences), specials=(PAD, UNK)
        )
        seen = {tag for s in sentences for tag in s.tags}
        tags = Vocabulary.from_tokens([OUTSIDE, *sorted(seen - {OUTSIDE}, key=_tag_order)])
        return cls(words, chars, tags, lowercase, zero_digits)

    def word_key(self, token: str) -> str:
        return _normalise(token, self.lowercase, self.zero_digits)

    def encode(self, tokens: Sequence[str], tags: Sequence[str] | None = None) -> Example:
        """One sentence's ids; every token must be a non-empty string."""
        word_ids = [self.words.index(self.word_key(t)) for t in tokens]
        char_ids = [self.chars.encode(t) for t in tokens]
        W = max(len(ids) for ids in char_ids)
        padded = [ids + [0] * (W - len(ids)) for ids in char_ids]
        return Example(
            torch.tensor(word_ids, dtype=torch.int64),
            None if tags is None else torch.tensor(self.tags.encode(tags), dtype=torch.int64),
            torch.tensor(padded, dtype=torch.int64).view(len(tokens), W),  # (T, W)
            torch.tensor([len(t) for t in tokens], dtype=torch.int64),
        )

    def tag_names(self, ids: Sequence[int]) -> list[str]:
        return [self.tags.token(i) for i in ids]

    def to_extras(self) -> dict[str, Any]:
        return {
            "words": self.words.to_dict(),
            "chars": self.chars.to_dict(),
            "tags": self.tags.to_dict(),
            "lowercase": self.lowercase,
            "zero_digits": self.zero_digits,
        }

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any], where: str | Path) -> NERPipeline:
        try:
            return cls(
                Vocabulary.from_dict(extras["words"]),
                Vocabulary.from_dict(extras["chars"]),
                Vocabulary.from_dict(extras["tags"]),
                bool(extras["lowercase"]),
                bool(extras["zero_digits"]),
            )
        except (KeyError, TypeError, ValueError, RnnkitError) as e:
            raise CheckpointError(
                f"checkpoint {where}: no usable word, character and tag vocabularies ({e})"
            ) from None


_DIGIT = re.compile(r"\d")


def _normalise(token: str, lowercase: bool, zero_digits: bool) -> str:
    if lowercase:
        token = token.lower()
    return _DIGIT.sub("0", token) if zero_digits else token


def _tag_order(tag: str) -> tuple[str, str]:
    """B-X before I-X, grouped by type: B-LOC, I-LOC, B-MISC, ..."""
    return tag[2:], tag[:2]


def encode_sentences(
    sentences: Sequence[TaggedSentence], pipeline: NERPipeline, labelled: bool = True
) -> list[Example]:
    return [pipeline.encode(s.tokens, s.tags if labelled else None) for s in sentences]


def collate(examples: Sequence[Example]) -> Batch:
    """A padded batch: inputs (B, T), targets (B, T) (-100 on padding), extras chars (B, T, W)
    and word_lengths (B, T) (0 for padding words)."""
    tags = [e.tags for e in examples]
    return make_batch(
        [e.words for e in examples],
        None if any(t is None for t in tags) else tags,  # type: ignore[arg-type]
        extras={
            CHARS: [e.chars for e in examples],
            WORD_LENGTHS: [e.word_lengths for e in examples],
        },
    )


def singletons(sentences: Sequence[TaggedSentence], pipeline: NERPipeline) -> list[Tensor]:
    """Per sentence, (T,) bool: which words occur exactly once in the whole training set."""
    counts = Counter(pipeline.word_key(t) for s in sentences for t in s.tokens)
    return [
        torch.tensor([counts[pipeline.word_key(t)] == 1 for t in s.tokens], dtype=torch.bool)
        for s in sentences
    ]


def training_batches(
    examples: Sequence[Example],
    once: Sequence[Tensor],
    batch_size: int,
    seed: int,
    unk_replace: float,
    unk_id: int,
    rank: int = 0,
    world_size: int = 1,
    word_dropout: float = 0.0,
) -> Any:
    """`batches(epoch)`: length-bucketed, shuffled per (seed, epoch), sharded by rank; with
    each singleton word replaced by <unk> with probability unk_replace and every other word
    with probability word_dropout (see the module docstring). The same epoch always gives the
    same batches."""
    batcher = BucketBatcher(
        [len(e.words) for e in examples], batch_size, seed=seed, rank=rank, world_size=world_size
    )

    def batches(epoch: int) -> list[Batch]:
        generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        out = []
        for indices in batcher.batches(epoch):
            chosen = []
            for i in indices:
                e = examples[i]
                if unk_replace > 0 or word_dropout > 0:
                    p = torch.where(once[i], unk_replace, word_dropout)  # (T,) per word
                    drop = torch.rand(len(e.words), generator=generator) < p  # (T,)
                    e = e._replace(words=e.words.masked_fill(drop, unk_id))
                chosen.append(e)
            out.append(collate(chosen))
        return out

    return batches


def in_order_batches(
    examples: Sequence[Example], batch_size: int = EVAL_BATCH_SIZE
) -> list[tuple[list[int], Batch]]:
    """Length-bucketed batches in a fixed order, each with the indices of its examples."""
    batcher = BucketBatcher([len(e.words) for e in examples], batch_size, shuffle=False)
    return [(indices, collate([examples[i] for i in indices])) for indices in batcher.batches()]


# ------------------------------------------------------------------------------ model


def build_model(config: NERConfig, pipeline: NERPipeline | None = None) -> nn.Module:
    """The untrained model a config describes; with a pipeline, sized to its vocabularies."""
    model = model_config(config, pipeline)
    if isinstance(model, TaggerConfig):
        return SequenceTagger(model)
    return CRFTagger(model)


def model_config(
    config: NERConfig, pipeline: NERPipeline | None = None
) -> CRFTaggerConfig | TaggerConfig:
    m = config.model
    if pipeline is not None:
        m = replace(
            m,
            encoder=replace(m.encoder, vocab_size=len(pipeline.words)),
            num_chars=len(pipeline.chars),
            tags=tuple(pipeline.tags.tokens),
        )
    if config.architecture == "softmax":
        return TaggerConfig(
            encoder=m.encoder, num_tags=len(m.tags), output_dropout=m.output_dropout
        )
    return m


def predict_ids(model: nn.Module, batch: Batch, scores: Tensor | None = None) -> list[list[int]]:
    """The predicted tag ids of each sentence of a batch: Viterbi for the CRF tagger, the
    per-step argmax for the softmax tagger. `scores`: the model's logits if already computed."""
    if isinstance(model, CRFTagger):
        emissions = model.emissions(batch) if scores is None else scores  # (B, T, C)
        return model.crf.decode(emissions, batch.mask)
    logits = model(batch).logits if scores is None else scores  # (B, T, C)
    best = logits.argmax(dim=-1).tolist()  # (B, T)
    return [row[:n] for row, n in zip(best, batch.lengths.tolist())]


def evaluator(tags: Vocabulary) -> Any:
    """The dev evaluation for the training engine: {"loss", "precision", "recall", "f1",
    "accuracy"}, entity-level and micro-averaged (accuracy: per token)."""

    def evaluate_tagger(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
        scores, loss = score_batches(model, batches, tags)
        o = scores.overall
        return {
            "loss": loss,
            "precision": o.precision,
            "recall": o.recall,
            "f1": o.f1,
            "accuracy": scores.accuracy,
        }

    return evaluate_tagger


def score_batches(
    model: nn.Module, batches: Iterable[Batch], tags: Vocabulary
) -> tuple[EntityScores, float]:
    """Entity scores and the mean loss per token of labelled batches."""
    means = RunningMeans()
    gold: list[list[str]] = []
    predicted: list[list[str]] = []
    for batch in batches:
        out = model(batch)
        assert out.loss is not None and batch.targets is not None
        means.add("loss", out.loss, out.count)
        for row, n, ids in zip(
            batch.targets.tolist(), batch.lengths.tolist(), predict_ids(model, batch, out.logits)
        ):
            gold.append([tags.token(i) for i in row[:n]])
            predicted.append([tags.token(i) for i in ids])
    if not gold:
        raise RnnkitError("the evaluation split yielded no batches")
    return entity_scores(gold, predicted), means.means()["loss"]


# ------------------------------------------------------------------------------ train


@dataclass(frozen=True)
class PreparedData:
    """The training and dev sentences, encoded: what `train` needs besides the configs."""

    pipeline: NERPipeline  # vocabularies of the training sentences only
    train: list[Example]
    once: list[Tensor]  # per training sentence, which words occur once (singleton <unk>)
    dev: list[Example]
    source: dict[str, Any]  # where they came from: files and format


def prepare_data(config: NERDataConfig) -> PreparedData:
    """Read the files, build the vocabularies from the training sentences, encode both."""
    train_path, dev_path = data_files(config)
    train_sentences = read_sentences(train_path, config.format)
    pipeline = NERPipeline.build(train_sentences, config)
    dev_sentences = read_sentences(dev_path, config.format, tag_set=pipeline.tags.tokens)
    return PreparedData(
        pipeline,
        encode_sentences(train_sentences, pipeline),
        singletons(train_sentences, pipeline),
        encode_sentences(dev_sentences, pipeline),
        {
            "train_file": str(train_path.resolve()),
            "dev_file": str(dev_path.resolve()),
            "format": config.format,
        },
    )


def train(config: NERConfig, resume: bool = False, data: PreparedData | None = None) -> FitResult:
    """Train the tagger; checkpoints and logs go to config.train.out_dir.

    data: the output of `prepare_data(config.data)` when the caller already has it (a
    benchmark that trains in several calls), else the files are read here.
    """
    data = data if data is not None else prepare_data(config.data)
    pipeline = data.pipeline
    dist = current_dist(config.train.device)
    unk = pipeline.words.unk_id
    assert unk is not None
    train_batches = training_batches(
        data.train,
        data.once,
        config.train.batch_size,
        config.train.seed,
        config.data.unk_replace,
        unk,
        rank=dist.rank,
        world_size=dist.world_size,
        word_dropout=config.data.word_dropout,
    )
    dev = [b for _, b in in_order_batches(data.dev)]
    torch.manual_seed(config.train.seed)
    model = build_model(config, pipeline)
    return fit(
        model,
        train_batches,
        lambda: dev,
        config.train,
        evaluate=evaluator(pipeline.tags),
        task=TASK,
        model_config=describe_model(model),
        extras={**pipeline.to_extras(), "data": data.source},
        resume=resume,
        dist=dist,
    )


# ------------------------------------------------------------------------------ use


class Entity(NamedTuple):
    """A recognised entity of a raw text: text[start:end] == entity.text."""

    type: str
    start: int  # character offset of its first character
    end: int  # character offset after its last character
    text: str


@dataclass(frozen=True)
class TaggedText:
    """A raw text, its tokens with offsets, one BIO tag per token, and the entities."""

    text: str
    tokens: list[Token]
    tags: list[str]
    entities: list[Entity]

    def bracketed(self) -> str:
        """The text with every entity marked in place: 'met [Harry Potter]PER.'; the spacing
        of the original text is untouched."""
        out, at = [], 0
        for e in self.entities:
            out += [self.text[at : e.start], "[", e.text, "]", e.type]
            at = e.end
        out.append(self.text[at:])
        return "".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "entities": [e._asdict() for e in self.entities],
            "tokens": [t.text for t in self.tokens],
            "tags": self.tags,
        }


class NERTagger:
    """A trained tagger loaded from a checkpoint directory, ready to tag many texts.

    >>> tagger = NERTagger("runs/ner/best")                               # doctest: +SKIP
    >>> tagger.tag_texts(["Harry Potter met Hermione."])[0].bracketed()   # doctest: +SKIP
    '[Harry Potter]PER met [Hermione]PER.'
    """

    def __init__(self, checkpoint: str | Path):
        model, meta = load_model(checkpoint, expected_task=TASK)
        if not isinstance(model, (CRFTagger, SequenceTagger)):
            raise CheckpointError(f"checkpoint {checkpoint}: not a sequence tagger")
        self.model = model
        self.pipeline = NERPipeline.from_extras(meta.extras, checkpoint)
        self.checkpoint = str(checkpoint)

    def tag_tokens(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """BIO tags for each tokenized sentence (every sentence needs at least one token)."""
        examples = [self.pipeline.encode(tokens) for tokens in sentences]
        result: list[list[str]] = [[] for _ in examples]
        if not examples:
            return result
        with torch.no_grad():
            for indices, batch in in_order_batches(examples):
                for i, ids in zip(indices, predict_ids(self.model, batch)):
                    result[i] = self.pipeline.tag_names(ids)
        return result

    def tag_texts(self, texts: Sequence[str]) -> list[TaggedText]:
        """Tokenize and tag raw texts (one sentence or more each); RnnkitError naming the text
        (1-based) when one has no words."""
        if isinstance(texts, str):
            raise RnnkitError("tag_texts expects a list of texts, got a single string: [text]")
        tokenized = []
        for i, text in enumerate(texts, start=1):
            tokens = tokenize_with_offsets(text)
            if not tokens:
                raise RnnkitError(f"text {i} is empty: nothing to tag")
            tokenized.append(tokens)
        tag_lists = self.tag_tokens([[t.text for t in tokens] for tokens in tokenized])
        return [
            TaggedText(text, tokens, tags, entities(text, tokens, tags))
            for text, tokens, tags in zip(texts, tokenized, tag_lists)
        ]


def entities(text: str, tokens: Sequence[Token], tags: Sequence[str]) -> list[Entity]:
    """The entities of BIO tags over tokens, in character offsets of `text`."""
    out = []
    for span in bio_to_spans(tags):
        start, end = tokens[span.start].start, tokens[span.end - 1].end
        out.append(Entity(span.type, start, end, text[start:end]))
    return out


def tag_texts(checkpoint: str | Path, texts: Sequence[str]) -> list[TaggedText]:
    """Tag raw texts with the model of a checkpoint (see `NERTagger.tag_texts`)."""
    return NERTagger(checkpoint).tag_texts(texts)


def evaluate(checkpoint: str | Path, path: str | Path, format: str = "conll") -> EntityScores:
    """Entity-level precision, recall and F1 (overall and per type) on a labelled file.

    Raises DataError naming the file and line for malformed input, for tags that mix schemes,
    and for a tag the model was never trained on.
    """
    tagger = NERTagger(checkpoint)
    sentences = read_sentences(path, format, tag_set=tagger.pipeline.tags.tokens)
    predicted = tagger.tag_tokens([s.tokens for s in sentences])
    return entity_scores([s.tags for s in sentences], predicted)


def tag_file(
    checkpoint: str | Path,
    path: str | Path,
    out: str | Path,
    format: str = "conll",
    jsonl: bool = False,
) -> int:
    """Tag every sentence of a file; returns the number of sentences.

    format: "conll", "tsv" or "binary" (labelled files), or "text" (raw text, one or more
    sentences a line). A CoNLL file with a single column (tokens only) is read as unlabelled.
    Writes to `out`:
      - CoNLL (the default for tokenized input): `token gold predicted` lines, a blank line
        after each sentence (conlleval's input), or `token predicted` for unlabelled input;
      - with jsonl=True (the only output for "text"), one JSON object per sentence or line:
        {"text", "entities": [{"type", "start", "end", "text"}], "tokens", "tags"}, offsets in
        characters of "text" (for tokenized input: the tokens joined by single spaces).
    """
    tagger = NERTagger(checkpoint)
    if format == "text":
        lines = read_text(path).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for number, line in enumerate(lines, start=1):
            if not tokenize_with_offsets(line):
                raise DataError(
                    "empty line: every line must hold text to tag", path=path, line=number
                )
        if not lines:
            raise DataError("empty file: no text to tag", path=path)
        records = [t.to_json() for t in tagger.tag_texts(lines)]
        _write_jsonl(records, out)
        return len(records)
    labelled = not (format == "conll" and _single_column(path))
    if labelled:
        sentences = read_sentences(path, format)
    else:
        sentences = read_conll(path, column=0, scheme=None)
    predicted = tagger.tag_tokens([s.tokens for s in sentences])
    if jsonl:
        records = []
        for s, tags in zip(sentences, predicted):
            text, tokens = " ".join(s.tokens), []
            at = 0
            for token in s.tokens:
                tokens.append(Token(token, at, at + len(token)))
                at += len(token) + 1
            records.append(TaggedText(text, tokens, tags, entities(text, tokens, tags)).to_json())
        _write_jsonl(records, out)
    else:
        lines_out = []
        for s, tags in zip(sentences, predicted):
            for token, gold, pred in zip(s.tokens, s.tags, tags):
                lines_out.append(f"{token} {gold} {pred}\n" if labelled else f"{token} {pred}\n")
            lines_out.append("\n")
        Path(out).write_text("".join(lines_out), encoding="utf-8")
    return len(sentences)


def _single_column(path: str | Path) -> bool:
    """Whether the first token line of a CoNLL file has one column (tokens, no tags)."""
    for line in read_text(path).split("\n"):
        fields = line.split()
        if fields and fields[0] != "-DOCSTART-":
            return len(fields) == 1
    return False


def _write_jsonl(records: Sequence[Mapping[str, Any]], out: str | Path) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    Path(out).write_text(text, encoding="utf-8")
