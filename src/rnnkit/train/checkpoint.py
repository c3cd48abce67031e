"""Checkpoints: a directory of safetensors and JSON, written atomically, validated on load.

Layout of a checkpoint directory (e.g. `out_dir/last`, `out_dir/best`):

    model.safetensors      the model's state_dict (tied tensors stored once, see "aliases")
    optimizer.safetensors  training-state tensors, keys are paths: "optimizer.state.0.exp_avg",
                           "scheduler....", "average.average.<param>" (the weight
                           average, when kept), "rng.<rank>.torch_cpu" (torch's CPU generator state
                           as uint8), "rng.<rank>.cuda"; absent in weights-only checkpoints
    checkpoint.json        everything else: format version, task name, model and train configs,
                           caller extras (vocabularies...), epoch, global step, metrics history,
                           best metric, the engine's early-stopping state, the non-tensor parts
                           of the optimizer / scheduler state (with {"__tensor__": key}
                           placeholders), Python's and NumPy's RNG states, and the size and
                           SHA-256 of every file plus a SHA-256 of its own content.

Nothing is ever unpickled: tensors come from safetensors, the rest from JSON (the split of a
state_dict into the two is `rnnkit.train.state_tree`, that of the RNG states `rnnkit.train.rng`).

Atomic replacement. `save_checkpoint(path)` writes every file into the sibling `.NAME.tmp`,
fsyncs the files and the directory, then swaps:

    1. rename path -> .NAME.old     (the previous checkpoint, if any)
    2. rename .NAME.tmp -> path
    3. fsync the parent, remove .NAME.old

A crash before step 1 leaves `path` untouched (a stale .tmp is removed by the next save); a
crash between 1 and 2 leaves no `path` but a complete `.NAME.old`, which `load_checkpoint`
falls back to; a crash after 2 leaves the new checkpoint. At every instant a complete
checkpoint is loadable.

Validation on load: a missing directory or file, a size or checksum mismatch (truncation,
flipped bytes, hand edits), unreadable JSON or safetensors, a checkpoint made for another task,
model tensors with NaN or inf values or of a dtype no weight has, and tensors whose names,
shapes or dtypes do not fit the model each raise `CheckpointError` with a
one-line message naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import safetensors.torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.train.model_state import check_model_state, check_tensor_values
from rnnkit.train.rng import RngState, rng_from_json, rng_to_json
from rnnkit.train.state_tree import join_tensors, split_tensors

FORMAT = "rnnkit-checkpoint"
FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
STATE_FILE = "optimizer.safetensors"
META_FILE = "checkpoint.json"


class Stateful(Protocol):
    """An optimizer or LR scheduler: anything with state_dict() / load_state_dict()."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class CheckpointMeta:
    """Everything in a checkpoint except the model and optimizer tensors."""

    task: str | None = None  # the task recipe that made it ("text", "music", ...)
    model_config: dict[str, Any] = field(default_factory=dict)  # to rebuild the model
    train_config: dict[str, Any] = field(default_factory=dict)  # to_dict(TrainConfig)
    extras: dict[str, Any] = field(default_factory=dict)  # caller data: vocabularies, label sets
    epoch: int = 0  # completed epochs
    global_step: int = 0  # optimiser steps taken
    history: list[dict[str, Any]] = field(default_factory=list)  # one record per epoch
    best_metric: float | None = None  # best dev metric so far
    best_epoch: int | None = None  # epoch (1-based) that reached it
    train_state: dict[str, Any] = field(default_factory=dict)  # the engine's resumable state
    rng: list[RngState] = field(default_factory=list)  # one per rank, empty for weights-only


