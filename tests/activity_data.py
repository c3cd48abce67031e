"""Small sensor data the activity tests write: three clearly separable synthetic activities
over 3 channels, as a .ts file of cases, a long-format CSV, or one CSV recording in which
the activities follow each other; and a tiny UCI HAR folder."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

ACTIVITIES = ("still", "wave", "tilt")
CHANNELS = 3


def signal(kind: str, steps: int, generator: torch.Generator) -> Tensor:
    """(steps, 3): "still" is small noise; "wave" a circle in channels 1-2 (period 8 steps);
    "tilt" channel 3 held at +2."""
    x = 0.1 * torch.randn(steps, CHANNELS, generator=generator)
    phase = float(torch.rand(1, generator=generator)) * 2 * math.pi
    t = torch.arange(steps, dtype=torch.float32)
    if kind == "wave":
        x[:, 0] += 2 * torch.sin(2 * math.pi * t / 8 + phase)
        x[:, 1] += 2 * torch.cos(2 * math.pi * t / 8 + phase)
    elif kind == "tilt":
        x[:, 2] += 2.0
    return x


def write_cases_ts(path: Path, per_class: int = 8, seed: int = 0) -> Path:
    """A .ts file: `per_class` cases of each activity, 16-24 steps each (unequal lengths)."""
    generator = torch.Generator().manual_seed(seed)
    lines = [
        "# synthetic activities",
        "@problemName Synthetic",
        "@timeStamps false",
        "@missing false",
        "@univariate false",
        f"@dimensions {CHANNELS}",
        "@equalLength false",
        f"@classLabel true {' '.join(ACTIVITIES)}",
        "@data",
    ]
    for n in range(per_class):
        for kind in ACTIVITIES:
            x = signal(kind, 16 + (n * 4) % 9, generator)
            channels = ":".join(",".join(f"{v:.4f}" for v in x[:, c]) for c in range(CHANNELS))
            lines.append(f"{channels}:{kind}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_cases_csv(path: Path, kinds: list[str], steps: int = 20, seed: int = 1) -> Path:
    """An unlabelled long-format CSV of cases (case,t,ax,ay,az), one case per kind."""
    generator = torch.Generator().manual_seed(seed)
    rows = ["case,t,ax,ay,az"]
    for n, kind in enumerate(kinds):
        x = signal(kind, steps, generator)
        rows += [f"c{n},{t}," + ",".join(f"{v:.4f}" for v in x[t]) for t in range(steps)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_stream(path: Path, parts: list[tuple[str, int]], seed: int = 2) -> Path:
    """One recording (t,ax,ay,az rows): the activities of `parts` one after the other."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.cat([signal(kind, steps, generator) for kind, steps in parts])
    rows = ["t,ax,ay,az"] + [f"{t}," + ",".join(f"{v:.4f}" for v in x[t]) for t in range(len(x))]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_har(root: Path, split: str = "train", windows: int = 5, steps: int = 8) -> Path:
    """A UCI HAR layout with `windows` windows of `steps` values: channel c of window i holds
    100 c + i + t / 10 at step t; activities 1, 2, 3, 1, 2, ...; subjects 7, 7, 9, 9, ..."""
    (root / split / "Inertial Signals").mkdir(parents=True, exist_ok=True)
    (root / "activity_labels.txt").write_text("1 WALKING\n2 SITTING\n3 LAYING\n")
    (root / split / f"y_{split}.txt").write_text("".join(f"{i % 3 + 1}\n" for i in range(windows)))
    subjects = "".join(f"{7 + 2 * (i // 2)}\n" for i in range(windows))
    (root / split / f"subject_{split}.txt").write_text(subjects)
    names = [f"{s}_{a}" for s in ("body_acc", "body_gyro", "total_acc") for a in "xyz"]
    for c, name in enumerate(names):
        rows = [
            "  " + "  ".join(f"{100 * c + i + t / 10:.6e}" for t in range(steps))
            for i in range(windows)
        ]
        (root / split / "Inertial Signals" / f"{name}_{split}.txt").write_text(
            "\n".join(rows) + "\n"
        )
    return root
