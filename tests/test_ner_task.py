"""The NER recipe, the BiLSTM-CRF tagger and the CLI end to end, on tiny files the tests write."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.data.conll import TaggedSentence
from rnnkit.data.sequences import epoch_batches
from rnnkit.data.tags import find_violation
from rnnkit.errors import RnnkitError
from rnnkit.metrics.entities import entity_scores
from rnnkit.models.crf_tagger import CRFTagger, CRFTaggerConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.registry import describe_model
from rnnkit.tasks import ner
from rnnkit.train.checkpoint import CheckpointMeta, save_checkpoint

# ------------------------------------------------------------------------------ tiny data

FIRST = ["Harry", "Hermione", "Ron", "Albus", "Minerva", "Severus"]
LAST = ["Potter", "Granger", "Weasley", "Dumbledore", "McGonagall", "Snape"]
PLACES = ["London", "Hogsmeade", "Paris", "Scotland"]
ORGS = ["Gringotts", "Hogwarts"]


def sentence(rng: random.Random) -> list[tuple[str, str]]:
    """One sentence: (token, BIO tag) pairs with one or two people and maybe a place or org."""
    a, b = rng.sample(range(len(FIRST)), 2)
    person = [(FIRST[a], "B-PER"), (LAST[a], "I-PER")]
    other = [(FIRST[b], "B-PER"), (LAST[b], "I-PER")]
    place = [(rng.choice(PLACES), "B-LOC")]
    org = [(rng.choice(ORGS), "B-ORG")]
    templates = [
        [("Yesterday", "O"), (",", "O"), *person, ("met", "O"), *other, (".", "O")],
        [*person, ("lives", "O"), ("in", "O"), *place, (".", "O")],
        [("The", "O"), ("bank", "O"), *org, ("hired", "O"), *person, (".", "O")],
        [*person, ("and", "O"), *other, ("visited", "O"), *place, ("today", "O"), (".", "O")],
        [("In", "O"), *place, (",", "O"), *person, ("joined", "O"), *org, (".", "O")],
    ]
    return rng.choice(templates)


def sentences(n: int, seed: int) -> list[list[tuple[str, str]]]:
    rng = random.Random(seed)
    out = [
        [
            ("Yesterday", "O"),
            (",", "O"),
            ("Harry", "B-PER"),
            ("Potter", "I-PER"),
            ("met", "O"),
            ("Hermione", "B-PER"),
            ("Granger", "I-PER"),
            (".", "O"),
        ]
    ]
    return out + [sentence(rng) for _ in range(n - 1)]


def write_conll(path: Path, sents: list[list[tuple[str, str]]]) -> Path:
    lines = ["-DOCSTART- -X- -X- O", ""]
    for s in sents:
        lines += [f"{tok} NNP B-NP {tag}" for tok, tag in s] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def tagged(sents: list[list[tuple[str, str]]]) -> list[TaggedSentence]:
    return [
        TaggedSentence([t for t, _ in s], [g for _, g in s], list(range(1, len(s) + 1)))
        for s in sents
    ]


def tiny_model(pipeline: ner.NERPipeline, seed: int = 0) -> CRFTagger:
    torch.manual_seed(seed)
    return CRFTagger(
        CRFTaggerConfig(
            encoder=EncoderConfig(
                vocab_size=len(pipeline.words),
                embedding_dim=16,
                hidden_size=16,
                bidirectional=True,
                input_dropout=0.0,
            ),
            num_chars=len(pipeline.chars),
            char_dim=8,
            char_hidden=8,
            output_dropout=0.0,
            tags=tuple(pipeline.tags.tokens),
        )
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[CRFTagger, ner.NERPipeline, list[TaggedSentence]]:
    """A CRF tagger trained to convergence on ten sentences, full batch."""
    data = tagged(sentences(10, seed=1))
    pipeline = ner.NERPipeline.build(data)
    model = tiny_model(pipeline)
    batch = ner.collate(ner.encode_sentences(data, pipeline))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(40):  # exact by about step 20
        out = model(batch)
        assert out.loss is not None
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    return model.eval(), pipeline, data


# ------------------------------------------------------------------------------ model


def test_crf_tagger_overfits_ten_sentences(
    fitted: tuple[CRFTagger, ner.NERPipeline, list[TaggedSentence]],
) -> None:
    model, pipeline, data = fitted
    batch = ner.collate(ner.encode_sentences(data, pipeline))
    with torch.no_grad():
        predicted = [pipeline.tag_names(ids) for ids in model.decode(batch)]
    scores = entity_scores([s.tags for s in data], predicted)
    assert scores.overall.f1 == 1.0 and scores.overall.gold > 15
    assert predicted == [s.tags for s in data]


def test_loss_is_the_crf_nll_summed_over_sentences_per_real_token() -> None:
    data = tagged(sentences(5, seed=2))
    pipeline = ner.NERPipeline.build(data)
    model = tiny_model(pipeline).double().eval()
    with torch.no_grad():
        for p in model.crf.parameters():
            p.normal_()  # non-zero transitions: the loss is no longer a per-step cross-entropy
        examples = ner.encode_sentences(data, pipeline)
        out = model(ner.collate(examples))  # padded batch of 5
        assert out.loss is not None
        total = 0.0
        for e in examples:  # one unpadded sentence at a time: the independent reference
            one = ner.collate([e])
            assert one.targets is not None
            emissions = model.emissions(one)
            total += float(model.crf.neg_log_likelihood(emissions, one.targets, one.mask).sum())
        tokens = sum(len(s) for s in data)
    assert int(out.count) == tokens
    assert float(out.loss) == pytest.approx(total / tokens, rel=1e-10)


def test_unseen_words_are_told_apart_by_their_characters() -> None:
    data = tagged(sentences(5, seed=3))
    pipeline = ner.NERPipeline.build(data)
    model = tiny_model(pipeline).eval()
    example = pipeline.encode(["Yesterday", ",", "Zorblax", "met", "zorblax", "."])
    assert int(example.words[2]) == int(example.words[4]) == pipeline.words.unk_id
    with torch.no_grad():
        e = model.emissions(ner.collate([example]))[0]  # (T, C)
    assert not torch.allclose(e[2], e[4]), "same <unk> id, different spelling, same emissions"


def test_decoding_only_returns_valid_bio() -> None:
    data = tagged(sentences(5, seed=4))
    pipeline = ner.NERPipeline.build(data)
    model = tiny_model(pipeline).eval()
    inside = pipeline.tags.index("I-PER")
    with torch.no_grad():
        model.emission.b_y[inside] = 100.0  # every token screams I-PER
        for ids in model.decode(ner.collate(ner.encode_sentences(data, pipeline))):
            tags = pipeline.tag_names(ids)
            assert find_violation(tags, "BIO") is None, tags
            assert tags[0] == "B-PER" and set(tags[1:]) == {"I-PER"}


def test_checkpoint_round_trip_tags_the_same(
    fitted: tuple[CRFTagger, ner.NERPipeline, list[TaggedSentence]], tmp_path: Path
) -> None:
    model, pipeline, _ = fitted
    meta = CheckpointMeta(
        task=ner.NAME,
        model_config=describe_model(model),
        extras=pipeline.to_extras(),
    )
    save_checkpoint(tmp_path / "ckpt", model, meta=meta)
    texts = ["Yesterday, Harry Potter met Hermione Granger.", "Ron Weasley lives in Paris ."]
    tokens = [[t.text for t in ner.tokenize_with_offsets(x)] for x in texts]
    with torch.no_grad():
        before = [
            pipeline.tag_names(ids)
            for ids in model.decode(ner.collate([pipeline.encode(t) for t in tokens]))
        ]
    loaded = ner.NERTagger(tmp_path / "ckpt")
    assert isinstance(loaded.model, CRFTagger)
    assert torch.equal(loaded.model.crf.allowed, model.crf.allowed), "constraints rebuilt"
    assert [t.tags for t in loaded.tag_texts(texts)] == before
    assert before[0] == ["O", "O", "B-PER", "I-PER", "O", "B-PER", "I-PER", "O"]


def test_tokenizer_keeps_offsets() -> None:
    text = "  Yesterday,  Harry Potter's U.S. trip didn't  start: 1,000 EU-wide fans.\t"
    tokens = ner.tokenize_with_offsets(text)
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert [t.text for t in tokens] == [
        "Yesterday",
        ",",
        "Harry",
        "Potter",
        "'s",
        "U.S.",
        "trip",
        "did",
        "n't",
        "start",
        ":",
        "1,000",
        "EU-wide",
        "fans",
        ".",
    ]
    assert ner.tokenize_with_offsets("  \n ") == []


def test_bracketed_keeps_the_original_spacing() -> None:
    text = "Yesterday,  Harry   Potter met Hermione Granger ."
    tokens = ner.tokenize_with_offsets(text)
    tags = ["O", "O", "B-PER", "I-PER", "O", "B-PER", "I-PER", "O"]
    result = ner.TaggedText(text, tokens, tags, ner.entities(text, tokens, tags))
    assert result.bracketed() == "Yesterday,  [Harry   Potter]PER met [Hermione Granger]PER ."
    assert [(e.start, e.end, e.text) for e in result.entities] == [
        (12, 26, "Harry   Potter"),
        (31, 47, "Hermione Granger"),
    ]


def test_unk_replacement_is_reproducible_and_touches_the_words_it_should() -> None:
    data = tagged(sentences(30, seed=5))
    data.append(tagged([[("Zorblax", "B-PER"), ("Quux", "I-PER"), ("left", "O")]])[0])
    pipeline = ner.NERPipeline.build(data)
    examples = ner.encode_sentences(data, pipeline)
    once = ner.singletons(data, pipeline)
    n_once = sum(int(o.sum()) for o in once)
    assert n_once >= 3  # zorblax, quux, left (and any template word drawn once)
    unk = pipeline.words.unk_id
    assert unk is not None and all(int((e.words == unk).sum()) == 0 for e in examples)

    def unks(p: float, epoch: int = 0, word_dropout: float = 0.0) -> int:
        make = epoch_batches(
            examples,
            4,
            seed=0,
            transform=ner.unk_replacement(once, 0, p, word_dropout, unk),
            collate=ner.collate,
            length=ner.sentence_length,
        )
        batches = make(epoch)
        assert sorted(int(n) for b in batches for n in b.lengths) == sorted(
            len(e.words) for e in examples
        )
        again = make(epoch)
        assert all(torch.equal(a.inputs, b.inputs) for a, b in zip(batches, again))
        return sum(int((b.inputs == unk).sum()) for b in batches)

    assert unks(0.0) == 0
    assert unks(0.999999) == n_once  # every singleton, and nothing else
    assert 0 < sum(unks(0.5, epoch) for epoch in range(4)) < 4 * n_once
    tokens = sum(len(e.words) for e in examples)
    assert unks(0.0, word_dropout=0.999999) == tokens - n_once  # every word but the singletons


def test_every_format_reads_as_bio(tmp_path: Path) -> None:
    binary = tmp_path / "binary.txt"
    binary.write_text("Harry Potter and Hermione Granger invented a spell .\t1 1 0 1 1 0 0 0 0\n")
    [s] = ner.read_sentences(binary, "binary")
    assert s.tags == ["B-NAME", "I-NAME", "O", "B-NAME", "I-NAME", "O", "O", "O", "O"]
    tsv = tmp_path / "tags.tsv"
    tsv.write_text("New York\tI-LOC\nis\tO\n\nParis\tI-LOC\n", encoding="utf-8")  # IOB1
    assert [(s.tokens, s.tags) for s in ner.read_sentences(tsv, "tsv")] == [
        (["New York", "is"], ["B-LOC", "O"]),
        (["Paris"], ["B-LOC"]),
    ]
    with pytest.raises(RnnkitError, match=r"binary.txt:1: tag 'B-NAME'"):
        ner.read_sentences(binary, "binary", tag_set=["O", "B-PER", "I-PER"])


# ------------------------------------------------------------------------------ CLI

TINY = [
    "--embedding-dim",
    "16",
    "--hidden-size",
    "16",
    "--char-dim",
    "8",
    "--char-hidden",
    "8",
    "--input-dropout",
    "0",
    "--output-dropout",
    "0",
    "--unk-replace",
    "0",
    "--epochs",
    "12",
    "--batch-size",
    "4",
    "--lr",
    "0.02",
    "--quiet",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ner")
    train = write_conll(root / "train.conll", sentences(24, seed=10))
    dev = write_conll(root / "dev.conll", sentences(8, seed=11))
    out = root / "run"
    args = ["train", "ner", "--train-file", str(train), "--dev-file", str(dev)]
    assert main([*args, "--out", str(out), *TINY]) == 0
    return dev, out


def test_train_keeps_the_best_dev_f1_and_the_vocabularies(trained: tuple[Path, Path]) -> None:
    _, out = trained
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    f1 = [r["dev_f1"] for r in records if r.get("kind") == "epoch"]
    assert f1[-1] > 0.9 and max(f1) == 1.0
    meta = json.loads((out / "best" / "checkpoint.json").read_text())
    extras = meta["extras"]
    assert {"words", "chars", "tags"} <= set(extras)
    assert "Potter" not in extras["words"]["tokens"] and "potter" in extras["words"]["tokens"]
    assert "P" in extras["chars"]["tokens"]


def test_cli_evaluate_reports_overall_and_per_type(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    dev, out = trained
    assert main(["evaluate", "ner", "--checkpoint", str(out / "best"), "--data", str(dev)]) == 0
    report = capsys.readouterr().out
    assert "PER" in report and "overall" in report and "precision" in report
    assert (
        main(["evaluate", "ner", "--checkpoint", str(out / "best"), "--data", str(dev), "--json"])
        == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert scores["overall"]["f1"] == 1.0 and scores["per_type"]["PER"]["gold"] > 0


def test_cli_tag_prints_bracketed_entities(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    text = "Yesterday, Harry Potter met Hermione Granger."
    assert main(["tag", "--checkpoint", str(out / "best"), text]) == 0
    assert capsys.readouterr().out == "Yesterday, [Harry Potter]PER met [Hermione Granger]PER.\n"


def test_cli_tag_jsonl_has_character_offsets(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = trained
    text = "Yesterday,   Harry Potter met Hermione Granger."
    assert main(["tag", "--checkpoint", str(out / "best"), "--jsonl", text]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["text"] == text
    spans = [(e["type"], e["start"], e["end"], e["text"]) for e in record["entities"]]
    assert spans == [("PER", 13, 25, "Harry Potter"), ("PER", 30, 46, "Hermione Granger")]
    assert all(text[s:e] == t for _, s, e, t in spans)


def test_cli_tag_file_writes_conll_and_jsonl(trained: tuple[Path, Path], tmp_path: Path) -> None:
    dev, out = trained
    best = str(out / "best")
    predicted = tmp_path / "pred.conll"
    assert main(["tag", "--checkpoint", best, "--input", str(dev), "--output", str(predicted)]) == 0
    blocks = predicted.read_text().strip("\n").split("\n\n")
    assert len(blocks) == 8
    rows = [line.split() for line in blocks[0].splitlines()]
    assert rows[2] == ["Harry", "B-PER", "B-PER"] and all(len(r) == 3 for r in rows)

    tokens_only = tmp_path / "tokens.txt"
    tokens_only.write_text("Harry\nPotter\nmet\nRon\nWeasley\n.\n", encoding="utf-8")
    assert (
        main(["tag", "--checkpoint", best, "--input", str(tokens_only), "--output", str(predicted)])
        == 0
    )
    assert predicted.read_text().split() == [
        "Harry",
        "B-PER",
        "Potter",
        "I-PER",
        "met",
        "O",
        "Ron",
        "B-PER",
        "Weasley",
        "I-PER",
        ".",
        "O",
    ]

    jsonl = tmp_path / "pred.jsonl"
    assert (
        main(["tag", "--checkpoint", best, "--input", str(dev), "--output", str(jsonl), "--jsonl"])
        == 0
    )
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == 8
    for r in records:
        for e in r["entities"]:
            assert r["text"][e["start"] : e["end"]] == e["text"]

    raw = tmp_path / "raw.txt"
    raw.write_text("Harry Potter met Ron Weasley.\nIn Paris, Hermione Granger joined Hogwarts.\n")
    assert (
        main(
            [
                "tag",
                "--checkpoint",
                best,
                "--input",
                str(raw),
                "--format",
                "text",
                "--output",
                str(jsonl),
            ]
        )
        == 0
    )
    first = json.loads(jsonl.read_text().splitlines()[0])
    assert [e["text"] for e in first["entities"]] == ["Harry Potter", "Ron Weasley"]


# The softmax preset has no character encoder, so it has no --char-* options.
WORDS_ONLY = [
    a
    for i, a in enumerate(TINY)
    if not (a.startswith("--char") or TINY[i - 1].startswith("--char"))
]


def test_softmax_preset_has_no_character_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "ner", "--preset", "softmax", "--char-dim", "8"])
    assert "unrecognized arguments: --char-dim" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "ner", "--preset", "softmax", "--help"])
    assert "--char-dim" not in capsys.readouterr().out


def test_softmax_preset_trains_and_evaluates(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev, _ = trained
    train = write_conll(tmp_path / "train.conll", sentences(24, seed=10))
    out = tmp_path / "softmax"
    args = [
        "train",
        "ner",
        "--preset",
        "softmax",
        "--train-file",
        str(train),
        "--dev-file",
        str(dev),
        "--out",
        str(out),
        *WORDS_ONLY,
    ]
    assert main(args) == 0
    capsys.readouterr()
    assert (
        main(["evaluate", "ner", "--checkpoint", str(out / "best"), "--data", str(dev), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["overall"]["f1"] > 0.5
    assert main(["summary", "--checkpoint", str(out / "best")]) == 0
    assert "Bidirectional LSTM(16)" in capsys.readouterr().out


def test_summary_of_the_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "ner"]) == 0
    text = capsys.readouterr().out
    assert "crf (CRF)" in text and "chars (CharEncoder BiLSTM)" in text
    # CRF parameters: A (9 x 9) + start (9) + end (9)
    assert re.search(r"crf \(CRF\)\s+\(B, T\) tags of 9\s+99\n", text), text
    assert main(["summary", "ner", "--preset", "softmax"]) == 0
    assert "crf" not in capsys.readouterr().out


# ------------------------------------------------------------------------------ bad input


def test_bad_inputs_give_one_line_errors(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev, out = trained
    best = str(out / "best")

    def error_of(args: list[str]) -> str:
        assert main(args) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("rnnkit: error:") and "\n" not in err, err
        return err

    def evaluate(path: Path, *extra: str) -> str:
        return error_of(["evaluate", "ner", "--checkpoint", best, "--data", str(path), *extra])

    columns = tmp_path / "columns.conll"
    columns.write_text("Harry NNP B-NP B-PER\nPotter NNP I-PER\n", encoding="utf-8")
    assert f"{columns}:2: 3 columns, expected 4" in evaluate(columns)

    unseen = tmp_path / "unseen.conll"
    unseen.write_text("Harry NNP B-NP B-PER\n\nAcme NNP B-NP B-CORP\n", encoding="utf-8")
    assert f"{unseen}:3: tag 'B-CORP'" in evaluate(unseen)

    mixed = tmp_path / "mixed.conll"
    mixed.write_text("Harry B-PER\nPotter I-PER\n\nIn O\nParis I-LOC\n", encoding="utf-8")
    err = evaluate(mixed)
    assert f"{mixed}:5:" in err and "mixed tag schemes" in err

    binary = tmp_path / "binary.txt"
    binary.write_text("Harry Potter met Ron\t1 1 0 1\nHarry met\t1 0 0\n", encoding="utf-8")
    assert f"{binary}:2: 3 labels for 2 tokens" in evaluate(binary, "--format", "binary")

    latin1 = tmp_path / "latin1.conll"
    latin1.write_bytes("Harry NNP B-NP B-PER\nZürich NNP B-NP B-LOC\n".encode("latin-1"))
    err = evaluate(latin1)
    assert f"{latin1}:2:" in err and "UTF-8" in err

    assert "text 2 is empty" in error_of(["tag", "--checkpoint", best, "Harry met Ron.", " "])
    assert "--output" in error_of(["tag", "--checkpoint", best, "--input", str(dev)])
    assert "nothing to tag" in error_of(["tag", "--checkpoint", best])
    blank = tmp_path / "blank.txt"
    blank.write_text("Harry met Ron.\n\nRon met Harry.\n", encoding="utf-8")
    err = error_of(
        [
            "tag",
            "--checkpoint",
            best,
            "--input",
            str(blank),
            "--format",
            "text",
            "--output",
            str(tmp_path / "o.jsonl"),
        ]
    )
    assert f"{blank}:2: empty line" in err
    assert "checkpoint" in error_of(["tag", "--checkpoint", str(tmp_path / "none"), "Harry"])

    train = write_conll(tmp_path / "train.conll", sentences(4, seed=0))
    err = error_of(
        ["train", "ner", "--train-file", str(train), "--out", str(tmp_path / "r"), *TINY]
    )
    assert "--dev-file" in err
    err = error_of(
        [
            "train",
            "ner",
            "--train-file",
            str(train),
            "--dev-file",
            str(unseen),
            "--out",
            str(tmp_path / "r"),
            *TINY,
        ]
    )
    assert f"{unseen}:3: tag 'B-CORP'" in err


def test_missing_shared_data_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNKIT_SHARED_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(RnnkitError, match="conll2003/eng.train"):
        ner.train(replace(ner.PRESETS["default"]))