@dataclass
class LoadedCheckpoint:
    """A validated checkpoint in memory (tensors on CPU)."""

    path: Path  # the directory actually read (the .old fallback after a crash)
    meta: CheckpointMeta
    model_state: dict[str, Tensor]
    optimizer_state: dict[str, Any] | None
    scheduler_state: dict[str, Any] | None
    average_state: dict[str, Any] | None = None  # the weight average, when the run kept one
    # The state a stateful model carries between batches, one per rank (see rnnkit.train.carry)
    carry_state: list[dict[str, Tensor]] | None = None

    def restore(
        self,
        model: nn.Module,
        optimizer: Stateful | None = None,
        scheduler: Stateful | None = None,
        average: Stateful | None = None,
    ) -> None:
        """Load the weights (checked against the model) and optionally the optimizer, scheduler
        and weight-average states."""
        model = unwrap_model(model)
        check_model_state(model, self.model_state, self.path)
        model.load_state_dict(self.model_state)
        for name, target, state in (
            ("optimizer", optimizer, self.optimizer_state),
            ("scheduler", scheduler, self.scheduler_state),
            ("weight average", average, self.average_state),
        ):
            if target is None:
                continue
            if state is None:
                raise CheckpointError(
                    f"checkpoint {self.path} holds no {name} state (weights only); "
                    "resume from a 'last' checkpoint"
                )
            try:
                target.load_state_dict(state)
            except (ValueError, KeyError, RuntimeError, TypeError) as e:
                raise CheckpointError(
                    f"checkpoint {self.path}: its {name} state does not fit this {name}: {e}"
                ) from e


# ---------------------------------------------------------------------------------------------
# saving


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: Stateful | None = None,
    scheduler: Stateful | None = None,
    meta: CheckpointMeta | None = None,
    average: Stateful | None = None,
    carry: list[dict[str, Tensor]] | None = None,
) -> Path:
    """Write a checkpoint directory at `path` atomically (see the module docstring).

    `model` may be wrapped in DistributedDataParallel (its inner module is saved). Without an
    optimizer, scheduler and RNG states the checkpoint is weights-only (no optimizer file).
    `carry`: the state a stateful model carries between batches, per rank (mid-epoch saves).
    Returns the path.
    """
    path = Path(path)
    meta = meta if meta is not None else CheckpointMeta()
    model_tensors, aliases = _model_tensors(unwrap_model(model))
    state_tensors: dict[str, Tensor] = {}
    body: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": meta.task,
        "model_config": _json_section("model_config", meta.model_config),
        "train_config": _json_section("train_config", meta.train_config),
        "extras": _json_section("extras", meta.extras),
        "epoch": int(meta.epoch),
        "global_step": int(meta.global_step),
        "best_metric": meta.best_metric,
        "best_epoch": meta.best_epoch,
        "history": _json_section("history", meta.history),
        "train_state": _json_section("train_state", meta.train_state),
        "aliases": aliases,
        "optimizer": None
        if optimizer is None
        else split_tensors(optimizer.state_dict(), "optimizer", state_tensors),
        "scheduler": None
        if scheduler is None
        else split_tensors(scheduler.state_dict(), "scheduler", state_tensors),
        "average": None
        if average is None
        else split_tensors(average.state_dict(), "average", state_tensors),
        "rng": [rng_to_json(r, rank, state_tensors) for rank, r in enumerate(meta.rng)],
    }
    if carry is not None:
        body["carry"] = split_tensors(carry, "carry", state_tensors)
    blobs = {MODEL_FILE: safetensors.torch.save(model_tensors)}
    if state_tensors:
        blobs[STATE_FILE] = safetensors.torch.save(state_tensors)
    body["files"] = {
        name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in blobs.items()
    }
    body["sha256"] = _json_digest(body)
    blobs[META_FILE] = (json.dumps(body, indent=1) + "\n").encode("utf-8")
    _atomic_write_dir(path, blobs)
    return path


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside torch.compile's wrapper and DistributedDataParallel (the model itself
    otherwise)."""
    model = getattr(model, "_orig_mod", model)
    return model.module if isinstance(model, DistributedDataParallel) else model


def _model_tensors(model: nn.Module) -> tuple[dict[str, Tensor], dict[str, str]]:
    """CPU copies of the state_dict; a tensor that is another one (tied weights) is an alias."""
    tensors: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[Any, ...], str] = {}
    for name, t in model.state_dict().items():
        if not isinstance(t, Tensor):
            raise RnnkitError(
                f"cannot checkpoint state_dict entry {name!r} of type {type(t).__name__}: "
                "only tensors are stored"
            )
        t = t.detach()
        if t.numel() > 0:
            key = (
                t.device,
                t.untyped_storage().data_ptr(),
                t.storage_offset(),
                tuple(t.shape),
                tuple(t.stride()),
                t.dtype,
            )
            if key in seen:
                aliases[name] = seen[key]
                continue
            seen[key] = name
        tensors[name] = t.to("cpu", copy=True).contiguous()
    return tensors, aliases


def _json_section(name: str, value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as e:
        raise RnnkitError(f"checkpoint {name} must be JSON-serialisable: {e}") from e
    return value


def _json_digest(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _write_file(path: Path, data: bytes) -> None:
    """Write and fsync one file (a separate function so tests can simulate a crash here)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Persist a directory's entries (renames); not supported everywhere, e.g. Windows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _siblings(path: Path) -> tuple[Path, Path]:
    return path.parent / f".{path.name}.tmp", path.parent / f".{path.name}.old"


