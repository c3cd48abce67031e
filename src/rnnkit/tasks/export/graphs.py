"""The exported graphs: each task's model behind plain tensor inputs and outputs.

An ONNX graph takes named tensors, not a `Batch`; each module here takes the tensors a
non-Python caller can build (ids, lengths, ...), makes the batch the model expects and
returns plain tensors. Nothing here reads a tensor's values on the host, so `torch.export`
keeps B and T (and a word's W characters) as dynamic dimensions; the recurrent layers run
their steps in one `scan` when exported (`rnnkit.layers.recurrent.scan_steps`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells.base import LSTMState, State
from rnnkit.data.batch import Batch
from rnnkit.layers.char_encoder import CharEncoder
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.crf_tagger import CRFTagger
from rnnkit.models.decoder import DecoderState, Memory
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.tagger import SequenceTagger


def _mask(ids: Tensor, lengths: Tensor) -> Tensor:
    return torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]  # (B, T)


class ClassifierGraph(nn.Module):
    """ids (B, T) int64, lengths (B,) int64 -> logits (B, C'), probabilities (B, C).

    C' = 1 for a two-class model (the logit z of P(y = 1) = σ(z)), else C; probabilities
    always has one column per label, in the order of the labels (for two classes
    [1 - σ(z), σ(z)])."""

    def __init__(self, model: SequenceClassifier):
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        batch = Batch(ids, lengths, _mask(ids, lengths))
        logits = self.model.head(self.model.features(batch))  # (B, 1) or (B, C)
        if self.model.binary:
            p = torch.sigmoid(logits)  # (B, 1)
            return logits, torch.cat([1.0 - p, p], dim=1)  # (B, 2)
        return logits, torch.softmax(logits, dim=-1)  # (B, C)


class CharFeatures(nn.Module):
    """A character encoder over every word slot of the batch: (B, T, W) char ids, 0 after each
    word's end and for padding words -> (B, T, F), zeros for padding words, as
    `CharEncoder.forward` gives with the word lengths counted from the ids (no character id
    of a word is 0), without selecting the real words first (a data-dependent size)."""

    def __init__(self, chars: CharEncoder):
        super().__init__()
        self.chars = chars

    def forward(self, chars: Tensor) -> Tensor:
        ids = chars.flatten(0, 1)  # (B*T, W)
        inside = ids != 0  # (B*T, W)
        lengths = inside.sum(dim=1)  # (B*T,)
        x = self.chars.embedding(ids)  # (B*T, W, E), zero rows for padding (padding_idx 0)
        # a padding word runs as a one-character word and is zeroed after
        features = self.chars._encode(x, lengths.clamp(min=1), inside | (lengths[:, None] == 0))
        real = (lengths > 0)[:, None].to(features.dtype)  # (B*T, 1)
        return (features * real).unflatten(0, chars.shape[:2])  # (B, T, F)


class TaggerGraph(nn.Module):
    """ids (B, T), lengths (B,), chars (B, T, W), all int64 ->
    scores (B, T, C): the CRF's emissions e<t> (decode them with Viterbi and the transitions
    written beside the graph), or a softmax tagger's logits (take the argmax per step)."""

    MODELS = (CRFTagger, SequenceTagger)

    def __init__(self, model: CRFTagger | SequenceTagger):
        super().__init__()
        self.model = model
        chars = model.chars if isinstance(model, CRFTagger) else None
        self.chars = None if chars is None else CharFeatures(chars)

    def forward(self, ids: Tensor, lengths: Tensor, chars: Tensor) -> Tensor:
        batch = Batch(ids, lengths, _mask(ids, lengths))
        if isinstance(self.model, SequenceTagger):
            return self.model(batch).logits  # (B, T, C)
        c = None if self.chars is None else self.chars(chars)  # (B, T, F)
        a, _ = self.model.encoder(batch.inputs, batch.lengths, features=c)  # (B, T, 2H)
        return self.model.emission(a)  # (B, T, C)


class LanguageModelStep(nn.Module):
    """One step of a language model with its state as input and output:
    x (B, 1) int64 ids or (B, 1, D) float frames, h (L, B, H) [, c (L, B, H) for the LSTM]
    -> logits (B, V) or (B, D [+ N_h]), h_next [, c_next].

    For frames with a within-frame output (the NADE music models) the logits are the frame's
    logits before the within-frame terms (and, with a NADE hidden layer, its N_h start
    values after them): the key-by-key sampling inside a frame is not part of the graph."""

    def __init__(self, model: LanguageModel):
        super().__init__()
        self.model = model
        self.lstm = model.encoder.rnn.spec.lstm_state

    def forward(self, x: Tensor, h: Tensor, c: Tensor | None = None) -> tuple[Tensor, ...]:
        start: State = h if c is None else LSTMState(h, c)
        logits, final = self.model.run(x, None, start)  # (B, 1, V|D), state
        parts = tuple(final) if isinstance(final, LSTMState) else (final,)
        return (logits[:, 0], *parts)  # (B, V|D), (L, B, H) ...


def _split_state(layers: tuple[State, ...]) -> tuple[Tensor, ...]:
    """The decoder's per-layer states as h (L, B, H) [and c (L, B, H) for the LSTM]."""
    if isinstance(layers[0], LSTMState):
        return torch.stack([s[0] for s in layers]), torch.stack([s[1] for s in layers])
    return (torch.stack([s for s in layers if isinstance(s, Tensor)]),)


class TranslationEncoder(nn.Module):
    """src (B, T_x) int64 ids, lengths (B,) -> memory a (B, T_x, H_enc), the attention's keys
    (B, T_x, K), the decoder's first feed h~<0> (B, H) and state h (L, B, H) [, c]."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    def forward(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        memory, state = self.model.encode(src, lengths)
        assert memory.keys is not None  # exported models have attention
        return (memory.a, memory.keys, state.feed, *_split_state(state.layers))


class TranslationDecoderStep(nn.Module):
    """One target position: y_prev (B,) int64, the source lengths (B,), memory and keys from
    the encoder, feed (B, H) and h (L, B, H) [, c] -> logits z<t> (B, V), the attention
    alpha<t,.> (B, T_x), feed_next, h_next [, c_next]. Greedy decoding feeds the argmax back
    from y_prev = bos_id until eos_id."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.decoder = model.decoder

    def forward(
        self,
        y_prev: Tensor,
        lengths: Tensor,
        memory: Tensor,
        keys: Tensor,
        feed: Tensor,
        h: Tensor,
        c: Tensor | None = None,
    ) -> tuple[Tensor, ...]:
        mask = _mask(memory[:, :, 0], lengths)  # (B, T_x)
        layers = tuple(
            h[layer] if c is None else LSTMState(h[layer], c[layer]) for layer in range(h.shape[0])
        )
        out = self.decoder.step(y_prev, DecoderState(layers, feed), Memory(memory, mask, keys))
        assert out.alpha is not None
        return (out.logits, out.alpha, out.state.feed, *_split_state(out.state.layers))


__all__ = [
    "CharFeatures",
    "ClassifierGraph",
    "LanguageModelStep",
    "TaggerGraph",
    "TranslationDecoderStep",
    "TranslationEncoder",
]
