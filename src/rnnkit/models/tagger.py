"""Many-to-many with T_x = T_y: one output per input step (named-entity tagging)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn.functional as F

from rnnkit.data.batch import Batch
from rnnkit.layers.dense import Dense
from rnnkit.models.base import BatchModel, ModelOutput
from rnnkit.models.checks import check_fraction, check_int
from rnnkit.models.encoder import EncoderConfig, SequenceEncoder
from rnnkit.models.losses import sequence_cross_entropy
from rnnkit.models.registry import register_architecture
from rnnkit.models.summary import LayerRow, count_parameters


@dataclass(frozen=True)
class TaggerConfig:
    encoder: EncoderConfig = field(
        default_factory=lambda: EncoderConfig(vocab_size=10_000, bidirectional=True)
    )
    # Number of tags C.
    num_tags: int = 2
    # Dropout before the per-step head.
    output_dropout: float = 0.0

    def __post_init__(self) -> None:
        check_int("TaggerConfig", "num_tags", self.num_tags, 1)
        check_fraction("TaggerConfig", "output_dropout", self.output_dropout)


@register_architecture("tagger", TaggerConfig)
class SequenceTagger(BatchModel):
    """ŷ<t> = softmax(W_ya a<t> + b_y) at every step t = 1 .. T_x.

    forward(batch) -> ModelOutput(logits (B, T, C), loss per real step, count = real steps).
    Targets: (B, T) tag ids (anything on padded steps).
    """

    def __init__(self, config: TaggerConfig):
        super().__init__()
        self.config = config
        self.encoder = SequenceEncoder(config.encoder)
        self.head = Dense(self.encoder.output_size, config.num_tags, "softmax")

    def forward_batch(self, batch: Batch) -> ModelOutput:
        outputs, _ = self.encoder(batch.inputs, batch.lengths)  # (B, T, H')
        logits = self.head(
            F.dropout(outputs, self.config.output_dropout, self.training)
        )  # (B, T, C)
        if batch.targets is None:
            return ModelOutput(logits, None, batch.mask.sum())
        loss, count = sequence_cross_entropy(logits, batch.targets, batch.mask)
        return ModelOutput(logits, loss, count)

    def layer_rows(self) -> list[LayerRow]:
        rows = self.encoder.layer_rows(per_step=True)
        shape = f"(B, T, {self.config.num_tags})"
        rows.append(LayerRow("head (Dense)", shape, count_parameters(self.head)))
        return rows