def _atomic_write_dir(final: Path, files: Mapping[str, bytes]) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = _siblings(final)
    if tmp.exists():  # left by a crash during an earlier save
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        for name, data in files.items():
            _write_file(tmp / name, data)
        _fsync_dir(tmp)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    # If `final` was missing but `old` exists, an earlier save crashed between its renames:
    # `old` is the last good checkpoint and stays until the new one is in place.
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# loading


def checkpoint_exists(path: str | Path) -> bool:
    """Whether `load_checkpoint(path)` has something to read (the .old fallback included)."""
    path = Path(path)
    return (path / META_FILE).is_file() or (_siblings(path)[1] / META_FILE).is_file()


def load_checkpoint(path: str | Path, expected_task: str | None = None) -> LoadedCheckpoint:
    """Read and validate a checkpoint directory; tensors are loaded on CPU.

    With `expected_task`, a checkpoint made for another task is rejected. When `path` is
    missing but a save crashed halfway (see the module docstring), the previous checkpoint
    `.NAME.old` is read instead.
    """
    directory = _resolve(Path(path))
    meta_path = directory / META_FILE
    body = _read_body(meta_path, directory)
    task = body.get("task")
    if expected_task is not None and task != expected_task:
        made_for = "no task" if task is None else f"task {task!r}"
        raise CheckpointError(
            f"checkpoint {directory} was made for {made_for}, not {expected_task!r}"
        )
    try:
        return _from_body(body, directory)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{meta_path}: malformed ({type(e).__name__}: {e})") from e


def checkpoint_extras(path: str | Path, expected_task: str | None = None) -> dict[str, Any]:
    """The caller extras of a checkpoint (vocabularies, configs), read and validated like
    `load_checkpoint` does, without reading its tensors."""
    directory = _resolve(Path(path))
    body = _read_body(directory / META_FILE, directory)
    if expected_task is not None and body.get("task") != expected_task:
        raise CheckpointError(f"checkpoint {directory} was not made for {expected_task!r}")
    extras = body.get("extras")
    if not isinstance(extras, dict):
        raise CheckpointError(f"{directory / META_FILE}: malformed (no extras object)")
    return extras


def _read_body(meta_path: Path, directory: Path) -> dict[str, Any]:
    """checkpoint.json, checked to be an rnnkit checkpoint this version reads, unedited (its
    "sha256" matches, and is removed)."""
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path}: missing; {directory} is not a complete checkpoint")
    try:
        body = json.loads(meta_path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CheckpointError(
            f"{meta_path}: not UTF-8 text ({e.reason}); the file is corrupt"
        ) from e
    except json.JSONDecodeError as e:
        raise CheckpointError(
            f"{meta_path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno}); "
            "the file is truncated or corrupt"
        ) from e
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise CheckpointError(f'{meta_path}: not an rnnkit checkpoint (no "format": "{FORMAT}")')
    version = body.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{meta_path}: format version {version!r} is newer than this rnnkit reads "
            f"({FORMAT_VERSION}); upgrade rnnkit"
        )
    digest = body.pop("sha256", None)
    if digest != _json_digest(body):
        raise CheckpointError(
            f"{meta_path}: content does not match its checksum; the file was edited or damaged"
        )
    return body


