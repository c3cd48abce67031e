"""The Keras 3 (TensorFlow backend) side of benchmarks/sentiment_frameworks.py.

Runs in the benchmark's own virtual environment (TensorFlow is never a dependency of rnnkit),
so it imports neither torch nor rnnkit:

    .keras-venv/bin/python benchmarks/_keras_sentiment.py DATA.npz SPEC.json

DATA.npz holds the batches the torch side trains on, in its order: `ids` (N, T_max) int32
padded at the end, `lengths` (N,), `labels` (N,) 0/1 and `starts` (batches + 1,), the first
row of each batch. Each batch is cut to its own longest review, as the torch side's is.

SPEC.json: {"cell": "rnn" | "lstm", "vocab_size", "embedding_dim", "hidden_size",
"bidirectional", "input_dropout", "output_dropout", "lr", "clip_norm", "epochs", "threads",
"jit_compile": "auto" | true | false, "padding": "pre" | "post"}.

The model is the three layers Embedding -> SimpleRNN / Bidirectional(LSTM) -> Dense(1) (with
the dropouts of the preset); Adam with a global gradient-norm clip, binary cross-entropy on
the logit, no metrics besides the loss. "pre" padding (the lecture's Keras code) puts each
review's last word on the last step, so the layer's final state is read there without a mask;
"post" padding uses mask_zero=True, so that Keras skips the padded steps as rnnkit does (the
backward direction of a bidirectional layer needs that).

Prints one JSON line: {"epoch_seconds": [...], "jit_compile": resolved, "versions": {...}}.
The first epoch includes tracing (and XLA compilation, one per distinct batch shape).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from typing import Any

import numpy as np


def batches(data: Any, padding: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The torch side's batches, each (B, T_b) ids padded as `padding` says, and (B,) labels."""
    ids, lengths, labels, starts = data["ids"], data["lengths"], data["labels"], data["starts"]
    out = []
    for begin, end in itertools.pairwise(starts):
        rows, n = ids[begin:end], lengths[begin:end]
        T = int(n.max())
        x = np.zeros((end - begin, T), dtype=np.int32)  # (B, T)
        for b, length in enumerate(n):
            if padding == "pre":
                x[b, T - length :] = rows[b, :length]
            else:
                x[b, :length] = rows[b, :length]
        out.append((x, labels[begin:end].astype(np.float32)))
    return out


def build_model(keras: Any, spec: dict[str, Any]) -> Any:
    """Embedding -> dropout -> SimpleRNN(H) or Bidirectional(LSTM(H)) -> dropout -> Dense(1)."""
    layers = keras.layers
    masked = spec["padding"] == "post"
    H = spec["hidden_size"]
    recurrent = layers.SimpleRNN(H) if spec["cell"] == "rnn" else layers.LSTM(H)
    if spec["bidirectional"]:
        recurrent = layers.Bidirectional(recurrent)
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            layers.Embedding(spec["vocab_size"], spec["embedding_dim"], mask_zero=masked),
            layers.Dropout(spec["input_dropout"]),
            recurrent,
            layers.Dropout(spec["output_dropout"]),
            layers.Dense(1),
        ]
    )
    optimizer = keras.optimizers.Adam(learning_rate=spec["lr"], global_clipnorm=spec["clip_norm"])
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        jit_compile=spec["jit_compile"],
    )
    return model


def main() -> int:
    data_path, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(spec["threads"])
    import keras

    keras.utils.set_random_seed(0)
    with np.load(data_path) as data:
        pairs = batches(data, spec["padding"])
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(pairs),
        output_signature=(
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None,), tf.float32),
        ),
    ).apply(tf.data.experimental.assert_cardinality(len(pairs)))
    model = build_model(keras, spec)
    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            seconds.append(time.perf_counter() - self.start)

    model.fit(dataset, epochs=spec["epochs"], verbose=0, callbacks=[EpochTimer()])
    result = {
        "epoch_seconds": seconds,
        "jit_compile": bool(model.jit_compile),
        "batches": len(pairs),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
