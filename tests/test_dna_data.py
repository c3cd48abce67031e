"""DNA data: the IUPAC encodings and the reverse complement against hand-written cases, the
FASTA, label<TAB>sequence and BED readers (round trips, gzip, and every malformed input
refused with its file:line), and per-base labels from intervals."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from rnnkit.data.dna import (
    ALPHABET,
    IUPAC,
    encode,
    kmer_ids,
    kmer_name,
    kmer_vocab_size,
    position_features,
    reverse_complement,
    reverse_complement_encoded,
    reverse_complement_frames,
    soft_one_hot,
    token_ids,
)
from rnnkit.data.dna_files import (
    FastaRecord,
    Interval,
    base_labels,
    is_fasta,
    label_names,
    label_runs,
    read_bed,
    read_fasta,
    read_labelled,
    record_lengths,
)
from rnnkit.errors import DataError, RnnkitError


def test_reverse_complement_by_hand() -> None:
    assert reverse_complement("ACGT") == "ACGT"  # a palindrome
    assert reverse_complement("AAACG") == "CGTTT"
    # R<->Y, K<->M, B<->V, D<->H; S, W, N are their own complements
    assert reverse_complement("RKBDSWN") == "NWSHVMY"
    assert reverse_complement("YMVH") == "DBKR"
    for code, bases in IUPAC.items():  # the complement of a code is the code of the complements
        comp = reverse_complement(code)
        assert set(IUPAC[comp]) == {dict(zip("ACGT", "TGCA"))[b] for b in bases}
    s = "ACGTNRYSWKMBDHVAAC"
    assert reverse_complement(reverse_complement(s)) == s
    with pytest.raises(RnnkitError, match="character 'X' at position 2"):
        reverse_complement("AX")


def test_soft_one_hot_by_hand() -> None:
    x = soft_one_hot("ARNB")
    expected = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],  # A
            [0.5, 0.0, 0.5, 0.0],  # R = A/G
            [0.25, 0.25, 0.25, 0.25],  # N
            [0.0, 1 / 3, 1 / 3, 1 / 3],  # B = C/G/T
        ]
    )
    assert torch.allclose(x, expected)
    every = soft_one_hot(ALPHABET)
    assert torch.allclose(every.sum(-1), torch.ones(len(ALPHABET)))  # nothing dropped
    # the reverse complement of the frames is the frames of the reverse complement
    s = "ACGGTNRYKMBDHVSW"
    assert torch.equal(
        reverse_complement_frames(soft_one_hot(s)), soft_one_hot(reverse_complement(s))
    )


@pytest.mark.parametrize(
    ("encoding", "k"), [("onehot", 3), ("tokens", 3), ("kmer", 1), ("kmer", 3)]
)
def test_reverse_complement_of_encodings(encoding: str, k: int) -> None:
    s = "ACGGTNRYAAGTCKMBDHVSWT"
    assert torch.equal(
        reverse_complement_encoded(encode(s, encoding, k), encoding, k),
        encode(reverse_complement(s), encoding, k),
    )


def test_position_features_by_hand() -> None:
    p = position_features(3, 4)
    t = torch.arange(3.0)
    expected = torch.stack([t.sin(), t.cos(), (t / 100).sin(), (t / 100).cos()], -1)
    assert p.shape == (3, 4) and torch.allclose(p, expected)
    with pytest.raises(RnnkitError, match="--positions must be an even number >= 2"):
        position_features(3, 3)


def test_token_and_kmer_ids_by_hand() -> None:
    assert token_ids("ACGTNRV").tolist() == [1, 2, 3, 4, 5, 6, 15]
    # 2-mers: 2 + 4 * idx(b1) + idx(b2); a k-mer holding a code is <unk-kmer> = 1
    assert kmer_ids("ACGTNA", 2).tolist() == [2 + 1, 2 + 4 + 2, 2 + 8 + 3, 1, 1]
    assert kmer_ids("TTT", 3).tolist() == [2 + 63]
    assert kmer_vocab_size(3) == 66 and kmer_name(2 + 27, 3) == "CGT"
    assert [kmer_name(int(i), 3) for i in kmer_ids("GATTACA", 3)] == [
        "GAT", "ATT", "TTA", "TAC", "ACA",
    ]  # fmt: skip
    with pytest.raises(RnnkitError, match="--k must be between 1 and 6, got 7"):
        kmer_ids("ACGTACGT", 7)
    with pytest.raises(RnnkitError, match="a sequence of 2 letters has no 3-mer"):
        kmer_ids("AC", 3)


FASTA = """>chr1 the first one
acgtNN
ACGU