def _from_body(body: Mapping[str, Any], directory: Path) -> LoadedCheckpoint:
    """The checkpoint that a validated checkpoint.json describes, its tensor files verified.
    A missing key or a value of the wrong type raises KeyError, TypeError or ValueError."""
    files = body["files"]
    model_state = _read_model_state(directory, files, body)
    state_path = directory / STATE_FILE
    state_tensors: dict[str, Tensor] = {}
    if STATE_FILE in files:
        state_tensors = _read_tensors(state_path, files[STATE_FILE])
    meta = CheckpointMeta(
        task=body.get("task"),
        model_config=body["model_config"],
        train_config=body["train_config"],
        extras=body["extras"],
        epoch=body["epoch"],
        global_step=body["global_step"],
        history=body["history"],
        best_metric=body["best_metric"],
        best_epoch=body["best_epoch"],
        train_state=body["train_state"],
        rng=[rng_from_json(r, state_tensors, state_path) for r in body["rng"]],
    )
    sections = [
        body["optimizer"],
        body["scheduler"],
        body.get("average"),  # absent from checkpoints of rnnkit <= 0.1
        body.get("carry"),  # only in mid-epoch saves of stateful models
    ]
    optimizer, scheduler, average, carry = (
        None if s is None else join_tensors(s, state_tensors, state_path) for s in sections
    )
    return LoadedCheckpoint(
        path=directory,
        meta=meta,
        model_state=model_state,
        optimizer_state=optimizer,
        scheduler_state=scheduler,
        average_state=average,
        carry_state=carry,
    )


def _read_model_state(
    directory: Path, files: Mapping[str, Any], body: Mapping[str, Any]
) -> dict[str, Tensor]:
    """The verified model tensors, tied ones (body["aliases"]: name -> stored name) filled in."""
    if MODEL_FILE not in files:
        raise CheckpointError(f"{directory / META_FILE}: lists no {MODEL_FILE}")
    model_state = _read_tensors(directory / MODEL_FILE, files[MODEL_FILE])
    check_tensor_values(model_state, directory / MODEL_FILE)
    for name, target in body["aliases"].items():
        if target not in model_state:
            raise CheckpointError(f"{directory / MODEL_FILE}: tied tensor {target!r} is missing")
        model_state[name] = model_state[target]
    return model_state


def load_model_weights(
    model: nn.Module, path: str | Path, expected_task: str | None = None
) -> CheckpointMeta:
    """Load a checkpoint's weights into `model` (checked name by name and shape by shape)."""
    loaded = load_checkpoint(path, expected_task)
    loaded.restore(model)
    return loaded.meta


def _resolve(path: Path) -> Path:
    if path.is_file():  # a file inside the checkpoint was given
        path = path.parent
    if path.is_dir():
        return path
    old = _siblings(path)[1]
    if (old / META_FILE).is_file():
        return old
    raise CheckpointError(f"checkpoint {path} not found: no such directory")


def _read_tensors(path: Path, expected: Mapping[str, Any]) -> dict[str, Tensor]:
    """A safetensors file, after checking its size and SHA-256 against `expected` (its entry in
    checkpoint.json's "files")."""
    if not path.is_file():
        raise CheckpointError(f"{path}: missing, but {META_FILE} lists it")
    data = path.read_bytes()
    if len(data) != expected["bytes"]:
        raise CheckpointError(
            f"{path}: {len(data)} bytes, expected {expected['bytes']}; the file is truncated "
            "or was replaced"
        )
    if hashlib.sha256(data).hexdigest() != expected["sha256"]:
        raise CheckpointError(f"{path}: SHA-256 mismatch; the file is corrupt (bytes changed)")
    try:
        return dict(safetensors.torch.load(data))
    except Exception as e:  # safetensors raises its own SafetensorError
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
