"""On a GPU: the fused path (cuDNN) equals the readable loop, and training runs on the device;
each layer's weights are one cuDNN buffer (no copy, no warning) through moves, loads, resumes,
the weight average and DDP; fp16 and bf16 train like float32; a compiled model equals eager.

Skipped where no CUDA device is present (CI has none); run on a GPU machine with
`pytest tests/test_cuda.py`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace

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


def _one_buffer(rnn: RNN) -> bool:
    """Every layer's kernel weights are views into one storage, in cuDNN's order."""
    dirs = rnn.num_directions
    for layer in range(rnn.num_layers):
        cells = rnn.cells[layer * dirs : (layer + 1) * dirs]
        weights = [w for c in cells for w in c.fused_weights()]  # type: ignore[operator]
        if len({w.untyped_storage().data_ptr() for w in weights}) != 1:
            return False
        offsets = [w.storage_offset() for w in weights]
        if offsets != sorted(offsets):
            return False
    return True


def _no_copy_warning(rnn: RNN, lengths: torch.Tensor | None = None) -> None:
    """A fused forward and backward with every warning an error: cuDNN warns when it has to
    copy weights that are "not part of single contiguous chunk of memory"."""
    x = torch.randn(3, 6, rnn.input_size, device="cuda", dtype=next(rnn.parameters()).dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = rnn(x, lengths, execution="fused")
        out.sum().backward()


@pytest.mark.parametrize("cell", ["rnn", "rnn_relu", "gru", "lstm"])
def test_the_weights_are_one_cudnn_buffer_through_moves_and_loads(cell: str) -> None:
    torch.manual_seed(0)
    rnn = RNN(cell, 5, 8, num_layers=2, bidirectional=True)
    saved = {k: v.clone() for k, v in rnn.state_dict().items()}
    rnn = rnn.cuda()
    assert _one_buffer(rnn)
    _no_copy_warning(rnn)
    _no_copy_warning(rnn, torch.tensor([6, 2, 4]))  # packed on the GPU
    rnn.load_state_dict(saved)  # in place: still one buffer, with the loaded values
    assert _one_buffer(rnn)
    for k, v in rnn.state_dict().items():
        torch.testing.assert_close(v.cpu(), saved[k])
    rnn = rnn.cpu().to("cuda", torch.float64)  # new memory twice: flattened again
    assert _one_buffer(rnn)
    _no_copy_warning(rnn)


def test_resumed_and_averaged_training_keeps_one_buffer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rnnkit.data.batching import make_batch
    from rnnkit.models import EncoderConfig, LanguageModel, LanguageModelConfig
    from rnnkit.train import TrainConfig, fit

    def model() -> LanguageModel:
        torch.manual_seed(0)
        config = EncoderConfig(num_features=6, hidden_size=16, cell="lstm", num_layers=2)
        return LanguageModel(LanguageModelConfig(encoder=config))

    frames = [(torch.rand(n, 6) < 0.3).float() for n in (5, 8, 3, 6)]
    batch = make_batch([torch.cat([torch.zeros(1, 6), f[:-1]]) for f in frames], frames)
    config = TrainConfig(epochs=2, progress=False, device="cuda", ema_decay=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        first = model()
        fit(first, lambda e: [batch], lambda: [batch], config, out_dir=tmp_path)
        assert _one_buffer(first.encoder.rnn)
        again = model()
        fit(again, lambda e: [batch], lambda: [batch], replace(config, epochs=3),
            out_dir=tmp_path, resume=True)  # fmt: skip
        assert _one_buffer(again.encoder.rnn)


def test_a_single_rank_ddp_step_keeps_one_buffer() -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    port = 29000 + os.getpid() % 1000
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        rnn = RNN("lstm", 5, 8, bidirectional=True).cuda()
        net = DistributedDataParallel(rnn, device_ids=[0])
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            out, _ = net(torch.randn(3, 6, 5, device="cuda"))
            out.sum().backward()
        assert _one_buffer(rnn)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_mixed_precision_trains_like_float32_on_the_gpu(precision: str) -> None:
    from rnnkit.data.batching import make_batch
    from rnnkit.models import EncoderConfig, LanguageModel, LanguageModelConfig
    from rnnkit.train import TrainConfig, fit

    frames = [(torch.rand(n, 6, generator=torch.Generator().manual_seed(n)) < 0.3).float()
              for n in (5, 8, 3, 6)]  # fmt: skip
    batch = make_batch([torch.cat([torch.zeros(1, 6), f[:-1]]) for f in frames], frames)
    config = TrainConfig(epochs=40, lr=0.01, progress=False, device="cuda", seed=0)
    final = {}
    for p in ("fp32", precision):
        torch.manual_seed(0)
        model = LanguageModel(
            LanguageModelConfig(encoder=EncoderConfig(num_features=6, hidden_size=16))
        )
        result = fit(model, lambda e: [batch], lambda: [batch], replace(config, precision=p))
        final[p] = result.history[-1]["dev_loss"]
        assert final[p] < 0.9 * result.history[0]["dev_loss"]
    assert final[precision] == pytest.approx(final["fp32"], rel=0.05)


def test_compiled_model_equals_eager_on_the_gpu() -> None:
    from rnnkit.data.batching import make_batch
    from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
    from rnnkit.models.encoder import EncoderConfig

    torch.manual_seed(0)
    encoder = EncoderConfig(vocab_size=30, embedding_dim=6, cell="lstm", hidden_size=5,
                            bidirectional=True)  # fmt: skip
    model = SequenceClassifier(ClassifierConfig(encoder, num_classes=2)).cuda()
    seqs = [torch.randint(1, 30, (n,)) for n in (5, 3, 7, 2)]
    batch = make_batch(seqs, torch.tensor([0, 1, 1, 0])).to("cuda")
    want = model(batch).logits
    got = torch.compile(model, fullgraph=True)(batch).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
