"""The JSON written beside an exported graph: what a caller outside Python needs to feed it
and read its outputs (vocabularies, labels, preprocessing, decoding)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnnkit.data.text import HTML_TAG_PATTERN, RAW_TOKEN_PATTERN, WORD_TOKEN_PATTERN
from rnnkit.data.vocab import Vocabulary
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.crf_tagger import CRFTagger
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.tagger import SequenceTagger
from rnnkit.tasks.ner.pipeline import NERPipeline
from rnnkit.tasks.sentiment import TextPipeline
from rnnkit.tasks.translate.pipeline import TranslationPipeline

FORMAT = "rnnkit-onnx"
VERSION = 1

LENGTHS = "(B,) int64: each sequence's real length, 1 <= length <= T"


def _vocabulary(vocab: Vocabulary) -> dict[str, Any]:
    """Tokens in id order (id = position), and the ids of <pad> and <unk>."""
    return {"tokens": list(vocab.tokens), "pad_id": vocab.pad_id, "unk_id": vocab.unk_id}


def sentiment_metadata(pipeline: TextPipeline, model: SequenceClassifier) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": "sentiment",
        "inputs": {
            "ids": "(B, T) int64 token ids, padded at the end with pad_id",
            "lengths": LENGTHS,
        },
        "outputs": [
            {
                "name": "logits",
                "shape": ["B", 1 if model.binary else len(pipeline.labels)],
                "meaning": "z with P(labels[1]) = sigmoid(z) for two labels, else the "
                "softmax's logits",
            },
            {
                "name": "probabilities",
                "shape": ["B", len(pipeline.labels)],
                "meaning": "one column per label, in the order of labels",
            },
        ],
        "labels": list(pipeline.labels.names),
        "vocabulary": _vocabulary(pipeline.vocab),
        "preprocessing": {
            "steps": [
                "Unicode NFC normalisation",
                "lowercase (str.lower)",
                "replace every match of html_tag_pattern (case-insensitive) by a space",
                "decode HTML character references (&amp; -> &, &#39; -> ')",
                "U+2019 -> ', U+2026 and U+0085 -> ...",
                "tokens: every match of token_pattern (Python `re`), left to right",
                "keep the LAST keep_last tokens",
                "ids: a token's position in vocabulary.tokens, unk_id when absent",
            ],
            "html_tag_pattern": HTML_TAG_PATTERN,
            "token_pattern": WORD_TOKEN_PATTERN,
            "lowercase": True,
            "keep_last": pipeline.max_len,
            "python": "rnnkit.data.text.tokenize(text)[-keep_last:]",
        },
    }


def ner_metadata(pipeline: NERPipeline, model: CRFTagger | SequenceTagger) -> dict[str, Any]:
    crf = isinstance(model, CRFTagger)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "task": "ner",
        "inputs": {
            "ids": "(B, T) int64 word ids (see word_key), padded at the end with 0",
            "lengths": LENGTHS,
            "chars": "(B, T, W) int64 character ids of each word as written (not normalised), "
            "0 after the word's end and for padding words (a word's length is its count of "
            "nonzero ids)",
        },
        "outputs": [
            {
                "name": "scores",
                "shape": ["B", "T", len(pipeline.tags)],
                "meaning": "the CRF's emission scores e<t>[tag]: decode with viterbi"
                if crf
                else "logits of the tags at each word: take the argmax",
            }
        ],
        "tags": list(pipeline.tags.tokens),
        "words": _vocabulary(pipeline.words),
        "chars": _vocabulary(pipeline.chars),
        "preprocessing": {
            "tokens": "every match of token_pattern in the raw text (Python `re`, NFC text)",
            "token_pattern": RAW_TOKEN_PATTERN,
            "word_key": "the token, lowercased when lowercase, every digit 0-9 (any Unicode "
            "decimal digit) replaced by 0 when zero_digits; its id in words.tokens, else unk_id",
            "lowercase": pipeline.lowercase,
            "zero_digits": pipeline.zero_digits,
            "python": "rnnkit.data.text.tokenize_with_offsets(text)",
        },
    }
    if crf:
        assert isinstance(model, CRFTagger)
        c = model.crf
        meta["viterbi"] = {
            "transitions": c.transitions.detach().tolist(),  # A[i][j]: tag j after tag i
            "start": c.start.detach().tolist(),
            "end": c.end.detach().tolist(),
            "allowed_transitions": c.allowed.tolist(),
            "allowed_start": c.allowed_start.tolist(),
            "allowed_end": c.allowed_end.tolist(),
            "procedure": [
                "scores not allowed become -infinity (allowed_* false)",
                "delta[j] = start[j] + e<1>[j]",
                "for t = 2..length: back<t>[j] = argmax_i (delta[i] + A[i][j]), then "
                + "delta[j] = max_i (delta[i] + A[i][j]) + e<t>[j]",
                "last tag = argmax_j delta[j] + end[j]; follow back<t> from t = length down to 2",
                "ties go to the lowest index",
            ],
        }
    return meta


def language_model_metadata(
    task: str, model: LanguageModel, extras: Mapping[str, Any]
) -> dict[str, Any]:
    encoder = model.encoder.config
    lstm = encoder.cell == "lstm"
    state = "(L, B, H) float32 with L = num_layers, H = hidden_size; zeros to start"
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "task": task,
        "inputs": {
            "x": "(B, 1) int64 token id" if model.tokens else "(B, 1, D) float32 frame (0/1 keys)",
            "h": "a<t-1> of every layer, " + state,
            **({"c": "the LSTM's memory cells c<t-1>, " + state} if lstm else {}),
        },
        "outputs": [
            {
                "name": "logits",
                "shape": ["B", model.head.out_features],
                "meaning": "softmax logits of the next token"
                if model.tokens
                else "a logit per key of the next frame (independent sigmoids)",
            },
            {"name": "h_next", "shape": ["L", "B", "H"], "meaning": "a<t>, the next h"},
        ],
        "num_layers": encoder.num_layers,
        "hidden_size": encoder.hidden_size,
        "cell": encoder.cell,
        "data": dict(extras.get("data", {})),
    }
    if lstm:
        meta["outputs"].append({"name": "c_next", "shape": ["L", "B", "H"], "meaning": "c<t>"})
    if model.tokens:
        vocab = Vocabulary.from_dict(extras["vocab"])
        meta["vocabulary"] = {**_vocabulary(vocab), "bos_id": vocab.bos_id}
        meta["generation"] = "feed bos_id first, then each sampled token; one id per step"
    if model.config.within_frame:
        meta["not_exported"] = (
            "the within-frame output (each key conditioned on the keys before it in the "
            "frame, and the NADE hidden layer): logits are the frame's terms from a<t> alone"
            + (", followed by the NADE hidden layer's start values" if model.nade else "")
        )
        meta["outputs"][0]["shape"] = ["B", model.head.out_features + model.config.nade_hidden]
    return meta


def translation_metadata(pipeline: TranslationPipeline, model: Seq2Seq) -> dict[str, Any]:
    """The shared description, plus the "encoder" and "decoder" parts' inputs and outputs
    (popped by the caller)."""
    c = model.config
    lstm = c.cell == "lstm"
    state = "(L, B, H) float32, L = decoder_layers, H = hidden_size"
    tail = {"h": "the decoder's s_l<t-1>, " + state}
    if lstm:
        tail["c"] = "the decoder LSTM's memory cells, " + state
    nexts = [{"name": f"{n}_next", "shape": ["L", "B", "H"]} for n in tail]
    encoder_outputs = [
        {"name": "memory", "shape": ["B", "T_x", "H_enc"], "meaning": "the encoder's a<t'>"},
        {"name": "keys", "shape": ["B", "T_x", "K"], "meaning": "the attention's keys"},
        {"name": "feed", "shape": ["B", "H"], "meaning": "h~<0> = 0"},
        *({"name": n, "shape": ["L", "B", "H"], "meaning": m} for n, m in tail.items()),
    ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": "translate",
        "direction": pipeline.direction,
        "source_vocabulary": _vocabulary(pipeline.source),
        "target_vocabulary": _vocabulary(pipeline.target),
        "bos_id": c.bos_id,
        "eos_id": c.eos_id,
        "num_layers": c.decoder_layers,
        "hidden_size": c.hidden_size,
        "preprocessing": {
            "lowercase": pipeline.lowercase,
            "max_source_tokens": pipeline.max_source_tokens,
            "python": "rnnkit.data.translation_text.tokenize_pair_text(text, lowercase=...)",
        },
        "decoding": "greedy: y_prev = bos_id; run the decoder, y = argmax(logits), feed y and "
        "the *_next outputs back, until eos_id or floor(max_length_ratio * T_x) + "
        "max_length_offset tokens",
        "max_length_ratio": c.max_length_ratio,
        "max_length_offset": c.max_length_offset,
        "truecase": dict(pipeline.truecase),
        "encoder": {
            "inputs": {"src": "(B, T_x) int64 source ids, padded with 0", "lengths": LENGTHS},
            "outputs": encoder_outputs,
        },
        "decoder": {
            "inputs": {
                "y_prev": "(B,) int64 the previous target id (bos_id first)",
                "lengths": LENGTHS + " (of the source)",
                "memory": "the encoder's memory",
                "keys": "the encoder's keys",
                "feed": "h~<t-1> (the encoder's feed first)",
                **tail,
            },
            "outputs": [
                {"name": "logits", "shape": ["B", "V"], "meaning": "z<t>; softmax for P"},
                {"name": "alpha", "shape": ["B", "T_x"], "meaning": "attention weights"},
                {"name": "feed_next", "shape": ["B", "H"]},
                *nexts,
            ],
        },
    }


def classifier_metadata(
    task: str, model: SequenceClassifier, extras: Mapping[str, Any]
) -> dict[str, Any]:
    """A recipe's classifier: its class names and the pipeline its checkpoint records."""
    frames = model.config.encoder.num_features > 0
    name, meaning = (
        ("frames", "(B, T, D) float32, preprocessed as pipeline says, zero past each length")
        if frames
        else ("ids", "(B, T) int64 ids (see pipeline), padded at the end with 0")
    )
    labels = list(extras.get("classes", []))
    C = model.config.num_classes
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": task,
        "inputs": {name: meaning, "lengths": LENGTHS},
        "outputs": [
            {"name": "logits", "shape": ["B", 1 if model.binary else C]},
            {"name": "probabilities", "shape": ["B", C], "meaning": "one column per label"},
        ],
        "labels": labels,
        "pipeline": {k: v for k, v in extras.items() if k != "classes"},
    }
