"""`rnnkit diagnose` on a saved model: gradient norms through time equal a direct computation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnkit.cli import build_parser, main
from rnnkit.models import EncoderConfig, LanguageModel, LanguageModelConfig
from rnnkit.models.registry import describe_model
from rnnkit.train import CheckpointMeta, save_checkpoint


def test_diagnose_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    config = LanguageModelConfig(encoder=EncoderConfig(num_features=6, cell="rnn", hidden_size=8))
    model = LanguageModel(config)
    save_checkpoint(
        tmp_path / "ckpt",
        model,
        meta=CheckpointMeta(task="music", model_config=describe_model(model)),
    )
    out = tmp_path / "diag"
    args = [
        "diagnose",
        "--checkpoint",
        str(tmp_path / "ckpt"),
        "--out",
        str(out),
        "--steps",
        "12",
        "--batch-size",
        "3",
    ]
    assert main(args) == 0
    assert "||dL/da<T-10>||" in capsys.readouterr().out
    result = json.loads((out / "gradients.json").read_text())
    assert (out / "gradients.png").read_bytes()[:4] == b"\x89PNG"

    # direct: the same random inputs, the loss v . a<T> with the lab's unit vector, autograd on
    # each a<t>
    rnn = model.encoder.rnn.double()
    x = torch.randn(3, 12, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    cell = rnn.cells[0]
    a = cell.initial_state(3, like=x)
    states = []
    for t in range(12):
        a = cell.step(x[:, t], a.detach().requires_grad_(True)) if t == 0 else cell.step(x[:, t], a)
        a.retain_grad()
        states.append(a)
    from rnnkit.diagnose import unit_vector_head

    head = unit_vector_head(8)
    head(states[-1]).sum().backward()
    grads = [s.grad for s in reversed(states)]
    direct = [float(g.norm(dim=-1).mean()) for g in grads if g is not None]
    assert result["norm_by_distance"] == pytest.approx(direct, rel=1e-9)
    assert result["norm_by_distance"][0] == pytest.approx(1.0)


def test_diagnose_batch_size_keeps_its_old_spelling() -> None:
    parse = build_parser().parse_args
    assert parse(["diagnose", "--batch", "5"]).batch_size == 5
    assert parse(["diagnose", "--batch-size", "7"]).batch_size == 7
    assert parse(["diagnose"]).batch_size == 16


def test_diagnose_rejects_a_missing_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["diagnose", "--checkpoint", str(tmp_path / "nothing"), "--out", str(tmp_path)]) == 1
    )
    assert capsys.readouterr().err.startswith("rnnkit: error:")
