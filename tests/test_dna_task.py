"""The DNA recipe end to end on tiny data the tests write (a motif planted in random
sequences): each model overfits a tiny batch, the tagger finds planted motifs, `rnnkit train
/ evaluate / predict dna` from the command line, and the bad inputs a user meets."""

from __future__ import annotations

import io
import json
import logging
import os
import random
from pathlib import Path

import pytest
import torch
from dna_data import MOTIF, planted, write_classes, write_tagging

from rnnkit.cli import main
from rnnkit.data.batching import make_batch
from rnnkit.data.dna import encode, reverse_complement, reverse_complement_frames, soft_one_hot
from rnnkit.data.dna_files import read_labelled
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.tasks import dna
from rnnkit.tasks.dna.inference import DNAPredictor, SequenceInput

SMALL = ["--hidden-size", "16", "--quiet", "--num-threads", "1"]


def overfit(model: torch.nn.Module, batch: object, steps: int = 150) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        out = model(batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    model.eval()


@pytest.mark.parametrize("encoding", ["onehot", "kmer"])
def test_classifier_overfits_a_tiny_batch(encoding: str) -> None:
    torch.manual_seed(0)
    seqs = ["ACGTACGTAA", "TTTTGGGACA", "GATTACAGGC", "CCCCAAAAGT", "ACGNNRTTGA", "TGCATGCA"]
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    vocab = 0 if encoding == "onehot" else 66
    encoder = EncoderConfig(
        num_features=4 if not vocab else 0,
        vocab_size=vocab,
        embedding_dim=8,
        cell="gru",
        hidden_size=16,
        bidirectional=True,
    )
    model = SequenceClassifier(ClassifierConfig(encoder=encoder, num_classes=3, pooling="max"))
    batch = make_batch([encode(s, encoding, 3) for s in seqs], targets)
    overfit(model, batch)
    assert torch.equal(model.predict(model(batch).logits), targets)


def test_tagger_overfits_a_tiny_batch() -> None:
    torch.manual_seed(0)
    seqs = ["ACGTACGTAAGG", "TTTTGATTACAC", "GATTACAGGC"]
    tags = [
        torch.tensor([0] * 12),
        torch.tensor([0] * 4 + [1] * 7 + [0]),
        torch.tensor([1] * 7 + [0] * 3),
    ]
    encoder = EncoderConfig(num_features=4, cell="gru", hidden_size=16, bidirectional=True)
    model = SequenceTagger(TaggerConfig(encoder=encoder, num_tags=2))
    batch = make_batch([soft_one_hot(s) for s in seqs], tags)
    overfit(model, batch)
    predicted = model(batch).logits.argmax(-1)
    for b, t in enumerate(tags):
        assert torch.equal(predicted[b, : len(t)], t)


@pytest.fixture(scope="module")
def tagging_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("tagging")
    fasta, bed = write_tagging(folder / "data", count=120)
    out = folder / "run"
    args = ["train", "dna", "--preset", "tagging", "--data", str(fasta), "--bed", str(bed)]
    options = ["--epochs", "15", "--lr", "0.01", "--batch-size", "4"]
    assert main([*args, "--out", str(out), *SMALL, *options]) == 0
    return fasta, bed, out / "best"


def test_the_tagger_finds_planted_motifs(tagging_run: tuple[Path, Path, Path]) -> None:
    _, _, best = tagging_run
    metrics = dna.evaluate(best)
    assert metrics["split"] == "dev" and 15 <= metrics["examples"] <= 21  # 15% of 120
    assert metrics["interval_f1"] >= 0.9 and metrics["base_f1"] >= 0.9
    assert metrics["accuracy"] > 0.95
    rng = random.Random(99)
    fresh = [planted(rng, 40) for _ in range(20)]
    marks = DNAPredictor(best).tag(
        [SequenceInput(f"x{i}", seq) for i, (seq, _) in enumerate(fresh)]
    )
    found = [[(m.start, m.end, m.label) for m in ms] for ms in marks]
    assert sum(f == [(at, at + len(MOTIF), "box")] for f, (_, at) in zip(found, fresh)) >= 16


def test_reverse_complement_augmentation_flips_sequences_with_their_labels(tmp_path: Path) -> None:
    fasta, bed = write_tagging(tmp_path / "data", count=40)
    config = dna.DNADataConfig(path=str(fasta), bed=str(bed), reverse_complement=True)
    data = dna.data.read_data(config, tagging=True)
    batches = dna.data.tag_batches(data, config, 40, seed=3, shuffle=True)
    first, again, other = batches(0)[0], batches(0)[0], batches(1)[0]
    assert torch.equal(first.inputs, again.inputs)  # seeded: the same epoch, the same coins
    flipped = 0
    originals = {s: t for s, t in zip(data.sequences, data.tags, strict=True)}
    for b in range(first.size):
        n = int(first.lengths[b])
        x, y = first.inputs[b, :n], first.targets[b, :n]
        seq = "".join("ACGT"[int(i)] for i in x.argmax(-1))
        if seq not in originals:  # then it is a reverse complement, labels reversed with it
            seq = reverse_complement(seq)
            x, y = reverse_complement_frames(x), y.flip(0)
            flipped += 1
        assert torch.equal(soft_one_hot(seq), x) and torch.equal(originals[seq], y)
    assert 8 <= flipped <= 32  # p = 0.5 of 40
    assert not torch.equal(first.inputs, other.inputs)
    assert not dna.PRESETS["splice"].data.reverse_complement  # strand-specific classes


def test_position_features_stay_in_order_under_the_reverse_complement() -> None:
    config = dna.DNADataConfig(positions=4)
    x = dna.data.model_input("AACGN", config)
    assert x.shape == (5, 8) and torch.equal(x[:, :4], soft_one_hot("AACGN"))
    flipped = dna.data.reverse_complement_input(x, config)
    assert torch.equal(flipped, dna.data.model_input("NCGTT", config))
    with pytest.raises(RnnkitError, match="--positions goes with --encoding onehot"):
        dna.DNADataConfig(positions=4, encoding="kmer")


@pytest.fixture(scope="module")
def classes_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("dna")
    data = write_classes(folder / "train.tsv", per_class=60)
    out = folder / "run"
    args = ["train", "dna", "--data", str(data), "--out", str(out), *SMALL, "--metric", "loss"]
    # the motif sits anywhere (no aligned windows: no position features), no regularising
    options = ["--input-dropout", "0", "--output-dropout", "0", "--weight-decay", "0"]
    options += ["--positions", "0"]
    assert main([*args, *options, "--epochs", "20", "--lr", "0.01", "--batch-size", "8"]) == 0
    return data, out / "best"


def test_train_evaluate_predict_from_the_command_line(
    classes_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    data, best = classes_run
    capsys.readouterr()
    assert main(["evaluate", "dna", "--checkpoint", str(best), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] >= 0.9 and set(result["classes"]) == {"no", "yes"}
    assert result["split"] == "dev" and result["examples"] == 18
    assert main(["evaluate", "dna", "--checkpoint", str(best), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 120

    with_motif, without = "CCGT" + MOTIF + "ACGTTGCAAC", "CCGTACGTACGTTGCAACAC"
    assert main(["predict", "dna", "--checkpoint", str(best), with_motif, without]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "name\tlabel\tprobability\tp(no)\tp(yes)"
    assert [line.split("\t")[:2] for line in lines[1:]] == [["seq1", "yes"], ["seq2", "no"]]
    row = lines[1].split("\t")
    assert abs(float(row[3]) + float(row[4]) - 1.0) < 1e-3 and float(row[2]) == float(row[4])

    fasta = tmp_path / "in.fa"
    fasta.write_text(f">a first\n{with_motif[:10]}\n{with_motif[10:]}\n>b\n{without}\n")
    assert main(["predict", "dna", "--checkpoint", str(best), "--json", str(fasta)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["name"], r["label"]) for r in rows] == [("a", "yes"), ("b", "no")]
    assert set(rows[0]["probabilities"]) == {"no", "yes"}

    assert main(["predict", "dna", "--checkpoint", str(best), str(data)]) == 0
    out = capsys.readouterr().out.splitlines()
    truth = [r.label for r in read_labelled(data)]
    assert len(out) == 121 and out[1].startswith(f"{data}:1\t")
    assert sum(line.split("\t")[1] == y for line, y in zip(out[1:], truth)) >= 108

    monkeypatch.setattr(
        "sys.stdin", io.TextIOWrapper(io.BytesIO(f"{without}\n{with_motif}\n".encode()))
    )
    assert main(["predict", "dna", "--checkpoint", str(best), "-"]) == 0
    labels = [line.split("\t")[:2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert labels == [["<stdin>:1", "no"], ["<stdin>:2", "yes"]]

    pictures, written = tmp_path / "sal", tmp_path / "out.tsv"
    args = ["predict", "dna", "--checkpoint", str(best), "--saliency", str(pictures)]
    assert main([*args, "--output", str(written), str(fasta)]) == 0
    assert capsys.readouterr().out == ""
    assert written.read_text().splitlines()[1].startswith("a\tyes\t")
    assert sorted(p.name for p in pictures.iterdir()) == ["0001-a.png", "0002-b.png"]
    assert (
        main(["predict", "dna", "--checkpoint", str(best), "--output", str(fasta), str(fasta)]) == 1
    )
    assert "is one of the inputs" in capsys.readouterr().err
    # the motif is what drives the call: it holds the largest saliency
    predictor = DNAPredictor(best)
    values = predictor.saliency(SequenceInput("m", with_motif), "yes").sum(-1)
    assert 4 <= int(values.argmax()) < 4 + len(MOTIF)


def test_the_tagger_from_the_command_line(
    tagging_run: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fasta, bed, best = tagging_run
    capsys.readouterr()
    args = ["evaluate", "dna", "--checkpoint", str(best), "--data", str(fasta), "--bed", str(bed)]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "all" and result["examples"] == 120 and result["interval_f1"] > 0.9
    predict = ["predict", "dna", "--checkpoint", str(best)]
    assert main([*predict, "TTTT" + MOTIF + "CCCCGGGGCC"]) == 0
    assert capsys.readouterr().out.split("\t")[:4] == ["seq1", "4", "11", "box"]
    assert main([*predict, "--json", "TTTT" + MOTIF + "CCCCGGGGCC"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["length"] == 21 and row["intervals"][0]["label"] == "box"
    assert main([*predict, "--saliency", str(tmp_path), "ACGT"]) == 1
    assert "this model is a tagger" in capsys.readouterr().err


def bad(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    capsys.readouterr()
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1
    return captured.err


def test_bad_inputs_are_one_line_errors(
    classes_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, best = classes_run
    train = ["train", "dna", "--out", str(tmp_path / "run"), *SMALL, "--epochs", "1"]
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("yes\tACGT\nno\tACXT\n")
    assert f"{tsv}:2: character 'X' at column 6" in bad(capsys, [*train, "--data", str(tsv)])
    fasta = tmp_path / "bad.fa"
    fasta.write_text(">a\nACGT\n>b\n>c\nAC\n")
    bed = tmp_path / "x.bed"
    bed.write_text("a\t0\t2\tbox\n")
    tag = [*train, "--preset", "tagging", "--data", str(fasta), "--bed", str(bed)]
    assert f"{fasta}:3: record 'b' has no sequence" in bad(capsys, tag)
    fasta.write_text(">a\nACGTACGT\n>b\nACGTAC\n")
    bed.write_text("a\t0\t2\tbox\nb\t4\t4\tbox\n")
    assert f"{bed}:2: start 4 >= end 4" in bad(capsys, tag)
    bed.write_text("a\t0\t2\tbox\nb\t4\t7\tbox\n")
    assert f"{bed}:2: interval 4-7 lies outside record 'b' of 6 bases" in bad(capsys, tag)
    missing = tmp_path / "missing.tsv"
    assert f"{missing}: file not found" in bad(capsys, [*train, "--data", str(missing)])
    predict = ["predict", "dna", "--checkpoint", str(best)]
    assert "character 'Z' at position 3" in bad(capsys, [*predict, "ACZT"])
    assert "nothing.fa: no such file" in bad(capsys, [*predict, "nothing.fa"])
    assert "--unknown must be one letter of ACGT" in bad(capsys, [*predict, "AC", "--unknown", "Z"])
    kmer = [*train, "--data", str(tsv), "--preset", "tagging", "--encoding", "kmer"]
    assert "--encoding onehot or tokens, not kmer" in bad(capsys, kmer)
    assert "--metric must be one of loss, accuracy, macro_f1" in bad(
        capsys, [*train, "--metric", "interval_f1"]
    )


@pytest.mark.skipif(
    not (Path(os.environ.get("RNNKIT_SHARED_DATA", "/nonexistent")) / "dna-splice").is_dir(),
    reason="needs the shared dna-splice data (RNNKIT_SHARED_DATA)",
)
def test_the_shared_splice_file_reads() -> None:
    path = Path(os.environ["RNNKIT_SHARED_DATA"]) / "dna-splice" / "train.tsv"
    rows = read_labelled(path)
    assert len(rows) == 2552 and {r.label for r in rows} == {"EI", "IE", "N"}
    assert all(len(r.sequence) == 60 for r in rows)
    data = dna.data.read_data(dna.DNADataConfig(), tagging=False)
    train, dev = dna.data.split_indices(data, dna.DNADataConfig())
    assert not {data.sequences[i] for i in train} & {data.sequences[i] for i in dev}
    assert data.classes == ["EI", "IE", "N"] and 0.13 < len(dev) / len(rows) < 0.17


def test_a_sequence_far_from_the_trained_lengths_is_called_with_a_warning(
    classes_run: tuple[Path, Path], caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _, best = classes_run
    long, usual = "ACGT" * 30, "CCGTACGTACGTTGCAACAC"  # trained on 30 bases
    with caplog.at_level(logging.WARNING, logger="rnnkit.tasks"):
        assert main(["predict", "dna", "--checkpoint", str(best), long, usual]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "seq1: 120 bases" in warned[0] and "of 30 bases" in warned[0]
    assert len(capsys.readouterr().out.splitlines()) == 3  # both still called
