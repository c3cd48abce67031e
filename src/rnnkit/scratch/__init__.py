"""The lecture's equations in plain NumPy, with backpropagation through time written out.

A teaching reference to read next to the lecture, and an independent oracle for the PyTorch
code: the same parameters (copied) must give the same states, losses and gradients.

Conventions, shared with `rnnkit.cells`:
  * batch-first: x (B, T, D), a<t> (B, H), emitted states (B, T, H); the lecture's column
    vectors become rows, so W_aa a<t-1> is written a<t-1> @ W_aa.T.
  * a mask (B, T), True on real steps: a padded step keeps the state and emits zeros, so it
    contributes nothing to the loss or to any gradient.
  * losses are summed over the real time steps and divided by their number.
  * every parameter set is a frozen dataclass of arrays named after the lecture's symbols; the
    same class holds the gradients.

Modules:
  rnn             simple RNN a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a), g = tanh or relu
  lstm            LSTM, gate blocks [Γ_u, Γ_f, c̃, Γ_o] (PyTorch's [i, f, g, o]), one bias
  gru             GRU, PyTorch/cuDNN variant (reset after the product), blocks [r, z, n]
  unroll          the one time loop, forward and backward (BPTT), with the mask
  output, loss    ŷ<t> = softmax(W_ya a<t> + b_y); cross-entropy and its gradient
  language_model  one-hot ids -> RNN -> softmax -> loss, with every gradient
  gradcheck       numerical gradients by central differences
  char_rnn        min-char-rnn: Adagrad, clipping, truncated BPTT, sampling

Each cell has `*_cell_forward(x_t, state, params) -> (state, cache)` and
`*_cell_backward(d_state, cache) -> (dx_t, d_state_prev, grads)`; each layer has
`*_forward(x, state0, params, mask) -> (states, caches)` and
`*_backward(d_states, caches) -> (dx, d_state0, grads)`.
"""

from rnnkit.scratch.char_rnn import Adagrad, CharRNN, clip_elementwise, train_char_rnn
from rnnkit.scratch.gradcheck import (
    gradient_check,
    gradient_errors,
    numerical_gradient,
    relative_error,
)
from rnnkit.scratch.gru import (
    GRUCache,
    GRUParams,
    gru_backward,
    gru_cell_backward,
    gru_cell_forward,
    gru_forward,
)
from rnnkit.scratch.language_model import (
    LMCache,
    LMForward,
    RNNLMParams,
    lm_backward,
    lm_forward,
    one_hot,
)
from rnnkit.scratch.loss import sigmoid_cross_entropy, softmax_cross_entropy
from rnnkit.scratch.lstm import (
    LSTMCache,
    LSTMParams,
    lstm_backward,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward,
)
from rnnkit.scratch.output import OutputParams, output_backward, output_logits
from rnnkit.scratch.params import Array, Params, sigmoid, softmax
from rnnkit.scratch.rnn import (
    Activation,
    RNNCache,
    RNNParams,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_cell_forward_stacked,
    rnn_forward,
    split_weights,
    stack_weights,
)
from rnnkit.scratch.state import LSTMState
from rnnkit.scratch.unroll import SequenceCache, unroll_backward, unroll_forward

__all__ = [
    "Activation",
    "Adagrad",
    "Array",
    "CharRNN",
    "GRUCache",
    "GRUParams",
    "LMCache",
    "LMForward",
    "LSTMCache",
    "LSTMParams",
    "LSTMState",
    "OutputParams",
    "Params",
    "RNNCache",
    "RNNLMParams",
    "RNNParams",
    "SequenceCache",
    "clip_elementwise",
    "gradient_check",
    "gradient_errors",
    "gru_backward",
    "gru_cell_backward",
    "gru_cell_forward",
    "gru_forward",
    "lm_backward",
    "lm_forward",
    "lstm_backward",
    "lstm_cell_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "numerical_gradient",
    "one_hot",
    "output_backward",
    "output_logits",
    "relative_error",
    "rnn_backward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_cell_forward_stacked",
    "rnn_forward",
    "sigmoid",
    "sigmoid_cross_entropy",
    "softmax",
    "softmax_cross_entropy",
    "split_weights",
    "stack_weights",
    "train_char_rnn",
    "unroll_backward",
    "unroll_forward",
]
