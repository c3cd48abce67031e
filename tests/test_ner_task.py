"""The NER recipe and the BiLSTM-CRF tagger, on tiny sentences the tests make (the command
line is in test_ner_cli.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from ner_data import sentences, tagged

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


def test_missing_shared_data_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNKIT_SHARED_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(RnnkitError, match="conll2003/eng.train"):
        ner.train(replace(ner.PRESETS["default"]))
