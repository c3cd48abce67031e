"""The decoder of the encoder-decoder: rnnkit cells stepped one target position at a time,
attending over the encoder's outputs (Luong's arrangement: the current state attends).

One step, in the lecture's notation (y<t-1> the previous target token, a<t'> the encoder's
outputs, s_l<t> the state of decoder layer l, L_d layers):

    x<t>        = [E_y y<t-1>; h~<t-1>]   with input feeding, else E_y y<t-1>
    s_1<t>      = cell_1(x<t>, s_1<t-1>);   s_l<t> = cell_l(s_{l-1}<t>, s_l<t-1>)
    c<t>, alpha<t,.> = attention(s_L<t>, a<1..T_x>)      (rnnkit.layers.attention)
    h~<t>       = tanh(W_c [c<t>; s_L<t>] + b_c)         the attentional state
    z<t>        = W_y h~<t> + b_y;   ŷ<t> = softmax(z<t>) over the target vocabulary

Without attention h~<t> = s_L<t>. Dropout (the config's rate) applies to E_y y<t-1>, between
decoder layers and to h~<t> before W_y. The cells step through PyTorch's one-step kernels
(`rnnkit.cells.fused_step`, the same equations) unless the config's execution is "reference".

The state starts from the encoder (the "bridge"):

    s_l<0> = tanh(W_b,l [a_fwd<T_x>; a_bwd<1>] + b_b,l)   for each decoder layer l

from the encoder's last layer (both directions when it is bidirectional); an LSTM decoder's
memory cells c_l<0> start at zero, and h~<0> = 0.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import AnyCell, LSTMState, State, fused_step, map_state
from rnnkit.layers.attention import AdditiveAttention, Attention, GeneralAttention
from rnnkit.layers.dense import Dense
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.rnn import make_cell
from rnnkit.models.summary import LayerRow, count_parameters, rnn_layer_name

if TYPE_CHECKING:
    from rnnkit.models.seq2seq import Seq2SeqConfig


class Memory(NamedTuple):
    """What the decoder reads of the source at every step."""

    a: Tensor  # (B, T_x, H_enc) the encoder's outputs a<t'>
    mask: Tensor  # (B, T_x) bool, True on real source steps
    keys: Tensor | None  # attention.keys(a), computed once; None without attention

    def select(self, index: Tensor) -> Memory:
        """The rows `index` (B',) of every part (to repeat sources for beam search)."""
        keys = None if self.keys is None else self.keys[index]
        return Memory(self.a[index], self.mask[index], keys)


class DecoderState(NamedTuple):
    """The decoder's state between two steps."""

    layers: tuple[State, ...]  # s_l<t> of each layer, (B, H) (LSTMState for an LSTM)
    feed: Tensor  # h~<t> (B, H), fed to the next step with input feeding

    def select(self, index: Tensor) -> DecoderState:
        """The rows `index` (B',) of every part (beam search reorders hypotheses with it)."""
        layers = tuple(map_state(lambda s: s[index], state) for state in self.layers)
        return DecoderState(layers, self.feed[index])


class StepOutput(NamedTuple):
    logits: Tensor  # z<t> (B, V)
    state: DecoderState
    alpha: Tensor | None  # alpha<t,.> (B, T_x); None without attention


class AttentionDecoder(nn.Module):
    """y<t-1> ids (B,) and the state -> z<t> (B, V), the next state and alpha<t,.> (B, T_x).

    memory_size: H_enc, the size of the encoder's outputs a<t'> (2H when bidirectional).
    """

    def __init__(self, config: Seq2SeqConfig, memory_size: int):
        super().__init__()
        self.config = config
        H, L = config.hidden_size, config.decoder_layers
        self.embedding = Embedding(
            config.target_vocab_size, config.target_embedding_dim, config.pad_id
        )
        first_input = config.target_embedding_dim + (H if config.input_feeding else 0)
        cells = [make_cell(config.cell, first_input if i == 0 else H, H) for i in range(L)]
        self.cells = nn.ModuleList(cells)  # type: ignore[arg-type]
        # The bridge: W_b (L*H, H_enc_final), one (H, H_enc_final) block per decoder layer.
        self.W_b = nn.Parameter(torch.empty(L * H, memory_size))
        self.b_b = nn.Parameter(torch.zeros(L * H))
        bound = math.sqrt(6.0 / (memory_size + H))
        nn.init.uniform_(self.W_b, -bound, bound)
        self.attention: Attention | None = None
        if config.attention == "additive":
            self.attention = AdditiveAttention(H, memory_size, H)
        elif config.attention == "general":
            self.attention = GeneralAttention(H, memory_size)
        self.W_c: nn.Parameter | None = None
        self.b_c: nn.Parameter | None = None
        if self.attention is not None:
            self.W_c = nn.Parameter(torch.empty(H, memory_size + H))
            self.b_c = nn.Parameter(torch.zeros(H))
            bound = math.sqrt(6.0 / (memory_size + 2 * H))
            nn.init.uniform_(self.W_c, -bound, bound)
        self.head = Dense(H, config.target_vocab_size, "softmax")

    def memory(self, a: Tensor, mask: Tensor) -> Memory:
        """The encoder's outputs (B, T_x, H_enc) and mask, with the attention keys computed."""
        keys = None if self.attention is None else self.attention.keys(a)
        return Memory(a, mask, keys)

    def start(self, encoded: Tensor) -> DecoderState:
        """s_l<0> = tanh(W_b,l encoded + b_b,l): encoded (B, H_enc_final) -> the first state."""
        bridged = torch.tanh(F.linear(encoded, self.W_b, self.b_b))  # (B, L*H)
        layers: list[State] = []
        for s in bridged.chunk(self.config.decoder_layers, dim=-1):  # each (B, H)
            layers.append(LSTMState(s, torch.zeros_like(s)) if self.config.cell == "lstm" else s)
        feed = bridged.new_zeros(encoded.shape[0], self.config.hidden_size)  # h~<0> = 0
        return DecoderState(tuple(layers), feed)

    def step(self, y_prev: Tensor, state: DecoderState, memory: Memory) -> StepOutput:
        """One target position: y<t-1> (B,) ids -> StepOutput (see the module docstring)."""
        h_tilde, state, alpha = self.advance(y_prev, state, memory)
        return StepOutput(self.logits(h_tilde), state, alpha)

    def advance(
        self, y_prev: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One position up to the attentional state: (h~<t> (B, H), the next state,
        alpha<t,.> (B, T_x) or None). `logits(h~<t>)` gives z<t>; the teacher-forced pass
        applies it once to all positions."""
        p = self.config.dropout
        x = F.dropout(self.embedding(y_prev), p, self.training)  # (B, E_y)
        if self.config.input_feeding:
            x = torch.cat([x, state.feed], dim=-1)  # (B, E_y + H)
        fused = self.config.execution != "reference"
        layers: list[State] = []
        for layer, cell in enumerate(self.cells):
            if layer > 0:
                x = F.dropout(x, p, self.training)
            layer_cell: AnyCell = cell  # type: ignore[assignment]
            if fused:  # PyTorch's one-step kernel on the same parameters
                layers.append(fused_step(layer_cell, x, state.layers[layer]))
            else:
                layers.append(layer_cell.step(x, state.layers[layer]))
            x = layer_cell.output(layers[-1])  # s_l<t> (B, H)
        alpha = None
        h_tilde = x
        if self.attention is not None and self.W_c is not None:
            c, alpha = self.attention(x, memory.a, memory.mask, memory.keys)  # (B, H_enc)
            h_tilde = torch.tanh(F.linear(torch.cat([c, x], dim=-1), self.W_c, self.b_c))
        return h_tilde, DecoderState(tuple(layers), h_tilde), alpha

    def logits(self, h_tilde: Tensor) -> Tensor:
        """z = W_y dropout(h~) + b_y: (..., H) -> (..., V)."""
        return self.head(F.dropout(h_tilde, self.config.dropout, self.training))

    def layer_rows(self) -> list[LayerRow]:
        c = self.config
        H, V = c.hidden_size, c.target_vocab_size
        cells = f"{rnn_layer_name(c.cell)}Cell({H})"
        if c.decoder_layers > 1:
            cells = f"{c.decoder_layers} x {cells}"
        bridge = self.W_b.numel() + self.b_b.numel()
        rows = [
            LayerRow("bridge (Dense, tanh)", f"(B, {c.decoder_layers * H})", bridge),
            LayerRow(
                "target embedding (Embedding)",
                f"(B, T_y, {c.target_embedding_dim})",
                count_parameters(self.embedding),
            ),
            LayerRow(f"decoder ({cells})", f"(B, T_y, {H})", count_parameters(self.cells)),
        ]
        if self.attention is not None and self.W_c is not None and self.b_c is not None:
            name = type(self.attention).__name__
            shape = f"(B, T_y, {self.attention.key_size})"
            rows.append(LayerRow(f"attention ({name})", shape, count_parameters(self.attention)))
            combine = self.W_c.numel() + self.b_c.numel()
            rows.append(LayerRow("attentional state (Dense, tanh)", f"(B, T_y, {H})", combine))
        rows.append(LayerRow("head (Dense)", f"(B, T_y, {V})", count_parameters(self.head)))
        return rows
