"""Many-to-many with T_x = T_y and a CRF on top: the BiLSTM-CRF named-entity tagger.

The architecture of Lample et al. (2016), "Neural Architectures for Named Entity Recognition":

    w<t>  = E_word[x<t>]                          word embedding                  (B, T, D_w)
    c<t>  = CharEncoder(characters of word t)     spelling features               (B, T, F)
    a<t>  = BiLSTM(dropout([w<t>; c<t>]))         both directions, concatenated   (B, T, 2H)
    e<t>  = W_ya dropout(a<t>) + b_y              emission scores                 (B, T, C)
    p(y | x) = exp(s(x, y)) / Z(x)                a linear-chain CRF over e<t> (rnnkit.layers.crf)

The first and third lines, with the dropout, are the `SequenceEncoder` every architecture
shares (`rnnkit.models.encoder`); the character features enter it as its extra features.
The character features let the tagger recognise a name it has never seen as a word (`<unk>`):
capitals, suffixes and hyphens survive in the spelling. The CRF scores whole tag sequences, so
the decoded tags are a valid BIO sequence (the Viterbi search is constrained by
`rnnkit.data.tags.transition_constraints(tags, "BIO")`: no `O I-PER`, no `B-LOC I-PER`).

Loss, normalised per real token like every rnnkit loss (see `rnnkit.models.losses`):

    loss = (1 / N) * sum_b -log p(y_b | x_b),      N = number of real (unpadded) tokens

The negative log-likelihood of a sentence is a sum of per-step terms only when the transitions
are zero (then it is exactly the softmax tagger's per-step cross-entropy); in general it is a
sentence-level quantity, and dividing the batch's sum by N keeps the same scale as the
per-step losses of the other models, so one learning rate serves both.

Batch contract: inputs (B, T) word ids, targets (B, T) tag ids (anything on padded steps), and,
when the model reads characters, extras["chars"] (B, T, W) character ids (0 = padding) and
extras["word_lengths"] (B, T) with 0 for padding words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.batch import Batch
from rnnkit.data.tags import transition_constraints
from rnnkit.errors import RnnkitError
from rnnkit.layers.char_encoder import CharEncoder
from rnnkit.layers.crf import CRF
from rnnkit.layers.dense import Dense
from rnnkit.models.base import BatchModel, ModelOutput
from rnnkit.models.checks import check_choice, check_fraction, check_int
from rnnkit.models.encoder import EncoderConfig, SequenceEncoder
from rnnkit.models.registry import register_architecture
from rnnkit.models.summary import LayerRow, count_parameters

CONLL_TAGS: tuple[str, ...] = (
    "O",
    "B-PER",
    "I-PER",
    "B-LOC",
    "I-LOC",
    "B-ORG",
    "I-ORG",
    "B-MISC",
    "I-MISC",
)
"""The BIO tags of CoNLL-2003 (the default before a training set says otherwise)."""

CHARS = "chars"  # extras key: (B, T, W) character ids
WORD_LENGTHS = "word_lengths"  # extras key: (B, T) characters per word, 0 for padding words
CHAR_ENCODERS = ("lstm", "cnn")


@dataclass(frozen=True)
class CRFTaggerConfig:
    # The words and the recurrent stack: vocab_size words (set from the training data)
    # embedded in embedding_dim dimensions, read by a bidirectional LSTM of hidden_size units
    # per direction; input_dropout applies to the concatenated word and character features.
    encoder: EncoderConfig = field(
        default_factory=lambda: EncoderConfig(
            vocab_size=20_000,
            embedding_dim=100,
            cell="lstm",
            hidden_size=100,
            bidirectional=True,
            input_dropout=0.5,
        )
    )
    # Character vocabulary size (set from the training data); 0 turns the character features off.
    num_chars: int = 100
    # Character encoder: "lstm" (a BiLSTM over the characters, Lample et al. 2016) or "cnn"
    # (a convolution max-pooled over the word, Ma and Hovy 2016).
    char_encoder: str = "lstm"
    # Character embedding size.
    char_dim: int = 25
    # Units per direction of the character LSTM (features 2 x char_hidden), or CNN filters.
    char_hidden: int = 25
    # Width of the character CNN's filters (odd).
    char_kernel_size: int = 3
    # Dropout on the recurrent outputs a<t> before the emission layer.
    output_dropout: float = 0.5
    # The tag names in id order (BIO); the CRF's decoding constraints are built from them, so
    # a model rebuilt from its configuration decodes exactly as the trained one.
    tags: tuple[str, ...] = CONLL_TAGS
    # Values the string fields take (the command line offers them as choices).
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"char_encoder": CHAR_ENCODERS}

    def __post_init__(self) -> None:
        if self.encoder.vocab_size < 1 or self.encoder.num_features:
            raise RnnkitError("CRFTaggerConfig.encoder: the tagger reads word ids (vocab_size > 0)")
        me = "CRFTaggerConfig"
        check_choice(me, "char_encoder", self.char_encoder, CHAR_ENCODERS)
        check_int(me, "num_chars", self.num_chars, 0)
        check_int(me, "char_dim", self.char_dim, 1)
        check_int(me, "char_hidden", self.char_hidden, 1)
        check_int(me, "char_kernel_size", self.char_kernel_size, 1)
        check_fraction(me, "output_dropout", self.output_dropout)
        if self.char_encoder == "cnn" and self.char_kernel_size % 2 != 1:
            raise RnnkitError(
                f"CRFTaggerConfig.char_kernel_size must be odd, got {self.char_kernel_size}"
            )
        if not self.tags or len(set(self.tags)) != len(self.tags):
            raise RnnkitError("CRFTaggerConfig.tags: expected distinct tag names, at least one")


@register_architecture("crf_tagger", CRFTaggerConfig)
class CRFTagger(BatchModel):
    """Words + characters -> BiLSTM -> emissions e<t> -> CRF (see the module docstring).

    forward(batch) -> ModelOutput(emissions (B, T, C), loss per real token, count = real
    tokens); decode(batch) -> the best valid tag sequence of each sentence (Viterbi).
    """

    def __init__(self, config: CRFTaggerConfig):
        super().__init__()
        self.config = config
        self.chars: CharEncoder | None = None
        if config.num_chars > 0:
            self.chars = CharEncoder(
                config.num_chars,
                config.char_dim,
                config.char_hidden,
                kind="cnn" if config.char_encoder == "cnn" else "lstm",
                kernel_size=config.char_kernel_size,
            )
        # The words' embedding and the BiLSTM; the character features enter as extra features.
        char_features = 0 if self.chars is None else self.chars.output_size
        self.encoder = SequenceEncoder(config.encoder, padding_idx=0, extra_features=char_features)
        C = len(config.tags)
        self.emission = Dense(self.encoder.output_size, C, "linear")
        # BIO: the readers convert every scheme to BIO, so the model only ever sees BIO tags.
        self.crf = CRF(C, transition_constraints(list(config.tags), "BIO"))

    def emissions(self, batch: Batch) -> Tensor:
        """e<t> for every step: (B, T) ids (+ char extras) -> (B, T, C)."""
        c = None
        if self.chars is not None:
            if CHARS not in batch.extras or WORD_LENGTHS not in batch.extras:
                raise RnnkitError(
                    f"this tagger reads characters: the batch needs extras[{CHARS!r}] (B, T, W) "
                    f"and extras[{WORD_LENGTHS!r}] (B, T)"
                )
            c = self.chars(batch.extras[CHARS], batch.extras[WORD_LENGTHS])  # (B, T, F)
        a, _ = self.encoder(batch.inputs, batch.lengths, features=c)  # (B, T, 2H)
        a = F.dropout(a, self.config.output_dropout, self.training)
        return self.emission(a)  # (B, T, C)

    def forward_batch(self, batch: Batch) -> ModelOutput:
        e = self.emissions(batch)  # (B, T, C)
        count = batch.mask.sum()
        if batch.targets is None:
            return ModelOutput(e, None, count)
        nll = self.crf.neg_log_likelihood(e, batch.targets, batch.mask)  # (B,)
        return ModelOutput(e, nll.sum() / count.clamp(min=1), count)

    def decode(self, batch: Batch) -> list[list[int]]:
        """The best allowed tag ids of each sentence, each list as long as its sentence."""
        return self.crf.decode(self.emissions(batch), batch.mask)

    def layer_rows(self) -> list[LayerRow]:
        chars = []
        if self.chars is not None:
            kind = "BiLSTM" if self.chars.kind == "lstm" else "CNN"
            shape = f"(B, T, {self.chars.output_size})"
            chars = [LayerRow(f"chars (CharEncoder {kind})", shape, count_parameters(self.chars))]
        rows = self.encoder.layer_rows(feature_rows=chars)
        C = len(self.config.tags)
        rows.append(LayerRow("emission (Dense)", f"(B, T, {C})", count_parameters(self.emission)))
        rows.append(LayerRow("crf (CRF)", f"(B, T) tags of {C}", count_parameters(self.crf)))
        return rows
