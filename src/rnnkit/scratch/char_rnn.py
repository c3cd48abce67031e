"""A character-level language model trained in NumPy, in the manner of min-char-rnn.

A simple RNN reads a text one character at a time and learns to predict the next one:

  * truncated BPTT: the text is cut into windows of seq_length characters; gradients flow back
    through one window only, but the hidden state a<t> is carried from one window to the next
    (so the model can remember more than seq_length characters). It is reset to zeros when the
    reader wraps around to the start of the text.
  * every gradient element is clipped to [-5, 5], the crude but effective guard against the
    exploding gradients of long products of W_aa.
  * Adagrad: mem += g²; θ -= lr · g / sqrt(mem + 1e-8).
  * sampling: feed a seed character, draw the next from softmax(logits / temperature), feed it
    back in, repeat.

Unlike min-char-rnn, losses are per character (the window's loss divided by seq_length; see
`rnnkit.scratch.loss`), and the batch axis is kept (B = 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.scratch.language_model import RNNLMParams, lm_backward, lm_forward, one_hot
from rnnkit.scratch.loss import IntArray
from rnnkit.scratch.output import output_logits
from rnnkit.scratch.params import Array, Params, softmax
from rnnkit.scratch.rnn import Activation, rnn_cell_forward

P = TypeVar("P", bound=Params)


class Adagrad:
    """Per-element learning rates: mem += g * g; θ -= lr * g / sqrt(mem + eps)."""

    def __init__(self, params: Params, lr: float = 0.1, eps: float = 1e-8):
        self.lr = lr
        self.eps = eps
        self.memory = params.zeros_like().arrays()  # running sum of squared gradients

    def step(self, params: Params, grads: Params) -> None:
        """Update `params` in place."""
        g_by_name = grads.arrays()
        for name, theta in params.arrays().items():
            g, mem = g_by_name[name], self.memory[name]
            mem += g * g
            theta -= self.lr * g / np.sqrt(mem + self.eps)


def clip_elementwise(grads: P, limit: float = 5.0) -> P:
    """Clip every gradient element to [-limit, limit] (min-char-rnn's guard against explosions)."""
    return type(grads)(**{name: np.clip(g, -limit, limit) for name, g in grads.arrays().items()})


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class CharRNN:
    """A simple-RNN character model: one-hot characters -> RNN (H units) -> softmax over V."""

    def __init__(
        self,
        chars: Sequence[str],
        hidden: int = 100,
        rng: np.random.Generator | int | None = 0,
        activation: Activation = "tanh",
    ):
        if len(set(chars)) != len(chars) or any(len(ch) != 1 for ch in chars):
            raise RnnkitError("CharRNN needs a list of distinct single characters")
        self.chars = list(chars)  # id -> character
        self.index = {ch: i for i, ch in enumerate(self.chars)}  # character -> id
        self.activation: Activation = activation
        self.params = RNNLMParams.init(len(self.chars), hidden, _generator(rng))

    @property
    def V(self) -> int:
        return len(self.chars)

    @property
    def H(self) -> int:
        return self.params.H

    def encode(self, text: str) -> IntArray:
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise RnnkitError(f"characters not in the model's vocabulary: {unknown!r}")
        return np.array([self.index[ch] for ch in text], dtype=np.int64)

    def decode(self, ids: Sequence[int] | IntArray) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def initial_state(self) -> Array:
        return np.zeros((1, self.H))  # (1, H)

    def loss_and_grads(
        self, inputs: IntArray, targets: IntArray, a_prev: Array
    ) -> tuple[float, RNNLMParams, Array]:
        """One window: inputs, targets (T,) ids, a_prev (1, H) -> (loss per char, grads, a<T>)."""
        out = lm_forward(inputs[None], targets[None], self.params, a_prev, None, self.activation)
        grads, _ = lm_backward(out.cache)
        return out.loss, grads, out.final

    def sample(
        self,
        seed_char: str,
        n: int,
        temperature: float = 1.0,
        rng: np.random.Generator | int | None = None,
        a0: Array | None = None,
    ) -> str:
        """n characters drawn one at a time after `seed_char` (which is not included).

        Each is drawn from softmax(logits / temperature) and fed back in: temperature < 1 is
        more conservative, > 1 more adventurous, and 0 takes the most likely character
        (greedy, no randomness). rng: a Generator or a seed; the same seed gives the same text.
        """
        if seed_char not in self.index:
            raise RnnkitError(
                f"seed character {seed_char!r} is not in the vocabulary {self.chars!r}"
            )
        if temperature < 0:
            raise RnnkitError(f"temperature must be >= 0, got {temperature}")
        gen = _generator(rng)
        a = self.initial_state() if a0 is None else a0  # (1, H)
        idx = self.index[seed_char]
        out: list[int] = []
        for _ in range(n):
            x = one_hot(np.array([idx]), self.V)  # (1, V)
            a, _ = rnn_cell_forward(x, a, self.params.rnn, self.activation)  # (1, H)
            logits = output_logits(a, self.params.output)[0]  # (V,)
            if temperature == 0:
                idx = int(np.argmax(logits))
            else:
                idx = int(gen.choice(self.V, p=softmax(logits / temperature)))
            out.append(idx)
        return self.decode(out)


def train_char_rnn(
    text: str,
    hidden: int = 100,
    seq_length: int = 25,
    steps: int = 2000,
    lr: float = 0.1,
    seed: int = 0,
    log_every: int = 100,
    clip: float = 5.0,
    smoothing: float = 0.99,
    on_log: Callable[[int, float, CharRNN], None] | None = None,
) -> tuple[CharRNN, list[float]]:
    """Train a CharRNN on `text` with Adagrad and truncated BPTT; return it and the loss history.

    The history holds the smoothed loss per character (an exponential moving average,
    smooth = smoothing · smooth + (1 - smoothing) · loss) at step 0, where it starts at log V
    (the loss of guessing uniformly), and after every `log_every` steps. on_log(step, smooth,
    model), if given, is called at the same moments (e.g. to print a sample).
    Deterministic for a given seed.
    """
    if len(text) < seq_length + 1:
        raise RnnkitError(
            f"text has {len(text)} characters; it needs at least seq_length + 1 = {seq_length + 1}"
        )
    model = CharRNN(sorted(set(text)), hidden, np.random.default_rng(seed))
    data = model.encode(text)
    optimizer = Adagrad(model.params, lr)
    smooth = float(np.log(model.V))
    history = [smooth]
    if on_log is not None:
        on_log(0, smooth, model)
    p = 0  # where the current window starts in the text
    a = model.initial_state()  # (1, H), carried across windows
    for step in range(1, steps + 1):
        if p + seq_length + 1 > len(data):
            p, a = 0, model.initial_state()  # wrapped around: start again from a blank memory
        inputs = data[p : p + seq_length]  # (T,)
        targets = data[p + 1 : p + seq_length + 1]  # (T,) the next character of each input
        loss, grads, a = model.loss_and_grads(inputs, targets, a)
        optimizer.step(model.params, clip_elementwise(grads, clip))
        smooth = smoothing * smooth + (1 - smoothing) * loss
        if step % log_every == 0:
            history.append(smooth)
            if on_log is not None:
                on_log(step, smooth, model)
        p += seq_length
    return model, history
