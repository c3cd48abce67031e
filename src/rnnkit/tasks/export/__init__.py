"""Export a trained model to ONNX, with what a caller outside Python needs beside it.

    export_checkpoint("runs/sentiment/best", "model.onnx")   # writes model.onnx, model.json

The ONNX file is the model's graph with dynamic batch and time dimensions (B, T) and the
sequence lengths as an input; the JSON file beside it (same name, `.json`) says which task
it is, the names, dtypes and shapes of the inputs and outputs, the vocabularies and labels,
and how raw text becomes ids (tokenizer rules, lowercasing, truncation). Tasks:

  sentiment  ids (B, T), lengths (B,) -> logits (B, 1), probabilities (B, 2);
  ner        ids (B, T), lengths (B,), chars (B, T, W) -> scores
             (B, T, C): the CRF's emissions, decoded by Viterbi with the transition, start
             and end scores written in the JSON (the procedure is written there too); for
             the softmax tagger, its logits (argmax per word);
  text,      one step of the language model, the state as input and output: x (B, 1) ids
  music      or (B, 1, D) frames, h (L, B, H) [and c for the LSTM] -> logits (B, V | D),
             h_next [, c_next]. For the music models with a within-frame output (NADE),
             the frame's logits before the key-by-key terms: that sampling is not exported;
  translate  two files, OUT.encoder.onnx (src, lengths -> memory, keys, feed, h [, c]) and
             OUT.decoder.onnx (one target position: y_prev, lengths, memory, keys, feed,
             h [, c] -> logits, alpha, and the next feed, h [, c]); greedy decoding loops
             over the decoder outside the graph;
  activity,  their classifiers (a DNA tagger is not exported): ids (B, T) int64 or frames
  dna        (B, T, D) float32, lengths -> logits,
             probabilities; the JSON carries the preprocessing the recipe recorded
             (classes, channels, normalisation, window; encoding, k) as `pipeline`.

How T stays dynamic: PyTorch's fused recurrent kernels, when exported, are decomposed into
one operation per time step of the example input, which fixes T. Exported, rnnkit's
recurrent layers run their readable cell steps inside one `scan` instead (`torch.export`
keeps it as one higher-order operation, ONNX as one `Scan` node), so the graph takes any T.
The export uses `torch.onnx.export(..., dynamo=True)` (PyTorch's default exporter), which
traces with `torch.export`.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.atomic import check_output_path, write_bytes
from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.language_model import LanguageModel
from rnnkit.tasks.export.graphs import (
    ClassifierGraph,
    LanguageModelStep,
    TaggerGraph,
    TranslationDecoderStep,
    TranslationEncoder,
)
from rnnkit.tasks.export.metadata import (
    classifier_metadata,
    language_model_metadata,
    ner_metadata,
    sentiment_metadata,
    translation_metadata,
)
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.loading import load_model

SUPPORTED = ("sentiment", "ner", "text", "music", "translate", "activity", "dna")
INSTALL = "pip install 'rnnkit[export]'"


@dataclass(frozen=True)
class Exported:
    """What `export_graph` returns: the module, example inputs and their dynamic dims."""

    # The graph to export: plain tensors in, plain tensors out.
    module: nn.Module
    # Example inputs, by input name (their values are only used to trace).
    inputs: dict[str, Tensor]
    # For each input, {dimension index: name} of its dynamic dimensions.
    dynamic: dict[str, dict[int, str]]
    # Output names, in the order the module returns them.
    outputs: tuple[str, ...]
    # The JSON written beside the ONNX file.
    metadata: dict[str, Any]


def export_graph(checkpoint: str | Path) -> Exported:
    """The exportable graph of a checkpoint of a supported task (CheckpointError otherwise)."""
    task = load_checkpoint(checkpoint).meta.task
    builders = {
        "sentiment": _sentiment,
        "ner": _ner,
        "text": _language_model,
        "music": _language_model,
        "activity": _classifier,
        "dna": _classifier,
    }
    if task == "translate":
        raise RnnkitError("translation exports two graphs: use export_graphs")
    if task not in builders:
        raise CheckpointError(
            f"checkpoint {checkpoint}: export supports the tasks {', '.join(SUPPORTED)}; this "
            f"one was made by task {task!r}"
        )
    return builders[task](checkpoint, task)


def _sentiment(checkpoint: str | Path, task: str) -> Exported:
    from rnnkit.tasks import sentiment

    loaded = sentiment.load(checkpoint)
    ids = torch.tensor([[2, 3, 4, 5], [6, 7, 0, 0], [8, 0, 0, 0]])
    return Exported(
        ClassifierGraph(loaded.model).eval(),
        {"ids": ids, "lengths": torch.tensor([4, 2, 1])},
        {"ids": {0: "B", 1: "T"}, "lengths": {0: "B"}},
        ("logits", "probabilities"),
        sentiment_metadata(loaded.pipeline, loaded.model),
    )


def _classifier(checkpoint: str | Path, task: str) -> Exported:
    """A task's SequenceClassifier over ids or frames, its preprocessing as the recipe
    recorded it (the checkpoint's extras)."""
    model, meta = load_model(checkpoint, expected_task=task)
    if not isinstance(model, SequenceClassifier):
        raise CheckpointError(
            f"checkpoint {checkpoint}: export takes {task}'s classifiers, not a "
            f"{type(model).__name__}"
        )
    D = model.config.encoder.num_features
    x = torch.tensor([[2, 3, 4], [5, 0, 0]]) if D == 0 else torch.zeros(2, 3, D)
    name = "ids" if D == 0 else "frames"
    return Exported(
        ClassifierGraph(model).eval(),
        {name: x, "lengths": torch.tensor([3, 1])},
        {name: {0: "B", 1: "T"}, "lengths": {0: "B"}},
        ("logits", "probabilities"),
        classifier_metadata(task, model, meta.extras),
    )


def _ner(checkpoint: str | Path, task: str) -> Exported:
    from rnnkit.tasks import ner

    loaded = ner.load(checkpoint)
    model = loaded.model
    if not isinstance(model, TaggerGraph.MODELS):
        raise CheckpointError(f"checkpoint {checkpoint}: cannot export a {type(model).__name__}")
    chars = torch.tensor([[[2, 3, 0], [4, 0, 0], [5, 0, 0]], [[5, 6, 7], [0, 0, 0], [0, 0, 0]]])
    return Exported(
        TaggerGraph(model).eval(),
        {
            "ids": torch.tensor([[2, 3, 4], [4, 0, 0]]),
            "lengths": torch.tensor([3, 1]),
            "chars": chars,
        },
        {"ids": {0: "B", 1: "T"}, "lengths": {0: "B"}, "chars": {0: "B", 1: "T", 2: "W"}},
        ("scores",),
        ner_metadata(loaded.pipeline, model),
    )


def _language_model(checkpoint: str | Path, task: str) -> Exported:
    model, meta = load_model(checkpoint, expected_task=task)
    if not isinstance(model, LanguageModel):
        raise CheckpointError(f"checkpoint {checkpoint}: cannot export a {type(model).__name__}")
    encoder = model.encoder.config
    if encoder.bidirectional:
        raise CheckpointError(f"checkpoint {checkpoint}: a bidirectional model has no step")
    B, L, H = 2, encoder.num_layers, encoder.hidden_size
    x = (
        torch.ones(B, 1, dtype=torch.int64)
        if model.tokens
        else torch.zeros(B, 1, encoder.num_features)
    )
    step = LanguageModelStep(model).eval()
    names = ("h", "c") if step.lstm else ("h",)
    inputs = {"x": x, **{name: torch.zeros(L, B, H) for name in names}}
    dynamic = {"x": {0: "B"}, **{name: {1: "B"} for name in names}}
    outputs = ("logits", *(f"{name}_next" for name in names))
    return Exported(
        step, inputs, dynamic, outputs, language_model_metadata(task, model, meta.extras)
    )


def export_graphs(checkpoint: str | Path) -> tuple[dict[str, Exported], dict[str, Any]]:
    """Every graph of a checkpoint by part name ("" for a task with one graph; "encoder" and
    "decoder" for translation), and the JSON that describes them together."""
    if load_checkpoint(checkpoint).meta.task == "translate":
        return _translate(checkpoint)
    one = export_graph(checkpoint)
    return {"": one}, dict(one.metadata)


def _translate(checkpoint: str | Path) -> tuple[dict[str, Exported], dict[str, Any]]:
    from rnnkit.tasks.translate.inference import load

    loaded = load(checkpoint)
    model, c = loaded.model, loaded.model.config
    if model.decoder.attention is None:
        raise CheckpointError(f"checkpoint {checkpoint}: export needs a model with attention")
    B, L, H, T_x = 2, c.decoder_layers, c.hidden_size, 3
    src, lengths = torch.tensor([[4, 5, 6], [7, 0, 0]]), torch.tensor([3, 1])
    encoder = TranslationEncoder(model).eval()
    with torch.no_grad():
        memory, keys, feed, *state = encoder(src, lengths)
    names = ("h", "c") if c.cell == "lstm" else ("h",)
    state_meta = translation_metadata(loaded.pipeline, model)
    parts = {
        "encoder": Exported(
            encoder,
            {"src": src, "lengths": lengths},
            {"src": {0: "B", 1: "T_x"}, "lengths": {0: "B"}},
            ("memory", "keys", "feed", *names),
            state_meta.pop("encoder"),
        ),
        "decoder": Exported(
            TranslationDecoderStep(model).eval(),
            {
                "y_prev": torch.full((B,), c.bos_id),
                "lengths": lengths,
                "memory": memory,
                "keys": keys,
                "feed": feed,
                **dict(zip(names, state)),
            },
            {
                "y_prev": {0: "B"},
                "lengths": {0: "B"},
                "memory": {0: "B", 1: "T_x"},
                "keys": {0: "B", 1: "T_x"},
                "feed": {0: "B"},
                **{name: {1: "B"} for name in names},
            },
            ("logits", "alpha", "feed_next", *(f"{n}_next" for n in names)),
            state_meta.pop("decoder"),
        ),
    }
    assert L == state[0].shape[0] and H == feed.shape[1] and T_x == memory.shape[1]
    return parts, state_meta


def torch_export(exported: Exported) -> torch.export.ExportedProgram:
    """`torch.export.export` of the graph with its dynamic dimensions declared."""
    args = tuple(exported.inputs.values())
    return torch.export.export(exported.module, args, dynamic_shapes=_dims(exported))


def onnx_bytes(exported: Exported) -> bytes:
    """The graph as a serialised ONNX model (PyTorch's exporter, `dynamo=True`)."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise RnnkitError(f"exporting to ONNX needs the onnx packages: {INSTALL} ({e})") from None
    with warnings.catch_warnings(), _quiet_loggers("torch.onnx", "onnxscript", "onnx_ir"):
        warnings.simplefilter("ignore")  # the exporter's own deprecation notices
        program = torch.onnx.export(
            exported.module,
            tuple(exported.inputs.values()),
            dynamo=True,
            input_names=list(exported.inputs),
            output_names=list(exported.outputs),
            dynamic_shapes=_dims(exported),
            verbose=False,
        )
    assert program is not None
    return bytes(program.model_proto.SerializeToString())


def export_checkpoint(
    checkpoint: str | Path, out: str | Path, overwrite: bool = False
) -> list[Path]:
    """Export the model of `checkpoint` to the ONNX file `out` (translation: `OUT.encoder.onnx`
    and `OUT.decoder.onnx` instead) and write its description to `out` with the suffix
    `.json`; returns the paths written, the JSON last. Both are written atomically; an
    existing file is replaced only with `overwrite`, a file of the checkpoint never."""
    onnx_path = check_output_path(out, "--out")
    json_path = onnx_path.with_suffix(".json")
    if onnx_path.suffix == ".json":
        raise RnnkitError(f"--out {onnx_path}: name the .onnx file; the .json goes beside it")
    source = Path(checkpoint)
    if not source.exists():
        raise CheckpointError(f"checkpoint {checkpoint}: no such directory")
    for path in (onnx_path, json_path):
        if source.is_dir() and path.resolve().parent == source.resolve():
            raise RnnkitError(f"--out {out}: would write into the checkpoint {checkpoint}")
        if path.exists() and not overwrite:
            raise RnnkitError(f"{path} exists; --overwrite replaces it")
    parts, metadata = export_graphs(checkpoint)
    files: dict[str, Path] = {}
    for part in parts:
        files[part] = onnx_path.with_suffix(f".{part}.onnx") if part else onnx_path
        if files[part].exists() and not overwrite:
            raise RnnkitError(f"{files[part]} exists; --overwrite replaces it")
    models = {part: onnx_bytes(exported) for part, exported in parts.items()}
    for part, exported in parts.items():
        spec = {
            "onnx": files[part].name,
            "inputs": _tensor_specs(exported.inputs, exported.dynamic, exported.metadata["inputs"]),
            "outputs": exported.metadata["outputs"],
        }
        if part:
            metadata.setdefault("graphs", {})[part] = spec
        else:
            metadata.update(spec)
    for part, model in models.items():
        write_bytes(files[part], model)
    write_bytes(json_path, (json.dumps(metadata, indent=1, ensure_ascii=False) + "\n").encode())
    return [*files.values(), json_path]


@contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    """Only errors from these loggers meanwhile: the exporter and its optimiser log every
    pass (and a missing torchvision) at INFO and WARNING, which the command line would show."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _dims(exported: Exported) -> tuple[dict[int, Any], ...]:
    """The dynamic dimensions as `torch.export` takes them: one {index: Dim} per input, in
    order; one Dim object per letter, so that every input's B is the same B."""
    dims: dict[str, Any] = {}
    return tuple(
        {i: dims.setdefault(d, torch.export.Dim(d, min=1)) for i, d in axes.items()}
        for axes in (exported.dynamic[name] for name in exported.inputs)
    )


def _tensor_specs(
    inputs: Mapping[str, Tensor],
    dynamic: Mapping[str, Mapping[int, str]],
    meanings: Mapping[str, str],
) -> list[dict[str, Any]]:
    """[{name, dtype, shape (dynamic dims by letter, fixed ones as numbers), meaning}]."""
    specs = []
    for name, x in inputs.items():
        shape = [dynamic[name].get(i, n) for i, n in enumerate(x.shape)]
        dtype = str(x.dtype).removeprefix("torch.")
        specs.append({"name": name, "dtype": dtype, "shape": shape, "meaning": meanings[name]})
    return specs


__all__ = [
    "SUPPORTED",
    "Exported",
    "export_checkpoint",
    "export_graph",
    "export_graphs",
    "onnx_bytes",
    "torch_export",
]
