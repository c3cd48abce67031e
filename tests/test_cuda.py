"""On a GPU: the fused path (cuDNN) equals the readable loop, and training runs on the device.

Skipped where no CUDA device is present (CI has none); run on a GPU machine with
`pytest tests/test_cuda.py`.
"""

from __future__ import annotations

import pytest
import torch

from rnnkit.cells import LSTMState
from rnnkit.layers import RNN

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("cell", ["rnn", "rnn_relu", "gru", "lstm"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cudnn_equals_reference_on_the_gpu(
    cell: str, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cuDNN rounds float32 products to TF32 by default (about 1e-3 relative error); compare
    # the exact float32 arithmetic.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    torch.manual_seed(0)
    rnn = RNN(cell, 5, 8, num_layers=2, bidirectional=True).to("cuda", dtype)
    x = torch.randn(4, 7, 5, device="cuda", dtype=dtype)
    lengths = torch.tensor([7, 3, 5, 1])
    tol = {"rtol": 1e-9, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    results = []
    for execution in ("reference", "fused"):
        rnn.zero_grad()
        xi = x.clone().requires_grad_(True)
        out, final = rnn(xi, lengths, execution=execution)
        a = final.a if isinstance(final, LSTMState) else final
        (out.sum() + a.pow(2).sum()).backward()
        results.append((out, a, xi.grad, [p.grad.clone() for p in rnn.parameters()]))  # type: ignore[union-attr]
    (o1, a1, g1, p1), (o2, a2, g2, p2) = results
    torch.testing.assert_close(o2, o1, **tol)
    torch.testing.assert_close(a2, a1, **tol)
    torch.testing.assert_close(g2, g1, **tol)
    for u, v in zip(p2, p1):
        torch.testing.assert_close(u, v, **tol)


def test_fit_uses_the_gpu_with_device_auto(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rnnkit.data.batching import make_batch
    from rnnkit.models import EncoderConfig, LanguageModel, LanguageModelConfig
    from rnnkit.train import TrainConfig, fit

    torch.manual_seed(0)
    model = LanguageModel(
        LanguageModelConfig(encoder=EncoderConfig(num_features=6, hidden_size=16))
    )
    frames = [(torch.rand(n, 6) < 0.3).float() for n in (5, 8, 3, 6)]
    batch = make_batch([torch.cat([torch.zeros(1, 6), f[:-1]]) for f in frames], frames)
    result = fit(
        model,
        lambda epoch: [batch],
        lambda: [batch],
        TrainConfig(epochs=3, progress=False),
        out_dir=tmp_path,
    )
    assert next(model.parameters()).device.type == "cuda"
    assert result.history[-1]["dev_loss"] < result.history[0]["dev_loss"]
