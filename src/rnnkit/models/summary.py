"""A Keras-style summary: each layer, its output shape and its parameter count."""

from __future__ import annotations

from typing import NamedTuple

from torch import nn

from rnnkit.cells import cell_spec


class LayerRow(NamedTuple):
    name: str  # e.g. "embedding (Embedding)"
    output_shape: str  # in the shape alphabet, e.g. "(B, T, 100)"
    params: int


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def summary(model: nn.Module, title: str | None = None) -> str:
    """The model's layers as a table, with totals written with thousands separators.

    The lecture's sentiment model, Embedding(10,000, 100) -> SimpleRNN(10) -> Dense(1):

        embedding (Embedding)    (B, T, 100)    1,000,000
        rnn (SimpleRNN)          (B, 10)            1,110
        head (Dense)             (B, 1)                11
        Total params: 1,001,121
    """
    rows: list[LayerRow] = model.layer_rows()  # type: ignore[operator]
    total = count_parameters(model)
    listed = sum(r.params for r in rows)
    if listed != total:  # a layer the rows forgot would make the table lie
        raise AssertionError(f"summary rows count {listed:,} parameters, the model has {total:,}")
    w_name = max(len("Layer (type)"), *(len(r.name) for r in rows)) + 4
    w_shape = max(len("Output Shape"), *(len(r.output_shape) for r in rows)) + 4
    w_params = max(len("Param #"), *(len(f"{r.params:,}") for r in rows))
    width = w_name + w_shape + w_params
    lines = []
    if title:
        lines.append(f'Model: "{title}"')
    lines += [
        "=" * width,
        f"{'Layer (type)':<{w_name}}{'Output Shape':<{w_shape}}{'Param #':>{w_params}}",
        "=" * width,
    ]
    for r in rows:
        lines.append(f"{r.name:<{w_name}}{r.output_shape:<{w_shape}}{r.params:>{w_params},}")
    trainable = count_parameters(model, trainable_only=True)
    lines += [
        "=" * width,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
    ]
    return "\n".join(lines)


def rnn_layer_name(cell: str) -> str:
    """Keras's names for the recurrent layers (from the cell registry)."""
    return cell_spec(cell).keras_name


def rnn_stack_title(cell: str, hidden_size: int, bidirectional: bool, num_layers: int) -> str:
    """The summary's name of a recurrent stack, e.g. "2 x Bidirectional LSTM(200)"."""
    title = f"{rnn_layer_name(cell)}({hidden_size})"
    if bidirectional:
        title = f"Bidirectional {title}"
    if num_layers > 1:
        title = f"{num_layers} x {title}"
    return title
