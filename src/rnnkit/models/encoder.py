"""The input side every architecture shares: token ids or feature frames -> recurrent states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from rnnkit.cells.base import LSTMState, State
from rnnkit.cells.registry import CELLS, cell_spec
from rnnkit.errors import RnnkitError
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.rnn import RNN
from rnnkit.models.checks import check_choice, check_fraction, check_int
from rnnkit.models.dropout import dropout
from rnnkit.models.summary import LayerRow, count_parameters, rnn_stack_title

MERGES = ("concat", "sum")
EXECUTIONS = ("auto", "fused", "reference")


@dataclass(frozen=True)
class EncoderConfig:
    """What goes into the recurrent stack and what the stack is."""

    # Inputs are token ids when vocab_size > 0 (embedded in embedding_dim dimensions) ...
    vocab_size: int = 0
    # Embedding dimension for token inputs (the lecture's 100).
    embedding_dim: int = 100
    # ... or (B, T, num_features) float frames when num_features > 0 (piano rolls, audio).
    num_features: int = 0
    # Recurrent cell, a name in rnnkit.cells.CELLS: "rnn" (tanh), "rnn_relu", "gru" or "lstm".
    cell: str = "lstm"
    # Units per layer and direction (the lecture's n_a).
    hidden_size: int = 128
    # Stacked recurrent layers (a deep RNN when > 1).
    num_layers: int = 1
    # Read each sequence in both directions and merge the two states.
    bidirectional: bool = False
    # How a bidirectional layer merges its two directions: "concat" (2H) or "sum" (H).
    merge: str = "concat"
    # Dropout between stacked recurrent layers.
    dropout: float = 0.0
    # Dropout on the embedded or raw input frames.
    input_dropout: float = 0.0
    # "auto" (fused kernels when available), "fused" or "reference" (the readable loop).
    execution: str = "auto"

    # Values the string fields take (the command line offers them as choices).
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "cell": tuple(CELLS),
        "merge": MERGES,
        "execution": EXECUTIONS,
    }

    def __post_init__(self) -> None:
        me = "EncoderConfig"
        check_int(me, "vocab_size", self.vocab_size, 0)
        check_int(me, "num_features", self.num_features, 0)
        if (self.vocab_size > 0) == (self.num_features > 0):
            raise RnnkitError(
                "EncoderConfig: set exactly one of vocab_size (token ids) or num_features (frames)"
            )
        check_int(me, "embedding_dim", self.embedding_dim, 1)
        cell_spec(self.cell, argument="EncoderConfig.cell")
        check_int(me, "hidden_size", self.hidden_size, 1)
        check_int(me, "num_layers", self.num_layers, 1)
        check_choice(me, "merge", self.merge, MERGES)
        check_fraction(me, "dropout", self.dropout)
        check_fraction(me, "input_dropout", self.input_dropout)
        check_choice(me, "execution", self.execution, EXECUTIONS)


class SequenceEncoder(nn.Module):
    """x (B, T) ids or (B, T, D) frames -> a<t> for every step (B, T, H') and the final state.

    H' = hidden_size, or 2 * hidden_size for a bidirectional stack merged by concatenation.

    extra_features: F > 0 when every step also carries features computed elsewhere (a
    character encoder's feature of each word, say). `forward` then takes them as `features`
    (B, T, F) and the stack reads [e<t>; f<t>], (B, T, D + F): the input dropout applies to
    the concatenation, as it does to the embedding alone.
    """

    def __init__(self, config: EncoderConfig, padding_idx: int | None = 0, extra_features: int = 0):
        super().__init__()
        self.config = config
        self.extra_features = extra_features
        self.embedding: Embedding | None = None
        if config.vocab_size > 0:
            self.embedding = Embedding(config.vocab_size, config.embedding_dim, padding_idx)
            input_size = config.embedding_dim
        else:
            input_size = config.num_features
        self.rnn = RNN(
            config.cell,
            input_size + extra_features,
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            merge=config.merge,  # type: ignore[arg-type]
            dropout=config.dropout,
            execution=config.execution,  # type: ignore[arg-type]
        )
        self.output_size = self.rnn.output_size

    def forward(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        state: State | None = None,
        features: Tensor | None = None,
    ) -> tuple[Tensor, State]:
        e = self.embedding(x) if self.embedding is not None else x  # (B, T, D)
        if self.extra_features or features is not None:
            e = torch.cat([e, self._check_features(features, e)], dim=-1)  # (B, T, D + F)
        e = dropout(e, self.config.input_dropout, self.training)  # (B, T, D)
        return self.rnn(e, lengths, state)  # (B, T, H'), state

    def _check_features(self, features: Tensor | None, e: Tensor) -> Tensor:
        if not self.extra_features:
            raise ValueError("this encoder was built with extra_features=0: pass no features")
        shape = (*e.shape[:2], self.extra_features)
        if features is None or tuple(features.shape) != shape:
            got = None if features is None else tuple(features.shape)
            raise ValueError(f"expected features of shape (B, T, F) = {shape}, got {got}")
        return features

    def final_output(self, final: State) -> Tensor:
        """The last layer's final a<T_x> of each sequence, both directions concatenated (or summed).

        final: (L*dirs, B, H) (or LSTMState) -> (B, H')
        """
        a = final.a if isinstance(final, LSTMState) else final
        if not self.rnn.bidirectional:
            return a[-1]  # (B, H)
        forward_half, backward_half = a[-2], a[-1]
        if self.rnn.merge == "sum":
            return forward_half + backward_half
        return torch.cat([forward_half, backward_half], dim=-1)  # (B, 2H)

    def layer_rows(
        self, per_step: bool = True, feature_rows: Sequence[LayerRow] = ()
    ) -> list[LayerRow]:
        """Summary rows of the embedding (if any), `feature_rows` (the layers that compute the
        extra features) and the recurrent stack; `per_step` says whether the stack's output is
        every a<t> (B, T, H') or one vector per sequence (B, H')."""
        rows = []
        if self.embedding is not None:
            shape = f"(B, T, {self.embedding.embedding_dim})"
            rows.append(LayerRow("embedding (Embedding)", shape, count_parameters(self.embedding)))
        rows.extend(feature_rows)
        c = self.config
        title = rnn_stack_title(c.cell, c.hidden_size, c.bidirectional, c.num_layers)
        shape = f"(B, T, {self.output_size})" if per_step else f"(B, {self.output_size})"
        rows.append(LayerRow(f"rnn ({title})", shape, count_parameters(self.rnn)))
        return rows
