"""Many-to-one: read a whole sequence, output one label (sentiment, DNA class, activity, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.batch import Batch
from rnnkit.layers.dense import Dense
from rnnkit.models.base import BatchModel, ModelOutput
from rnnkit.models.checks import check_choice, check_fraction, check_int
from rnnkit.models.encoder import EncoderConfig, SequenceEncoder
from rnnkit.models.losses import classification_loss
from rnnkit.models.registry import register_architecture
from rnnkit.models.summary import LayerRow, count_parameters

POOLINGS = ("last", "mean", "max")


@dataclass(frozen=True)
class ClassifierConfig:
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(vocab_size=10_000))
    # Number of classes C. With 2, the head is the lecture's Dense(1, sigmoid) on P(y = 1).
    num_classes: int = 2
    # What the head reads: "last" = the final state a<T_x> of each sequence at its own length;
    # "mean" / "max" = masked pooling over every step's a<t>.
    pooling: str = "last"
    # Dropout before the head.
    output_dropout: float = 0.0

    # Values the string fields take (the command line offers them as choices).
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"pooling": POOLINGS}

    def __post_init__(self) -> None:
        check_choice("ClassifierConfig", "pooling", self.pooling, POOLINGS)
        check_int("ClassifierConfig", "num_classes", self.num_classes, 2)
        check_fraction("ClassifierConfig", "output_dropout", self.output_dropout)


@register_architecture("classifier", ClassifierConfig)
class SequenceClassifier(BatchModel):
    """x<1..T_x> -> a<t> -> pool -> ŷ = g(W_ya a + b_y).

    forward(batch) -> ModelOutput(logits (B,) for two classes, else (B, C); loss, count = B).
    Targets: (B,) int64 class ids (0/1 for two classes).
    """

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        self.encoder = SequenceEncoder(config.encoder)
        self.binary = config.num_classes == 2
        self.head = Dense(
            self.encoder.output_size,
            1 if self.binary else config.num_classes,
            "sigmoid" if self.binary else "softmax",
        )

    def features(self, batch: Batch) -> Tensor:
        outputs, final = self.encoder(batch.inputs, batch.lengths)  # (B, T, H'), state
        if self.config.pooling == "last":
            return self.encoder.final_output(final)  # (B, H')
        mask = batch.mask[:, :, None]  # (B, T, 1)
        if self.config.pooling == "mean":
            return (outputs * mask).sum(1) / batch.lengths[:, None].to(outputs.dtype)  # (B, H')
        return outputs.masked_fill(~mask, float("-inf")).max(dim=1).values  # (B, H')

    def forward_batch(self, batch: Batch) -> ModelOutput:
        h = F.dropout(self.features(batch), self.config.output_dropout, self.training)
        logits = self.head(h)  # (B, 1) or (B, C)
        if self.binary:
            logits = logits.squeeze(-1)  # (B,)
        count = torch.tensor(batch.size)
        if batch.targets is None:
            return ModelOutput(logits, None, count)
        loss, count = classification_loss(logits, batch.targets)
        return ModelOutput(logits, loss, count)

    def probabilities(self, logits: Tensor) -> Tensor:
        """P(y = 1) (B,) for two classes, else (B, C)."""
        return self.head.activate(logits)

    def predict(self, logits: Tensor) -> Tensor:
        return (logits > 0).long() if self.binary else logits.argmax(-1)

    def layer_rows(self) -> list[LayerRow]:
        pooled = self.config.pooling != "last"
        rows = self.encoder.layer_rows(per_step=pooled)
        if pooled:
            shape = f"(B, {self.encoder.output_size})"
            rows.append(LayerRow(f"pool ({self.config.pooling.title()}Pooling)", shape, 0))
        shape = f"(B, {self.head.out_features})"
        rows.append(LayerRow("head (Dense)", shape, count_parameters(self.head)))
        return rows
