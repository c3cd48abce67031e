"""One-to-many: a model of sequences that generates them one step at a time.

Over tokens (text: characters or words, softmax over the vocabulary) or over multi-hot frames
(music: the notes sounding at each step, one sigmoid per pitch). Training uses teacher forcing:
the input at step t is the true element t-1 and the target is element t; the first input is a
start symbol (`<bos>` for tokens, the all-zero frame for frames), so x<1> carries no
information and ŷ<1> is the model's guess for the first element, as in the lecture's
one-to-many picture. Generation feeds each sampled element back as the next input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import State
from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.layers.dense import Dense
from rnnkit.models.base import BatchModel, ModelOutput
from rnnkit.models.checks import check_fraction
from rnnkit.models.encoder import EncoderConfig, SequenceEncoder
from rnnkit.models.losses import sequence_binary_cross_entropy, sequence_cross_entropy
from rnnkit.models.registry import register_architecture
from rnnkit.models.summary import LayerRow, count_parameters


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

    def __post_init__(self) -> None:
        check_fraction("LanguageModelConfig", "output_dropout", self.output_dropout)
        if self.encoder.bidirectional:
            raise RnnkitError("a language model reads left to right: bidirectional must be false")
        if self.within_frame and self.encoder.vocab_size > 0:
            raise RnnkitError("within_frame applies to frame inputs (num_features), not to tokens")


@register_architecture("language_model", LanguageModelConfig)
class LanguageModel(BatchModel):
    """ŷ<t> = g(W_ya a<t> + b_y): P(x<t+1> | x<1..t>), softmax over tokens or sigmoid per feature.

    With `within_frame`, the frame's keys are predicted one after the other, lowest first:
    z_k<t> = (W_ya a<t> + b_y)_k + sum_{j<k} V_kj y_j<t>, P(y_k<t> = 1 | ...) = σ(z_k<t>),
    V strictly lower-triangular. The frame's likelihood is still one sum of D binary
    cross-entropies (the chain rule), computed in one pass from the true frame in training.

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
        if config.within_frame:
            rows, cols = torch.tril_indices(out, out, offset=-1)  # the pairs j < k
            self.register_buffer("V_rows", rows, persistent=False)
            self.register_buffer("V_cols", cols, persistent=False)
            self.V = nn.Parameter(torch.zeros(rows.numel()))  # V_kj for j < k, packed

    def within_frame_matrix(self) -> Tensor:
        """V (D, D), zero on and above the diagonal: key k reads the keys j < k of its frame."""
        assert self.V is not None
        D = self.head.out_features
        rows: Tensor = self.V_rows  # type: ignore[assignment]
        cols: Tensor = self.V_cols  # type: ignore[assignment]
        return self.V.new_zeros(D, D).index_put((rows, cols), self.V)

    def run(
        self, inputs: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """Logits for every step and the final state, from an optional initial state (for
        truncated backpropagation through time and for generation)."""
        outputs, final = self.encoder(inputs, lengths, state)  # (B, T, H)
        logits = self.head(
            F.dropout(outputs, self.config.output_dropout, self.training)
        )  # (B, T, V|D)
        return logits, final

    def forward_batch(self, batch: Batch) -> ModelOutput:
        logits, _ = self.run(batch.inputs, batch.lengths)
        return self.output(batch, logits)

    def output(self, batch: Batch, logits: Tensor) -> ModelOutput:
        """From the logits of `run` to the model's output: adds the within-frame term (frames,
        when configured) and computes the per-step loss when the batch has targets."""
        if self.V is not None and batch.targets is not None:
            logits = logits + F.linear(batch.targets, self.within_frame_matrix())  # (B, T, D)
        if batch.targets is None:
            return ModelOutput(logits, None, batch.mask.sum())
        if self.tokens:
            loss, count = sequence_cross_entropy(logits, batch.targets, batch.mask)
        else:
            loss, count = sequence_binary_cross_entropy(logits, batch.targets, batch.mask)
        return ModelOutput(logits, loss, count)

    @torch.no_grad()
    def generate(
        self,
        steps: int,
        prime: Tensor,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample `steps` new elements after `prime`.

        prime: (T0,) token ids (starting with the start symbol) or (T0, D) frames (the all-zero
        start frame first). Returns (steps,) ids or (steps, D) 0/1 frames.
        temperature < 1 sharpens the distribution, > 1 flattens it. top_k keeps the k most
        likely tokens (for frames: at most k notes, the k most likely, each still sampled).
        """
        if temperature <= 0:
            raise RnnkitError(f"temperature must be positive, got {temperature}")
        if prime.shape[0] < 1:
            raise RnnkitError("generation needs a prime of at least one step (the start symbol)")
        was_training = self.training
        self.eval()
        device = self.head.W_ya.device
        logits, state = self.run(prime[None].to(device))  # (1, T0, V|D)
        z = logits[0, -1]  # (V,) or (D,)
        samples = []
        for _ in range(steps):
            if self.V is not None:
                x = self._sample_within_frame(z, temperature, top_k, generator)  # (D,)
            else:
                x = self._sample(z / temperature, top_k, generator)  # () id or (D,) frame
            samples.append(x)
            logits, state = self.run(x.view(1, 1, *x.shape), state=state)
            z = logits[0, -1]
        self.train(was_training)
        return torch.stack(samples).cpu()

    def _sample(self, z: Tensor, top_k: int | None, generator: torch.Generator | None) -> Tensor:
        gen_device = generator.device if generator is not None else z.device
        if self.tokens:
            if top_k is not None and top_k < z.shape[-1]:
                kth = torch.topk(z, top_k).values[-1]
                z = z.masked_fill(z < kth, float("-inf"))
            probs = torch.softmax(z, dim=-1).to(gen_device)
            return torch.multinomial(probs, 1, generator=generator)[0].to(z.device)  # ()
        probs = torch.sigmoid(z)  # (D,)
        if top_k is not None and top_k < probs.shape[-1]:
            kth = torch.topk(probs, top_k).values[-1]
            probs = probs.masked_fill(probs < kth, 0.0)
        u = torch.rand(probs.shape, generator=generator, device=gen_device).to(z.device)
        return (u < probs).to(z.dtype)  # (D,)

    def _sample_within_frame(
        self, z: Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None
    ) -> Tensor:
        """Sample a frame key by key, lowest first, each key given the keys already chosen."""
        V = self.within_frame_matrix()  # (D, D)
        gen_device = generator.device if generator is not None else z.device
        u = torch.rand(z.shape, generator=generator, device=gen_device).to(z.device)  # (D,)
        y = torch.zeros_like(z)
        for k in range(z.shape[0]):
            if top_k is not None and int(y.sum()) >= top_k:
                break
            p_k = torch.sigmoid((z[k] + V[k] @ y) / temperature)
            y[k] = (u[k] < p_k).to(z.dtype)
        return y

    def layer_rows(self) -> list[LayerRow]:
        rows = self.encoder.layer_rows(per_step=True)
        shape = f"(B, T, {self.head.out_features})"
        rows.append(LayerRow("head (Dense)", shape, count_parameters(self.head)))
        if self.V is not None:
            rows.append(LayerRow("within_frame (lower-triangular V)", shape, self.V.numel()))
        return rows
