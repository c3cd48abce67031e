"""Many-to-many with T_x ≠ T_y and no alignment: connectionist temporal classification.

The audio has hundreds of frames, the transcript a few symbols, and nobody says which frame
holds which symbol. The recognizer writes, at every (subsampled) frame t, a distribution over
the symbols and one extra "blank"; a transcript is any frame path that collapses to it
(repeats merged, blanks dropped), and the loss is -log of the sum over all such paths
(`rnnkit.models.ctc`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.batch import Batch
from rnnkit.data.features import stack_frames
from rnnkit.errors import RnnkitError
from rnnkit.layers.dense import Dense
from rnnkit.models.base import BatchModel, ModelOutput
from rnnkit.models.checks import check_fraction, check_int
from rnnkit.models.ctc import ctc_loss
from rnnkit.models.encoder import EncoderConfig, SequenceEncoder
from rnnkit.models.registry import register_architecture
from rnnkit.models.summary import LayerRow, count_parameters

BLANK = 0  # the blank's class: symbol s is class s + 1


@dataclass(frozen=True)
class CTCConfig:
    # Reads (B, T, D * subsample) stacked feature frames: num_features is set from the data.
    encoder: EncoderConfig = field(
        default_factory=lambda: EncoderConfig(
            num_features=40, cell="gru", hidden_size=128, num_layers=2, bidirectional=True
        )
    )
    # Symbols a transcript is written in (10 for digits), not counting the blank: the head
    # has num_symbols + 1 outputs, the blank being class 0 and symbol s class s + 1.
    num_symbols: int = 10
    # Stack this many consecutive feature frames into one before the RNN: k times fewer
    # recurrent steps (10 ms frames -> 30 ms with 3), which CTC tolerates while the subsampled
    # frames still outnumber the symbols.
    subsample: int = 1
    # Dropout before the per-frame head.
    output_dropout: float = 0.0

    def __post_init__(self) -> None:
        check_int("CTCConfig", "num_symbols", self.num_symbols, 1)
        check_int("CTCConfig", "subsample", self.subsample, 1)
        check_fraction("CTCConfig", "output_dropout", self.output_dropout)
        if self.encoder.num_features <= 0:
            raise RnnkitError("CTCConfig: the encoder reads feature frames (num_features > 0)")


@register_architecture("ctc", CTCConfig)
class CTCRecognizer(BatchModel):
    """x<1..T_x> -> stack k frames -> a<t> -> log P(c | t) = log_softmax(W_ya a<t> + b_y).

    forward(batch) -> ModelOutput(logits = per-frame log-probabilities (B, T', C) with
    T' = ceil(T / subsample) and C = num_symbols + 1 (blank first); loss = CTC per target
    symbol; count = target symbols).
    Targets: (B, S) class ids 1..C-1, padded with anything; extras["target_lengths"] (B,).
    """

    def __init__(self, config: CTCConfig):
        super().__init__()
        self.config = config
        self.encoder = SequenceEncoder(config.encoder)
        self.head = Dense(self.encoder.output_size, config.num_symbols + 1, "softmax")

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """The number of output frames of inputs of `lengths` frames: ceil(T / subsample)."""
        k = self.config.subsample
        return torch.div(lengths + k - 1, k, rounding_mode="floor")

    def forward_batch(self, batch: Batch) -> ModelOutput:
        x, lengths = stack_frames(batch.inputs, batch.lengths, self.config.subsample)
        outputs, _ = self.encoder(x, lengths)  # (B, T', H')
        h = F.dropout(outputs, self.config.output_dropout, self.training)
        log_probs = torch.log_softmax(self.head(h).float(), dim=-1)  # (B, T', C)
        if batch.targets is None:
            return ModelOutput(log_probs, None, lengths.sum())
        target_lengths = batch.extras["target_lengths"]
        loss = ctc_loss(log_probs, lengths, batch.targets, target_lengths, blank=BLANK)
        return ModelOutput(log_probs, loss, target_lengths.sum())

    def layer_rows(self) -> list[LayerRow]:
        k = self.config.subsample
        rows = []
        if k > 1:
            shape = f"(B, T/{k}, {self.config.encoder.num_features})"
            rows.append(LayerRow(f"stack {k} frames", shape, 0))
        rows += self.encoder.layer_rows(per_step=True)
        shape = f"(B, T', {self.config.num_symbols + 1})"
        rows.append(LayerRow("head (Dense, log-softmax)", shape, count_parameters(self.head)))
        return rows
