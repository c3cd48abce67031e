"""Character-level word features: a word the vocabulary has never seen still has a spelling.

A tagger that knows words only by their vocabulary id sees every unseen name as `<unk>`. Reading
each word's characters gives it the evidence a person uses: capital letters, suffixes like
-ski or -burg, digits and hyphens. `CharEncoder` turns the characters of every word of a batch
of sentences into one feature vector per word, to be concatenated with the word embedding:

    'lstm' (Lample et al. 2016): a bidirectional LSTM reads the word's characters; the feature
           is [a_forward<W_len>, a_backward<1>], the final states of both directions, (2H).
    'cnn'  (Ma & Hovy 2016): a convolution of width k slides over the character embeddings and
           each of its H filters is max-pooled over the word's positions, then tanh, (H).

Shapes: chars (B, T, W) int64 character ids (word t of sentence b, padded to the longest word
W), word_lengths (B, T) int64 with 0 for padding words -> features (B, T, F) with F =
`output_size`. Characters beyond a word's length are ignored whatever their id, so a word's
feature depends only on its own characters (not on W, its neighbours, or the batch), and
padding words (length 0) get an all-zero feature, never NaN (and no gradient). Only the real
words are encoded: the B*T slots are gathered to the N real words (length >= 1) before the
recurrent layer or convolution runs, and the features are scattered back; a length above W
counts as W.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from rnnkit.cells.base import LSTMState
from rnnkit.layers.rnn import RNN

CharEncoderKind = Literal["lstm", "cnn"]


class CharEncoder(nn.Module):
    """Characters of each word -> one feature vector per word (see the module docstring).

    num_chars:   size of the character vocabulary (id 0 is conventionally <pad>).
    char_dim:    character embedding size.
    hidden:      H, LSTM units per direction ('lstm', F = 2H) or filters ('cnn', F = H).
    kind:        'lstm' or 'cnn'.
    kernel_size: convolution width for 'cnn' (odd; the word is zero-padded at both ends).
    """

    def __init__(
        self,
        num_chars: int,
        char_dim: int = 25,
        hidden: int = 25,
        kind: CharEncoderKind = "lstm",
        kernel_size: int = 3,
    ):
        super().__init__()
        if kind not in ("lstm", "cnn"):
            raise ValueError(f"kind must be 'lstm' or 'cnn', got {kind!r}")
        if kind == "cnn" and kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.kind = kind
        self.num_chars = num_chars
        self.char_dim = char_dim
        self.hidden = hidden
        self.kernel_size = kernel_size
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.rnn: RNN | None = None
        self.conv: nn.Conv1d | None = None
        if kind == "lstm":
            self.rnn = RNN("lstm", char_dim, hidden, bidirectional=True)
            self.output_size = 2 * hidden
        else:
            self.conv = nn.Conv1d(char_dim, hidden, kernel_size, padding=kernel_size // 2)
            self.output_size = hidden

    def forward(self, chars: Tensor, word_lengths: Tensor) -> Tensor:
        """(B, T, W) char ids, (B, T) word lengths -> (B, T, F) word features."""
        if chars.dim() != 3 or tuple(word_lengths.shape) != tuple(chars.shape[:2]):
            raise ValueError(
                "expected chars (B, T, W) and word_lengths (B, T), got "
                f"{tuple(chars.shape)} and {tuple(word_lengths.shape)}"
            )
        B, T, W = chars.shape
        out = self.embedding.weight.new_zeros(B * T, self.output_size)  # (B*T, F)
        lengths = word_lengths.reshape(B * T).clamp(max=W)  # (B*T,)
        real = (lengths > 0).nonzero().squeeze(1)  # indices of the N real words, (N,)
        if real.numel() == 0:
            return out.view(B, T, self.output_size)
        n_lengths = lengths[real]  # (N,)
        width = int(n_lengths.max())
        ids = chars.reshape(B * T, W)[real, :width]  # (N, W')
        inside = torch.arange(width, device=ids.device)[None, :] < n_lengths[:, None]  # (N, W')
        x = self.embedding(ids) * inside.unsqueeze(2).to(self.embedding.weight.dtype)  # (N, W', E)
        features = self._encode(x, n_lengths, inside)  # (N, F)
        out = out.index_copy(0, real, features)  # (B*T, F), zeros for padding words
        return out.view(B, T, self.output_size)  # (B, T, F)

    def _encode(self, x: Tensor, lengths: Tensor, inside: Tensor) -> Tensor:
        """Embedded real words (N, W', E), lengths (N,) >= 1, mask (N, W') -> (N, F)."""
        if self.rnn is not None:
            _, final = self.rnn(x, lengths)
            assert isinstance(final, LSTMState)
            # a: (2, N, H), forward direction first; each read up to the word's own length
            return torch.cat([final.a[0], final.a[1]], dim=1)  # (N, 2H)
        assert self.conv is not None
        h = self.conv(x.transpose(1, 2))  # (N, H, W')
        # x is zero beyond each word, like the convolution's own padding; positions beyond the
        # word are excluded from the max
        h = h.masked_fill(~inside.unsqueeze(1), float("-inf"))  # (N, H, W')
        return torch.tanh(h.max(dim=2).values)  # (N, H)

    def extra_repr(self) -> str:
        extra = f", kernel_size={self.kernel_size}" if self.kind == "cnn" else ""
        sizes = f"chars={self.num_chars}, char_dim={self.char_dim}, hidden={self.hidden}"
        return f"{self.kind}, {sizes}{extra}"
