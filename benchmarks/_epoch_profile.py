"""A profile of one rnnkit training epoch by part, for benchmarks/sentiment_frameworks.py.

The model's parts (embedding, input dropout, recurrent layer, head, the rest of the model) are
marked with profiler ranges from forward hooks; a backward operator is charged to the part
whose forward operator made it (the autograd sequence number); the engine's own operators
(optimiser step, clipping, gradient accumulation) are told apart by name, and what no
operator accounts for is Python between operators (the engine's loop, the model's code, the
profiler's own overhead).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rnnkit.data.batch import Batch
from rnnkit.tasks import sentiment as S
from rnnkit.train.fit import fit

BACKWARD = "autograd::engine::evaluate_function: "


def label_parts(model: S.SequenceClassifier) -> None:
    """Wrap the forward of the model's parts in profiler ranges named "part: ...". Operators
    in the encoder outside its embedding and recurrent layer are its input dropout; those in
    the classifier outside encoder and head are the pooling and the loss."""
    from torch.profiler import record_function

    parts = {
        model: "loss, pooling, output dropout",
        model.encoder: "input dropout",
        model.encoder.embedding: "embedding",
        model.encoder.rnn: "recurrent layer",
        model.head: "head (Dense)",
    }
    ranges: list[Any] = []
    for module, name in parts.items():
        assert module is not None
        module.register_forward_pre_hook(
            lambda m, a, name=name: ranges.append(record_function(f"part: {name}").__enter__())
        )
        module.register_forward_hook(lambda m, a, o: ranges.pop().__exit__(None, None, None))


def engine_part(name: str) -> str:
    """The part of an operator the engine runs outside the model's forward and backward."""
    lower = name.lower()
    if "optimizer" in lower or "adam" in lower:
        return "optimiser (Adam step, zero_grad)"
    if "norm" in lower or "clip" in lower or "foreach" in lower:
        return "gradient clipping"
    if "accumulategrad" in lower:
        return "gradient accumulation (backward)"
    return "engine: other operators (batch to device, loss sums)"


def attribute(events: Any) -> dict[tuple[str, str], float]:
    """Self CPU ms of every operator by (part, "forward" / "backward" / ""): forward operators
    by their innermost "part:" range, backward ones by the forward operator that made them
    (their sequence number), the rest by `engine_part`."""

    def top(event: Any) -> Any:
        while event.cpu_parent is not None:
            event = event.cpu_parent
        return event

    def part_range(event: Any) -> str | None:
        while event is not None and not event.name.startswith("part: "):
            event = event.cpu_parent
        return None if event is None else str(event.name[len("part: ") :])

    forward: dict[int, str] = {}
    for event in events:
        part = part_range(event)
        if part is not None and event.sequence_nr >= 0:
            forward.setdefault(event.sequence_nr, part)
    ms: dict[tuple[str, str], float] = {}
    for event in events:
        part, phase = part_range(event), "forward"
        if part is None:
            root = top(event)
            part = forward.get(root.sequence_nr) if root.name.startswith(BACKWARD) else None
            part, phase = (part, "backward") if part else (engine_part(root.name), "")
        key = (part, phase)
        ms[key] = ms.get(key, 0.0) + event.self_cpu_time_total / 1e3
    return ms


def profile_epoch(
    config: S.SentimentConfig, batches: Sequence[Batch], batching_seconds: float
) -> tuple[list[list[str]], str]:
    """One rnnkit epoch under torch.profiler: rows (part, forward ms, backward ms, % of the
    wall time) and the operator table."""
    from torch.profiler import ProfilerActivity, profile

    model = S.build_model(config)
    label_parts(model)
    train = replace(config.train, epochs=1, out_dir=None, progress=False, device="cpu")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        fit(model, lambda epoch: batches, None, train)
        wall = (time.perf_counter() - start) * 1e3
    ms = attribute(prof.events())
    outside = wall - sum(ms.values())
    ms[("Python between operators (engine, profiler)", "")] = outside
    ms[("batching (train_batches(epoch), before fit's clock)", "")] = batching_seconds * 1e3
    total = wall + batching_seconds * 1e3
    by_part: dict[str, dict[str, float]] = {}
    for (part, phase), value in ms.items():
        by_part.setdefault(part, {}).setdefault(phase, 0.0)
        by_part[part][phase] += value
    rows = []
    for part, phases in sorted(by_part.items(), key=lambda kv: -sum(kv[1].values())):
        fwd, bwd = phases.get("forward"), phases.get("backward")
        rows.append(
            [
                part,
                "" if fwd is None else f"{fwd:.0f}",
                "" if bwd is None else f"{bwd:.0f}",
                f"{sum(phases.values()):.0f}",
                f"{100 * sum(phases.values()) / total:.1f}",
            ]
        )
    rows.append(["total (wall, profiler on)", "", "", f"{total:.0f}", "100.0"])
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)
    return rows, table


PROFILE_HEADER = ["part", "forward ms", "backward ms", "ms", "%"]
