"""Batched sampling: N draws at once follow the model's distribution (checked against the exact
probabilities within binomial tolerances), row i continues its own prime, the keys given in
`fixed` hold in every row, a seed reproduces all N, and `generate text|music --samples N`."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from test_music_harmony import chorale_model
from test_music_task import TINY as MUSIC_TINY
from test_music_task import write_jsb
from test_nade import frame_probabilities, nade_model
from test_text_task import TINY as TEXT_TINY
from test_text_task import TINY_TEXT

from rnnkit.cli import main
from rnnkit.data.melody import parse_melody, top_voice
from rnnkit.errors import RnnkitError
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.tasks import text
from rnnkit.tasks.harmony import harmonisations


def token_model(cell: str = "lstm", V: int = 4, H: int = 5) -> LanguageModel:
    torch.manual_seed(0)
    enc = EncoderConfig(vocab_size=V, embedding_dim=3, cell=cell, hidden_size=H)
    model = LanguageModel(LanguageModelConfig(encoder=enc)).double().eval()
    with torch.no_grad():  # away from the small initial values: a peaked distribution
        for p in model.parameters():
            p.normal_()
    return model


def within(seen: float, p: float, n: int) -> bool:
    """A frequency within 4 standard errors of a binomial count of probability p."""
    return abs(seen - p) <= 4 * (p * (1 - p) / n) ** 0.5 + 1e-3


def next_probs(model: LanguageModel, prefix: list[int]) -> torch.Tensor:
    with torch.no_grad():
        logits, _ = model.run(torch.tensor([prefix]))
    return torch.softmax(logits[0, -1], -1)  # (V,)


def test_batched_tokens_follow_the_two_step_distribution_with_the_state_carried() -> None:
    model, n = token_model(), 20000
    draws = model.generate_batch(
        2, [torch.tensor([1])] * n, generator=torch.Generator().manual_seed(0)
    )
    assert draws.shape == (n, 2)
    first = next_probs(model, [1])
    for a, b in itertools.product(range(4), repeat=2):  # P(a, b) = P(a) P(b | a)
        p = float(first[a] * next_probs(model, [1, a])[b])
        seen = float(((draws[:, 0] == a) & (draws[:, 1] == b)).double().mean())
        assert within(seen, p, n), (a, b, seen, p)


def test_batched_top_k_and_temperature_reshape_each_rows_distribution() -> None:
    model, n = token_model(V=6), 20000
    gen = torch.Generator().manual_seed(1)
    draws = model.generate_batch(1, [torch.tensor([1])] * n, 0.7, 3, gen)[:, 0]
    with torch.no_grad():
        z = model.run(torch.tensor([[1]]))[0][0, -1] / 0.7
    top = z.topk(3).indices
    exact = torch.zeros(6, dtype=torch.float64)
    exact[top] = torch.softmax(z[top], -1)
    for token in range(6):
        seen = float((draws == token).double().mean())
        assert within(seen, float(exact[token]), n), (token, seen, float(exact[token]))


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_batched_frames_follow_the_nade_likelihood(order: str) -> None:
    D, n = 3, 12000
    model = nade_model(D, order)
    exact = frame_probabilities(model, D)
    start = torch.zeros(1, D, dtype=torch.float64)
    draws = model.generate_batch(1, [start] * n, generator=torch.Generator().manual_seed(0))[:, 0]
    for f, p in exact.items():
        seen = float((draws == torch.tensor(f, dtype=torch.float64)).all(-1).double().mean())
        assert within(seen, p, n), (f, seen, p)


def test_per_row_given_keys_hold_and_the_rest_follow_each_rows_conditional() -> None:
    D, n = 4, 12000
    model = nade_model(D, "descending")
    exact = frame_probabilities(model, D)
    # rows of the first half: key 3 sounds, key 2 silent; second half: the other way round
    tops = [(0.0, 1.0), (1.0, 0.0)]
    fixed = torch.full((n, 1, D), float("nan"), dtype=torch.float64)
    for half, top in enumerate(tops):
        fixed[half * n // 2 : (half + 1) * n // 2, 0, 2:] = torch.tensor(top)
    start = torch.zeros(1, D, dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    draws = model.generate_batch(1, [start] * n, generator=gen, fixed=fixed)[:, 0]  # (n, D)
    for half, top in enumerate(tops):
        rows = draws[half * n // 2 : (half + 1) * n // 2]
        assert torch.all(rows[:, 2:] == torch.tensor(top, dtype=torch.float64)), "clamped"
        matching = {f: p for f, p in exact.items() if f[2:] == top}
        norm = sum(matching.values())
        for f, p in matching.items():
            q = p / norm  # P(lower keys | top keys), by Bayes from the joint
            seen = float((rows == torch.tensor(f, dtype=torch.float64)).all(-1).double().mean())
            assert within(seen, q, n // 2), (f, seen, q)


def test_the_melody_is_the_top_voice_of_every_row_of_a_batch() -> None:
    model = chorale_model()
    melody = parse_melody("G4 G4 A4 B4:2 r D5 C5 B4 A4:2 G4")
    pieces = harmonisations(model, melody, top_k=4, seed=3, samples=8)
    assert len(pieces) == 8
    for piece in pieces:
        assert top_voice(piece) == melody
        assert max(len(step) for step in piece) <= 4
    assert len({str(p) for p in pieces}) > 1, "the rows are separate draws"


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_each_row_continues_its_own_prime(cell: str) -> None:
    model = token_model(cell, V=7, H=16)
    primes = [torch.tensor([1]), torch.tensor([1, 4, 2, 6]), torch.tensor([1, 3, 3])]
    # top_k = 1 is greedy: each row must be exactly the single-sample continuation of its prime
    batched = model.generate_batch(6, primes, top_k=1)
    for row, prime in zip(batched, primes):
        assert torch.equal(row, model.generate(6, prime, top_k=1))
    assert len({tuple(r.tolist()) for r in batched}) > 1, "the primes lead apart"


def test_a_seed_reproduces_all_samples_and_one_row_is_generate() -> None:
    model = nade_model(5, "descending")
    start = torch.zeros(1, 5, dtype=torch.float64)

    def draw(seed: int, n: int) -> torch.Tensor:
        return model.generate_batch(7, [start] * n, generator=torch.Generator().manual_seed(seed))

    a, b = draw(4, 16), draw(4, 16)
    assert a.shape == (16, 7, 5) and torch.equal(a, b)
    assert not torch.equal(a, draw(5, 16))
    one = model.generate(7, start, generator=torch.Generator().manual_seed(4))
    assert torch.equal(draw(4, 1)[0], one)


def test_batched_generation_refuses_bad_arguments() -> None:
    model = nade_model(3, "descending")
    start = torch.zeros(1, 3, dtype=torch.float64)
    with pytest.raises(RnnkitError, match="at least one prime"):
        model.generate_batch(2, [])
    with pytest.raises(RnnkitError, match=r"\(N, steps, D\)"):
        model.generate_batch(2, [start] * 3, fixed=torch.zeros(2, 2, 3))
    with pytest.raises(RnnkitError, match="at least one step"):
        model.generate_batch(2, [start, start[:0]])


# ------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("text-samples")
    data = root / "tiny.txt"
    data.write_text(TINY_TEXT, encoding="utf-8")
    out = root / "run"
    tiny = [*TEXT_TINY[: TEXT_TINY.index("--epochs")], "--epochs", "1", "--quiet"]
    assert main(["train", "text", "--data", str(data), "--out", str(out), *tiny]) == 0
    return out / "best"


def test_generate_text_prints_n_samples_under_headers(
    text_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["generate", "text", "--checkpoint", str(text_run), "--prime", "the ", "--length", "30"]
    assert main([*args, "--seed", "3"]) == 0
    single = capsys.readouterr().out
    assert main([*args, "--seed", "3", "--samples", "1"]) == 0
    assert (
        capsys.readouterr().out
        == single
        == "the " + text.generate(text_run, prime="the ", length=30, seed=3) + "\n"
    )
    assert main([*args, "--seed", "3", "--samples", "3", "--temperature", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = text.generate_samples(
        text_run, prime="the ", length=30, temperature=3.0, seed=3, samples=3
    )
    shown = "\n".join(lines)
    for i, sample in enumerate(expected, start=1):
        assert f"==> sample {i} of 3 <==\nthe {sample}" in shown
    assert len(set(expected)) > 1
    assert main([*args, "--samples", "0"]) == 1
    assert "--samples must be an integer >= 1, got 0" in capsys.readouterr().err


def test_generate_music_writes_numbered_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsb(tmp_path / "jsb")
    run = tmp_path / "run"
    tiny = [*MUSIC_TINY[: MUSIC_TINY.index("--epochs")], "--epochs", "1", "--batch-size", "2"]
    assert main(["train", "music", "--data", str(data), "--out", str(run), *tiny, "--quiet"]) == 0
    capsys.readouterr()
    out = tmp_path / "piece.mid"
    args = ["generate", "music", "--checkpoint", str(run / "best"), "--out", str(out)]
    assert main([*args, "--steps", "5", "--samples", "3", "--wav", str(tmp_path / "s.wav")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3
    for i in (1, 2, 3):
        for name in (f"piece-{i}.mid", f"piece-{i}.png", f"s-{i}.wav"):
            assert (tmp_path / name).exists(), name
        assert printed[i - 1].startswith(f"wrote {tmp_path / f'piece-{i}.mid'} (5 steps")
    assert not out.exists(), "N > 1 writes numbered files only"
    assert main([*args, "--samples", "0"]) == 1
    assert "--samples must be an integer >= 1, got 0" in capsys.readouterr().err