>chr2
GGG
"""


def test_fasta_round_trip_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.fa"
    path.write_text(FASTA, encoding="utf-8")
    records = read_fasta(path)
    assert records == [
        FastaRecord("chr1", "the first one", "ACGTNNACGT", 1),  # lower case, U read as T
        FastaRecord("chr2", "", "GGG", 5),
    ]
    written = "".join(f">{r.name} {r.description}\n{r.sequence}\n" for r in records)
    (tmp_path / "y.fa").write_text(written, encoding="utf-8")
    assert [(r.name, r.sequence) for r in read_fasta(tmp_path / "y.fa")] == [
        (r.name, r.sequence) for r in records
    ]
    packed = tmp_path / "packed.fasta"  # gzip known by its bytes, not its name
    packed.write_bytes(gzip.compress(FASTA.encode()))
    assert read_fasta(packed) == records
    assert is_fasta(FASTA) and not is_fasta("EI\tACGT\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ACGT\n>a\nAC\n", r"x.fa:1: a sequence line before any '>' header"),
        (">a\n>b\nAC\n", r"x.fa:1: record 'a' has no sequence"),
        (">a\nAC\n>b\n", r"x.fa:3: record 'b' has no sequence"),
        (">a\nACGT\nAC-T\n", r"x.fa:3: character '-' at column 3 is not a nucleotide"),
        (">a\nAC GXT\n", r"x.fa:2: character 'X' at column 5"),
        ("", r"x.fa: empty file: no FASTA record"),
        ("\n\n", r"x.fa: empty file"),
        (">\nAC\n", r"x.fa:1: a '>' header without a record name"),
    ],
)
def test_bad_fasta(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.fa"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_fasta(path)


def test_bad_bytes_and_unknown_mapping(tmp_path: Path) -> None:
    path = tmp_path / "x.fa"
    path.write_bytes(b">a\nAC\xffGT\n")
    with pytest.raises(DataError, match=r"x.fa:2: not valid UTF-8: byte 0xff"):
        read_fasta(path)
    path.write_text(">a\nAC-T*X\n", encoding="utf-8")
    assert read_fasta(path, unknown="n")[0].sequence == "ACNTNN"
    with pytest.raises(RnnkitError, match="--unknown must be one letter of ACGT"):
        read_fasta(path, unknown="Z")
    with pytest.raises(DataError, match="file not found"):
        read_fasta(tmp_path / "missing.fa")


def test_labelled_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    path.write_text("EI\tacgtR\n\nN\tGGGA\n", encoding="utf-8")
    rows = read_labelled(path)
    assert [(r.label, r.sequence, r.line) for r in rows] == [("EI", "ACGTR", 1), ("N", "GGGA", 3)]
    (tmp_path / "copy.tsv.gz").write_bytes(
        gzip.compress("".join(f"{r.label}\t{r.sequence}\n" for r in rows).encode())
    )
    assert [(r.label, r.sequence) for r in read_labelled(tmp_path / "copy.tsv.gz")] == [
        ("EI", "ACGTR"), ("N", "GGGA"),
    ]  # fmt: skip
    cases = {
        "EI\tACGT\nN\tAC\tGT\n": r"train.tsv:2: 3 tab-separated columns, expected 2",
        "EI ACGT\n": r"train.tsv:1: 1 tab-separated columns, expected 2",
        "EI\tACGT\nIE\tACQT\n": r"train.tsv:2: character 'Q' at column 6",
        "EI\t\n": r"train.tsv:1: empty sequence",
        "\tACGT\n": r"train.tsv:1: empty label",
        "": r"train.tsv: empty file",
    }
    for text, message in cases.items():
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match=message):
            read_labelled(path)


def test_bed_labels_and_errors(tmp_path: Path) -> None:
    lengths = {"chr1": 10, "chr2": 5}
    bed = tmp_path / "x.bed"
    bed.write_text(
        "track name=motifs\n# comment\nbrowser position chr1\n"
        "chr1\t2\t5\tmotif\nchr1 4 7 motif 0 +\nchr2\t0\t2\tother\n",
        encoding="utf-8",
    )
    intervals = read_bed(bed, lengths)
    assert intervals[0] == Interval("chr1", 2, 5, "motif", 4)
    names = label_names(intervals)
    assert names == ["O", "motif", "other"]
    records = [FastaRecord("chr1", "", "A" * 10, 1), FastaRecord("chr2", "", "C" * 5, 3)]
    labels = base_labels(records, intervals, names)
    assert labels[0].tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0]
    assert labels[1].tolist() == [2, 2, 0, 0, 0]
    assert label_runs(labels[0]) == [(2, 7, 1)] and label_runs(torch.tensor([1, 2, 2, 0, 1])) == [
        (0, 1, 1), (1, 3, 2), (4, 5, 1),
    ]  # fmt: skip
    cases = {
        "chr3\t0\t2\tm\n": r"x.bed:1: unknown record name 'chr3'",
        "chr1\t5\t5\tm\n": r"x.bed:1: start 5 >= end 5",
        "chr1\t8\t11\tm\n": r"x.bed:1: interval 8-11 lies outside record 'chr1' of 10 bases",
        "chr1\t-1\t3\tm\n": r"x.bed:1: interval -1-3 lies outside",
        "chr1\t1.5\t3\tm\n": r"x.bed:1: start '1.5' is not an integer",
        "chr1\t1\tx\tm\n": r"x.bed:1: end 'x' is not an integer",
        "chr1\t1\t3\n": r"x.bed:1: 3 columns, expected 4",
        "chr1\t1\t4\ta\n\nchr1\t3\t6\tb\n": (
            r"x.bed:3: interval 3-6 \(b\) overlaps 1-4 \(a\) of line 1"
        ),
        "# nothing\n": r"x.bed: no intervals",
    }
    for text, message in cases.items():
        bed.write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match=message):
            read_bed(bed, lengths)
    with pytest.raises(DataError, match=r"r.fa:3: record name 'a' again \(first at line 1\)"):
        record_lengths([FastaRecord("a", "", "AC", 1), FastaRecord("a", "", "AC", 3)], "r.fa")
