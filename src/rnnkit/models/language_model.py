"""One-to-many: a model of sequences that generates them one step at a time.

Over tokens (text: characters or words, softmax over the vocabulary) or over multi-hot frames
(music: the notes sounding at each step, one sigmoid per pitch). Training uses teacher forcing:
the input at step t is the true element t-1 and the target is element t; the first input is a
start symbol (`<bos>` for tokens, the all-zero frame for frames), so x<1> carries no
information and ŷ<1> is the model's guess for the first element, as in the lecture's
one-to-many picture. Generation feeds each sampled element back as the next input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import State
from rnnkit.data.batch import Batch
from rnnkit.data.batching import pad_sequences
from rnnkit.errors import RnnkitError
from rnnkit.layers.dense import Dense
from rnnkit.layers.nade import NadeLayer
from rnnkit.models.base import BatchModel, ModelOutput
from rnnkit.models.checks import check_fraction, check_int, require
from rnnkit.models.encoder import EncoderConfig, SequenceEncoder
from rnnkit.models.losses import sequence_binary_cross_entropy, sequence_cross_entropy
from rnnkit.models.registry import register_architecture
from rnnkit.models.summary import LayerRow, count_parameters

KEY_ORDERS = ("ascending", "descending")


@dataclass(frozen=True)
class LanguageModelConfig:
    encoder: EncoderConfig = field(
        default_factory=lambda: EncoderConfig(num_features=88, hidden_size=256)
    )
    # Dropout on a<t> before the output layer.
    output_dropout: float = 0.0
    # Frames only: model the notes of one frame jointly, each key conditioned on the keys
    # below it in the same frame (an autoregressive output layer, as in the fully visible
    # sigmoid belief net; the RNN-NADE idea with a linear conditional). False: the D outputs
    # of a frame are independent given a<t>.
    within_frame: bool = False
    # With within_frame: give each key's conditional a hidden layer of this many units, shared
    # over keys (NADE, see rnnkit.layers.nade), beside the linear term. 0: linear term only.
    nade_hidden: int = 0
    # With within_frame: the order a frame's keys are predicted in. "ascending": lowest first;
    # "descending": highest first, so the top voice (a chorale's melody) comes first and a
    # frame can be completed exactly under a given melody (harmonisation).
    key_order: str = "ascending"
    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"key_order": KEY_ORDERS}

    def __post_init__(self) -> None:
        me = "LanguageModelConfig"
        check_fraction(me, "output_dropout", self.output_dropout)
        check_int(me, "nade_hidden", self.nade_hidden, 0)
        ok = self.key_order in KEY_ORDERS
        require(ok, me, "key_order", "ascending or descending", self.key_order)
        if (self.nade_hidden or self.key_order != "ascending") and not self.within_frame:
            raise RnnkitError(
                "nade_hidden and key_order shape the within-frame output: "
                "they need within_frame true"
            )
        if self.encoder.bidirectional:
            raise RnnkitError("a language model reads left to right: bidirectional must be false")
        if self.within_frame and self.encoder.vocab_size > 0:
            raise RnnkitError("within_frame applies to frame inputs (num_features), not to tokens")


@register_architecture("language_model", LanguageModelConfig)
class LanguageModel(BatchModel):
    """ŷ<t> = g(W_ya a<t> + b_y): P(x<t+1> | x<1..t>), softmax over tokens or sigmoid per feature.

    With `within_frame`, the frame's keys are predicted one after the other (lowest first, or
    highest first with key_order "descending"); in that order,
    z_k<t> = (W_ya a<t> + b_y)_k + sum_{j<k} V_kj y_j<t> [+ U_k · h_k<t>, the NADE term of
    rnnkit.layers.nade when nade_hidden > 0], P(y_k<t> = 1 | ...) = σ(z_k<t>), V strictly
    lower-triangular. The frame's likelihood is still one sum of D binary cross-entropies (the
    chain rule), computed in one pass from the true frame in training.

    forward(batch) -> ModelOutput(logits (B, T, V) or (B, T, D), loss per real step, count).
    Batch: inputs (B, T) ids or (B, T, D) frames (shifted right behind the start symbol),
    targets (B, T) ids or (B, T, D) frames.
    """

    def __init__(self, config: LanguageModelConfig):
        super().__init__()
        self.config = config
        self.encoder = SequenceEncoder(config.encoder)
        self.tokens = config.encoder.vocab_size > 0
        out = config.encoder.vocab_size if self.tokens else config.encoder.num_features
        self.head = Dense(self.encoder.output_size, out, "softmax" if self.tokens else "sigmoid")
        self.V: nn.Parameter | None = None
        self.nade: NadeLayer | None = None
        if config.within_frame:
            rows, cols = torch.tril_indices(out, out, offset=-1)  # the pairs j < k
            self.register_buffer("V_rows", rows, persistent=False)
            self.register_buffer("V_cols", cols, persistent=False)
            self.V = nn.Parameter(torch.zeros(rows.numel()))  # V_kj for j < k, packed
        if config.nade_hidden:
            self.nade = NadeLayer(self.encoder.output_size, out, config.nade_hidden)

    @property
    def descending(self) -> bool:
        """Whether a frame's keys are predicted highest first."""
        return self.config.key_order == "descending"

    def within_frame_matrix(self) -> Tensor:
        """V (D, D), zero on and above the diagonal: key k reads the keys j < k of its frame
        (k and j counted in the model's key order)."""
        assert self.V is not None
        D = self.head.out_features
        rows: Tensor = self.V_rows  # type: ignore[assignment]
        cols: Tensor = self.V_cols  # type: ignore[assignment]
        return self.V.new_zeros(D, D).index_put((rows, cols), self.V)

    def run(
        self, inputs: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """Logits for every step and the final state, from an optional initial state (for
        truncated backpropagation through time and for generation). With nade_hidden = N_h,
        the logits carry N_h more columns at the end: the NADE hidden layer's c(a<t>)."""
        outputs, final = self.encoder(inputs, lengths, state)  # (B, T, H)
        a = F.dropout(outputs, self.config.output_dropout, self.training)
        logits = self.head(a)  # (B, T, V|D)
        if self.nade is not None:
            logits = torch.cat([logits, self.nade.start(a)], dim=-1)  # (B, T, D + N_h)
        return logits, final

    def forward_batch(self, batch: Batch) -> ModelOutput:
        # Reading left to right, the outputs at a sequence's real steps never depend on the
        # padding after them, and the final state is not used here: so the whole padded batch
        # runs as if every sequence were T long (one kernel call, no packing, which is slow to
        # backpropagate on the CPU), and the loss leaves the padded steps out (their logits
        # are predictions from padding: ignore them).
        logits, _ = self.run(batch.inputs, None)
        return self.output(batch, logits)

    def output(self, batch: Batch, logits: Tensor) -> ModelOutput:
        """From the logits of `run` to the model's output: adds the within-frame terms (frames,
        when configured) and computes the per-step loss when the batch has targets."""
        if self.V is not None and batch.targets is not None:
            logits = self.within_frame_logits(logits, batch.targets)  # (B, T, D)
        if batch.targets is None:
            return ModelOutput(logits, None, batch.mask.sum())
        if self.tokens:
            loss, count = sequence_cross_entropy(logits, batch.targets, batch.mask)
        else:
            loss, count = sequence_binary_cross_entropy(logits, batch.targets, batch.mask)
        return ModelOutput(logits, loss, count)

    def within_frame_logits(self, logits: Tensor, frames: Tensor) -> Tensor:
        """Each key's logit given the keys before it in `frames` (..., D), in key order, from
        `run`'s logits (..., D [+ N_h]). Keys stay in pitch order in and out."""
        D = self.head.out_features
        z, y = logits[..., :D], frames
        if self.descending:
            z, y = z.flip(-1), y.flip(-1)
        z = z + F.linear(y, self.within_frame_matrix())  # (..., D)
        if self.nade is not None:
            z = z + self.nade(logits[..., D:], y)
        return z.flip(-1) if self.descending else z

    @torch.no_grad()
    def generate(
        self,
        steps: int,
        prime: Tensor,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        fixed: Tensor | None = None,
    ) -> Tensor:
        """Sample `steps` new elements after `prime`: `generate_batch` with one row.

        prime: (T0,) token ids (starting with the start symbol) or (T0, D) frames (the all-zero
        start frame first). Returns (steps,) ids or (steps, D) 0/1 frames.
        temperature < 1 sharpens the distribution, > 1 flattens it. top_k keeps the k most
        likely tokens (for frames: at most k notes, the k most likely, each still sampled).
        fixed (steps, D), frames with within_frame only: 0 or 1 where a key's value is given,
        NaN where it is sampled; each free key is drawn given the keys before it in the key
        order, so the draw is exactly conditional when every given key comes before the free
        ones (a melody with key_order "descending").
        """
        if fixed is not None and fixed.dim() != 2:
            raise RnnkitError("fixed keys need a within-frame model and one row per step")
        return self.generate_batch(steps, [prime], temperature, top_k, generator, fixed)[0]

    @torch.no_grad()
    def generate_batch(
        self,
        steps: int,
        primes: Sequence[Tensor],
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        fixed: Tensor | None = None,
    ) -> Tensor:
        """Sample `steps` new elements after each of N primes at once, N independent draws.

        primes: N primes as in `generate` ((T0_i,) ids or (T0_i, D) frames; lengths may
        differ); pass `[prime] * N` for N samples of one prime. Returns (N, steps) ids or
        (N, steps, D) frames; row i continues primes[i]. The primes are read as one padded
        batch; then each step runs the recurrent kernel once on the (N, 1, ...) batch of the
        last samples with the N states carried, and draws all N next elements together
        (`torch.multinomial` over (N, V), or for frames each key of the within-frame order
        for all N rows at once). fixed: as in `generate`, (steps, D) shared by every row or
        (N, steps, D) per row. The same generator state gives the same N samples; with N = 1
        the random numbers are drawn exactly as a single sample draws them.
        """
        samples = self.sample_steps(steps, primes, temperature, top_k, generator, fixed)
        return torch.stack(list(samples), dim=1).cpu()  # (N, steps[, D])

    @torch.no_grad()  # on a generator function: grad mode is off only while it runs
    def sample_steps(
        self,
        steps: int,
        primes: Sequence[Tensor],
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        fixed: Tensor | None = None,
    ) -> Iterator[Tensor]:
        """`generate_batch` one step at a time: yields each step's N samples, (N,) ids or
        (N, D) frames on the model's device, as soon as they are drawn (for streaming them);
        the arguments and the draws are `generate_batch`'s. The model is in eval mode while
        the samples are drawn, and back in its own mode once the last is taken."""
        self._check_generation(steps, primes, temperature, fixed)
        was_training = self.training
        self.eval()
        try:
            z, state = self._read_primes(primes)  # (N, V|D [+ N_h])
            D = self.head.out_features
            given = None if fixed is None else fixed.to(z).expand(len(primes), steps, D)
            for t in range(steps):
                if self.V is not None:
                    rows = given[:, t] if given is not None else None
                    x = self._sample_within_frame(z, temperature, top_k, generator, rows)  # (N, D)
                else:
                    x = self._sample(z / temperature, top_k, generator)  # (N,) ids or (N, D)
                yield x
                logits, state = self.run(x.unsqueeze(1), state=state)  # (N, 1, V|D [+ N_h])
                z = logits[:, -1]
        finally:
            self.train(was_training)

    def _check_generation(
        self, steps: int, primes: Sequence[Tensor], temperature: float, fixed: Tensor | None
    ) -> None:
        if temperature <= 0:
            raise RnnkitError(f"temperature must be positive, got {temperature}")
        if len(primes) < 1:
            raise RnnkitError("generation needs at least one prime (one per sample)")
        if any(p.shape[0] < 1 for p in primes):
            raise RnnkitError("generation needs a prime of at least one step (the start symbol)")
        D = self.head.out_features
        shapes = ((steps, D), (len(primes), steps, D))
        if fixed is not None and (self.V is None or tuple(fixed.shape) not in shapes):
            raise RnnkitError(
                "fixed keys need a within-frame model and one row per step, (steps, D) for "
                "every sample or (N, steps, D) for each"
            )

    def _read_primes(self, primes: Sequence[Tensor]) -> tuple[Tensor, State]:
        """The logits after each prime's last step, (N, V|D [+ N_h]), and the N states there.
        Primes of different lengths run as one padded batch with their lengths."""
        device = self.head.W_ya.device
        N = len(primes)
        if len({p.shape[0] for p in primes}) == 1:
            logits, state = self.run(torch.stack(list(primes)).to(device))  # (N, T0, ...)
            return logits[:, -1], state
        padded, lengths = pad_sequences(list(primes))  # (N, T0max[, D]), (N,)
        logits, state = self.run(padded.to(device), lengths)
        return logits[torch.arange(N, device=device), lengths.to(device) - 1], state

    def _sample(self, z: Tensor, top_k: int | None, generator: torch.Generator | None) -> Tensor:
        """One draw per row of z (N, V|D): (N,) token ids, or (N, D) 0/1 frames."""
        gen_device = generator.device if generator is not None else z.device
        if self.tokens:
            if top_k is not None and top_k < z.shape[-1]:
                kth = torch.topk(z, top_k, dim=-1).values[:, -1:]  # (N, 1)
                z = z.masked_fill(z < kth, float("-inf"))
            probs = torch.softmax(z, dim=-1).to(gen_device)  # (N, V)
            return torch.multinomial(probs, 1, generator=generator)[:, 0].to(z.device)  # (N,)
        probs = torch.sigmoid(z)  # (N, D)
        if top_k is not None and top_k < probs.shape[-1]:
            kth = torch.topk(probs, top_k, dim=-1).values[:, -1:]  # (N, 1)
            probs = probs.masked_fill(probs < kth, 0.0)
        u = torch.rand(probs.shape, generator=generator, device=gen_device).to(z.device)
        return (u < probs).to(z.dtype)  # (N, D)

    def _sample_within_frame(
        self,
        z: Tensor,
        temperature: float,
        top_k: int | None,
        generator: torch.Generator | None,
        fixed: Tensor | None,
    ) -> Tensor:
        """Sample N frames key by key in key order, each key given the keys already chosen
        in its row (or given in `fixed` (N, D), NaN where free); at most top_k notes a row.
        z: (N, D [+ N_h]) -> (N, D). The key loop stays (key i reads keys < i); each of its
        steps draws key i of every row."""
        N, D = z.shape[0], self.head.out_features
        V = self.within_frame_matrix()  # (D, D), in key order
        gen_device = generator.device if generator is not None else z.device
        u = torch.rand(N, D, generator=generator, device=gen_device).to(z.device)  # (N, D)
        base = z[:, :D].flip(-1) if self.descending else z[:, :D]  # (N, D), in key order
        if fixed is not None:
            fixed = fixed.flip(-1) if self.descending else fixed  # (N, D), in key order
            known = ~torch.isnan(fixed)
        y = z.new_zeros(N, D)  # in key order
        notes = z.new_zeros(N)  # notes sounding so far in each row
        pre = z[:, D:]  # the NADE hidden pre-activation, (N, N_h) (empty without NADE)
        for i in range(D):
            z_i = base[:, i] + y[:, :i] @ V[i, :i]  # (N,)
            if self.nade is not None:
                z_i = z_i + self.nade.term(pre, i)
            y_i = (u[:, i] < torch.sigmoid(z_i / temperature)).to(z.dtype)  # (N,)
            if top_k is not None:
                y_i = y_i * (notes < top_k)
            if fixed is not None:
                y_i = torch.where(known[:, i], fixed[:, i], y_i)
            y[:, i] = y_i
            notes += y_i
            if self.nade is not None:
                pre = self.nade.advance(pre, i, y_i)
        return y.flip(-1) if self.descending else y

    def layer_rows(self) -> list[LayerRow]:
        rows = self.encoder.layer_rows(per_step=True)
        shape = f"(B, T, {self.head.out_features})"
        rows.append(LayerRow("head (Dense)", shape, count_parameters(self.head)))
        if self.V is not None:
            rows.append(LayerRow("within_frame (lower-triangular V)", shape, self.V.numel()))
        if self.nade is not None:
            rows.append(
                LayerRow("within_frame (NADE hidden layer)", shape, count_parameters(self.nade))
            )
        return rows


def step_log_likelihood(model: LanguageModel, batch: Batch) -> Tensor:
    """log P(x<t> | x<1..t-1>) of every step of a batch with targets, (B, T), 0 at padding:
    for frames the whole frame's log-probability (the sum over keys), for tokens the token's."""
    assert batch.targets is not None
    logits = model(batch).logits  # (B, T, V|D)
    if model.tokens:
        logp = -F.cross_entropy(
            logits.transpose(1, 2), batch.targets.clamp(min=0), reduction="none"
        )  # (B, T)
    else:
        target = batch.targets.to(logits.dtype)
        logp = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
    return torch.where(batch.mask, logp, torch.zeros_like(logp))


@torch.no_grad()
def mixture_nll(models: Sequence[LanguageModel], batches: Iterable[Batch]) -> float:
    """Negative log-likelihood per step of an ensemble: each step's distribution is the mean of
    the M models' distributions given the same past,
    P(x<t> | x<1..t-1>) = (1/M) sum_m P_m(x<t> | x<1..t-1>),
    itself a model of sequences (each step a proper distribution). Nats per real step."""
    total, steps = 0.0, 0.0
    for model in models:
        model.eval()
    for batch in batches:
        logp = torch.stack([step_log_likelihood(m, batch) for m in models])  # (M, B, T)
        mixed = torch.logsumexp(logp, dim=0) - math.log(len(models))  # (B, T)
        total -= float(mixed[batch.mask].sum())
        steps += float(batch.mask.sum())
    return total / steps
