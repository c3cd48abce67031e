"""Many-to-many with T_x != T_y: the encoder-decoder ("Voulez-vous chanter avec moi?" ->
"Do you want to sing with me?"), for any sequence-to-sequence data.

    encoder:  x<1..T_x> -> E_x -> bidirectional RNN (masks, fused path) -> a<t'> (B, T_x, 2H)
    decoder:  <bos> y<1> ... y<T_y - 1> -> rnnkit cells stepped one position at a time,
              started from tanh(W_b [a_fwd; a_bwd]) and attending over a<t'>
              (`rnnkit.models.decoder`) -> z<t> (B, T_y, V_y)

The batch convention (what `collate_pairs` builds and `model(batch)` reads):

    inputs:   (B, T_x) int64 source ids, padded with pad_id
    lengths:  (B,) source lengths;  mask: (B, T_x) bool, True on real source steps
    targets:  (B, T_y) int64 target ids WITHOUT <bos> and ending with <eos>, padded with
              -100 after each target's end
    extras["target_lengths"]: (B,) int64, each target's length (<eos> included); without it
              the real target steps are those with targets >= 0

Training uses teacher forcing: the decoder's input at step t is the true y<t-1> (y<0> =
<bos>) with probability `teacher_forcing`, else the model's own argmax prediction ŷ<t-1>
(drawn per sequence and step from torch's random generator, so a seed makes it repeatable;
no draws at all when the ratio is 0 or 1). In eval mode the input is always the true token,
so a dev loss is the reference's negative log-likelihood.

The loss is the softmax cross-entropy per real target step (with label smoothing when
configured), summed and divided by the number of real target steps N = sum_b T_y,b:
`ModelOutput(logits (B, T_y, V_y), loss, count = N)`; the logits of padded target steps are 0
(with teacher forcing the output layer runs on the real steps only). A batch without targets has no
teacher-forced logits: translate with `greedy` or `beam_search` (`rnnkit.models.decoding`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.batch import Batch, mask_from_lengths
from rnnkit.data.batching import pad_sequences
from rnnkit.errors import RnnkitError
from rnnkit.models.base import BatchModel, ModelOutput, as_batch
from rnnkit.models.checks import (
    check_choice,
    check_fraction,
    check_int,
    check_positive,
    require,
)
from rnnkit.models.decoder import AttentionDecoder, DecoderState, Memory
from rnnkit.models.decoding import Hypotheses, beam_decode, greedy_decode
from rnnkit.models.encoder import EXECUTIONS, EncoderConfig, SequenceEncoder
from rnnkit.models.registry import register_architecture
from rnnkit.models.summary import LayerRow, count_parameters, rnn_stack_title

CELLS = ("gru", "lstm")
ATTENTIONS = ("additive", "general", "none")
IGNORE_INDEX = -100  # the padding of targets


@dataclass(frozen=True)
class Seq2SeqConfig:
    # Source vocabulary size V_x (the ids of batch.inputs).
    source_vocab_size: int = 10_000
    # Target vocabulary size V_y (the ids of batch.targets; the width of the softmax).
    target_vocab_size: int = 10_000
    # Embedding dimensions of source and target tokens.
    source_embedding_dim: int = 256
    target_embedding_dim: int = 256
    # Recurrent cell of encoder and decoder: "gru" or "lstm".
    cell: str = "gru"
    # Units per encoder direction and per decoder layer (H).
    hidden_size: int = 256
    # Stacked encoder layers, each reading both directions when `bidirectional`.
    encoder_layers: int = 1
    bidirectional: bool = True
    # Stacked decoder cells.
    decoder_layers: int = 1
    # Score of the attention: "additive" (Bahdanau), "general" (Luong) or "none" (the decoder
    # sees the source only through its first state).
    attention: str = "additive"
    # Feed the attentional state h~<t-1> to the next decoder step with y<t-1> (Luong).
    input_feeding: bool = True
    # Dropout on embeddings, between stacked layers and before the output layer.
    dropout: float = 0.0
    # Probability that a training step's decoder input is the true previous token (1.0:
    # always) rather than the model's own prediction.
    teacher_forcing: float = 1.0
    # Label smoothing of the cross-entropy (0: none).
    label_smoothing: float = 0.0
    # Special ids (rnnkit.data.vocab's order): pad in both vocabularies, the rest in the target's.
    pad_id: int = 0
    unk_id: int = 1
    bos_id: int = 2
    eos_id: int = 3
    # Decoding stops after floor(max_length_ratio * T_x) + max_length_offset tokens.
    max_length_ratio: float = 2.0
    max_length_offset: int = 10
    # The encoder's execution: "auto", "fused" or "reference" (the readable loop).
    execution: str = "auto"

    # Values the string fields take (the command line offers them as choices).
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "cell": CELLS,
        "attention": ATTENTIONS,
        "execution": EXECUTIONS,
    }

    def __post_init__(self) -> None:
        me = "Seq2SeqConfig"
        for name in ("source_vocab_size", "target_vocab_size", "source_embedding_dim"):
            check_int(me, name, getattr(self, name), 1)
        for name in ("target_embedding_dim", "hidden_size", "encoder_layers", "decoder_layers"):
            check_int(me, name, getattr(self, name), 1)
        check_choice(me, "cell", self.cell, CELLS)
        check_choice(me, "attention", self.attention, ATTENTIONS)
        check_choice(me, "execution", self.execution, EXECUTIONS)
        require(
            not (self.input_feeding and self.attention == "none"),
            me,
            "input_feeding",
            "false with --attention none (it feeds the attentional state)",
            self.input_feeding,
        )
        check_fraction(me, "dropout", self.dropout)
        check_fraction(me, "label_smoothing", self.label_smoothing)
        tf = self.teacher_forcing
        ok = isinstance(tf, (int, float)) and not isinstance(tf, bool) and 0 <= tf <= 1
        require(ok, me, "teacher_forcing", "in [0, 1]", tf)
        V_x, V_y = self.source_vocab_size, self.target_vocab_size
        for name in ("pad_id", "unk_id", "bos_id", "eos_id"):
            value = getattr(self, name)
            check_int(me, name, value, 0)
            high = min(V_x, V_y) if name == "pad_id" else V_y
            require(value < high, me, name, f"an id below {high} (the vocabulary size)", value)
        require(self.eos_id != self.bos_id, me, "eos_id", "different from --bos-id", self.eos_id)
        check_positive(me, "max_length_ratio", self.max_length_ratio)
        check_int(me, "max_length_offset", self.max_length_offset, 0)


def collate_pairs(examples: Sequence[tuple[Tensor, Tensor | None]], pad_id: int = 0) -> Batch:
    """(source ids (T_x,), target ids (T_y,) ending with <eos>, or None) pairs -> one Batch in
    the module's convention; targets None when any example has none (inference). With
    `rnnkit.data.sequences.epoch_batches(pairs, ..., collate=collate_pairs)` the default
    length (the source's) buckets the batches."""
    inputs, lengths = pad_sequences([x for x, _ in examples], pad_id)  # (B, T_x), (B,)
    mask = mask_from_lengths(lengths, inputs.shape[1])  # (B, T_x)
    targets = [y for _, y in examples]
    if any(y is None for y in targets):
        return Batch(inputs, lengths, mask)
    padded, target_lengths = pad_sequences(targets, IGNORE_INDEX)  # type: ignore[arg-type]
    return Batch(inputs, lengths, mask, padded, {"target_lengths": target_lengths})


def target_mask(batch: Batch) -> Tensor:
    """(B, T_y) bool, True on real target steps (see the module docstring)."""
    assert batch.targets is not None
    if "target_lengths" in batch.extras:
        return mask_from_lengths(batch.extras["target_lengths"], batch.targets.shape[1])
    return batch.targets >= 0


@register_architecture("seq2seq", Seq2SeqConfig)
class Seq2Seq(BatchModel):
    """The encoder-decoder (see the module docstring).

    model(batch) -> ModelOutput(logits (B, T_y, V_y), loss per real target step, count).
    greedy(src, lengths, max_len) -> ids per source; beam_search(...) -> Hypotheses;
    generate(src, lengths, beam) -> ids per source, either way.
    """

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        encoder = EncoderConfig(
            vocab_size=config.source_vocab_size,
            embedding_dim=config.source_embedding_dim,
            cell=config.cell,
            hidden_size=config.hidden_size,
            num_layers=config.encoder_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            input_dropout=config.dropout,
            execution=config.execution,
        )
        self.encoder = SequenceEncoder(encoder, padding_idx=config.pad_id)
        self.decoder = AttentionDecoder(config, self.encoder.output_size)
        # Both embeddings start from N(0, 1), torch.nn.Embedding's default. With the library's
        # Keras-like U(-0.05, 0.05) the decoder hardly learns at first: on the Tatoeba pairs
        # one epoch gave dev BLEU 1.8 against 30.7 (benchmarks/translate_tatoeba.py, README).
        embedding = self.encoder.embedding
        assert embedding is not None
        for table in (embedding.E, self.decoder.embedding.E):
            nn.init.normal_(table)

    def encode(self, src: Tensor, lengths: Tensor) -> tuple[Memory, DecoderState]:
        """Source ids (B, T_x) and lengths (B,) -> the decoder's memory and first state."""
        a, final = self.encoder(src, lengths)  # (B, T_x, H_enc)
        mask = mask_from_lengths(lengths.to(a.device), a.shape[1])  # (B, T_x)
        return self.decoder.memory(a, mask), self.decoder.start(self.encoder.final_output(final))

    def forward_batch(self, batch: Batch) -> ModelOutput:
        targets = batch.targets
        if targets is None:
            raise RnnkitError(
                "Seq2Seq(batch) needs targets (teacher forcing); "
                "translate with model.greedy(src, lengths) or model.beam_search(src, lengths)"
            )
        if targets.dim() != 2 or targets.shape[0] != batch.size:
            raise RnnkitError(
                f"expected targets of shape (B, T_y) with B = {batch.size}, "
                f"got {tuple(targets.shape)}"
            )
        memory, state = self.encode(batch.inputs, batch.lengths)
        mask = target_mask(batch)  # (B, T_y)
        if self.training and self.config.teacher_forcing < 1.0:
            logits = self.decode_targets(memory, state, targets)  # (B, T_y, V)
            loss, count = self.loss(logits, targets, mask)
            return ModelOutput(logits.masked_fill(~mask[..., None], 0.0), loss, count)
        # The inputs are the true tokens: the attentional states first, then W_y once, and
        # only at the real target steps (a third of a batch's steps are padding).
        h_tilde = self.attentional_states(memory, state, targets)  # (B, T_y, H)
        real = self.decoder.logits(h_tilde[mask])  # (N, V)
        loss, count = self.loss(real[None], targets[mask][None], mask.new_ones(1, len(real)))
        logits = real.new_zeros(*targets.shape, real.shape[-1])  # (B, T_y, V)
        logits[mask] = real
        return ModelOutput(logits, loss, count)

    def attentional_states(self, memory: Memory, state: DecoderState, targets: Tensor) -> Tensor:
        """h~<t> for every target position (B, T_y, H), the inputs the true tokens."""
        c = self.config
        truth = targets.masked_fill(targets < 0, c.pad_id)  # (B, T_y) padding -> <pad>
        y = torch.full((targets.shape[0],), c.bos_id, dtype=torch.long, device=targets.device)
        states = []
        for t in range(targets.shape[1]):
            h_tilde, state, _ = self.decoder.advance(y, state, memory)  # (B, H)
            states.append(h_tilde)
            y = truth[:, t]
        return torch.stack(states, dim=1)

    def decode_targets(self, memory: Memory, state: DecoderState, targets: Tensor) -> Tensor:
        """z<t> for every target position (B, T_y, V), each input the true y<t-1> with the
        configured teacher-forcing probability (in training; in eval mode always), else the
        model's own prediction."""
        c = self.config
        B, T_y = targets.shape
        truth = targets.masked_fill(targets < 0, c.pad_id)  # (B, T_y) padding -> <pad>
        ratio = c.teacher_forcing if self.training else 1.0
        y = torch.full((B,), c.bos_id, dtype=torch.long, device=targets.device)
        steps = []
        for t in range(T_y):
            logits, state, _ = self.decoder.step(y, state, memory)  # (B, V)
            steps.append(logits)
            if t + 1 < T_y:
                y = _next_input(truth[:, t], logits, ratio)
        return torch.stack(steps, dim=1)  # (B, T_y, V)

    def loss(self, logits: Tensor, targets: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-entropy per real target step, summed over them and divided by their number.
        Returns (loss, count); padded steps never contribute (as in rnnkit.models.losses)."""
        B, T, V = logits.shape
        safe = targets.masked_fill(~mask, 0)  # (B, T) padded targets -> a valid id
        per_step = F.cross_entropy(
            logits.reshape(B * T, V),
            safe.reshape(B * T),
            reduction="none",
            label_smoothing=self.config.label_smoothing,
        ).view(B, T)  # (B, T)
        count = mask.sum()
        total = torch.where(mask, per_step, torch.zeros_like(per_step)).sum()
        return total / count.clamp(min=1), count

    def greedy(
        self, src: Batch | Tensor, lengths: Tensor | None = None, max_len: int | None = None
    ) -> list[list[int]]:
        """The argmax translation of each source, ids without <eos>.

        src: a Batch or source ids (B, T_x) with lengths (B,) (default: all T_x); max_len:
        the most tokens of an output (default floor(max_length_ratio * T_x) + offset).
        """
        with self._evaluating():
            memory, state, limits = self._prepare(src, lengths, max_len)
            c = self.config
            return greedy_decode(self.decoder, memory, state, limits, c.bos_id, c.eos_id)

    def generate(
        self,
        src: Batch | Tensor,
        lengths: Tensor | None = None,
        beam: int = 1,
        length_penalty: float = 1.0,
        max_len: int | None = None,
    ) -> list[list[int]]:
        """The translation of each source as target ids without <eos>: `greedy` for beam 1,
        else the best hypothesis of `beam_search`."""
        check_int("", "beam", beam, 1)
        if beam == 1:
            return self.greedy(src, lengths, max_len)
        found = self.beam_search(src, lengths, beam, length_penalty, max_len)
        return [list(tokens) for tokens in found.tokens]

    def beam_search(
        self,
        src: Batch | Tensor,
        lengths: Tensor | None = None,
        beam: int = 5,
        length_penalty: float = 1.0,
        max_len: int | None = None,
        return_attention: bool = False,
    ) -> Hypotheses:
        """The best of `beam` hypotheses per source by log-probability / length**length_penalty
        (`rnnkit.models.decoding`): Hypotheses(tokens without <eos>, scores = their summed
        log-probabilities, attention (T_y, T_x) per source when `return_attention`)."""
        check_int("", "beam", beam, 1)
        ok = isinstance(length_penalty, (int, float)) and length_penalty >= 0
        require(ok, "", "length_penalty", "a number >= 0", length_penalty)
        if return_attention and self.decoder.attention is None:
            raise RnnkitError("return_attention: this model was built with attention 'none'")
        with self._evaluating():
            memory, state, limits = self._prepare(src, lengths, max_len)
            c = self.config
            return beam_decode(
                self.decoder,
                memory,
                state,
                limits,
                c.bos_id,
                c.eos_id,
                beam,
                float(length_penalty),
                return_attention,
            )

    def _prepare(
        self, src: Batch | Tensor, lengths: Tensor | None, max_len: int | None
    ) -> tuple[Memory, DecoderState, Tensor]:
        """Encode a source batch on the model's device; the output limits (B,)."""
        if max_len is not None:
            check_int("", "max_len", max_len, 1)
        batch = as_batch(src, lengths).to(self.decoder.W_b.device)
        memory, state = self.encode(batch.inputs, batch.lengths)
        c = self.config
        if max_len is None:
            ratio = batch.lengths.to(torch.float64) * c.max_length_ratio
            limits = ratio.floor().long() + c.max_length_offset
        else:
            limits = torch.full_like(batch.lengths, max_len)
        return memory, state, limits.clamp(min=1)

    @contextmanager
    def _evaluating(self) -> Iterator[None]:
        """Eval mode (no dropout) and no autograd, restoring the mode afterwards."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    def layer_rows(self) -> list[LayerRow]:
        c = self.config
        embedding = self.encoder.embedding
        assert embedding is not None
        title = rnn_stack_title(c.cell, c.hidden_size, c.bidirectional, c.encoder_layers)
        return [
            LayerRow(
                "source embedding (Embedding)",
                f"(B, T_x, {c.source_embedding_dim})",
                count_parameters(embedding),
            ),
            LayerRow(
                f"encoder ({title})",
                f"(B, T_x, {self.encoder.output_size})",
                count_parameters(self.encoder.rnn),
            ),
            *self.decoder.layer_rows(),
        ]


def _next_input(truth: Tensor, logits: Tensor, ratio: float) -> Tensor:
    """Teacher forcing: y<t> (B,) where the draw says so, else the prediction argmax z<t>."""
    if ratio >= 1.0:
        return truth
    predicted = logits.argmax(dim=-1)  # (B,)
    if ratio <= 0.0:
        return predicted
    use_truth = torch.rand(truth.shape, device=truth.device) < ratio
    return torch.where(use_truth, truth, predicted)
