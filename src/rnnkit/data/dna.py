"""DNA sequences as model inputs: the alphabet, its encodings, and the reverse complement.

A sequence is a str over the nucleotide alphabet, upper case: the bases A, C, G, T and the
IUPAC ambiguity codes, each standing for a set of bases:

    R = A/G   Y = C/T   S = C/G   W = A/T   K = G/T   M = A/C
    B = C/G/T (not A)   D = A/G/T (not C)   H = A/C/T (not G)   V = A/C/G (not T)   N = any

Readers (`rnnkit.data.dna_files`) upper-case what they read and read U (RNA's uracil) as T,
so an RNA sequence is encoded as the DNA it was copied from; any other character is an error
unless the user maps unknown characters to a symbol of the alphabet (`unknown="N"`).

Encodings (x<t> is what the model reads at position t = 1 .. T):

1. Soft one-hot frames (T, 4), columns A, C, G, T (`soft_one_hot`): a base is its one-hot
   row; an ambiguity code spreads probability 1 evenly over the bases it stands for, so
   R = (0.5, 0, 0.5, 0) and N = (0.25, 0.25, 0.25, 0.25). Nothing is dropped: every row sums
   to 1 and the model sees exactly what the sequence says it knows.
2. Token ids for an embedding (`token_ids`): 0 is padding, A C G T are 1-4, and every
   ambiguity code has its own id, N R Y S W K M B D H V = 5-15 (`TOKENS`), V = 16 in all;
   the model learns what each code means rather than being told.
3. Overlapping k-mers (`kmer_ids`, k = 1..6): a sequence of T letters gives T - k + 1 ids,
   the k-mer starting at each position; 0 is padding, 1 is `<unk-kmer>` (any k-mer that holds
   an ambiguity code), and a k-mer of bases b_1..b_k is 2 + sum_i idx(b_i) 4^(k-i) with
   idx(A, C, G, T) = (0, 1, 2, 3), so V = 4^k + 2.

Reverse complement (`reverse_complement`): the other strand read 5' to 3': reverse the
sequence and complement each letter, A<->T, C<->G, and for the codes the complement of the
set they stand for, R<->Y, K<->M, B<->V, D<->H, while S, W and N are their own complements.
On soft one-hot frames (columns A C G T) the complement is the reversed column order, so
`reverse_complement_frames(x) = x.flip(0).flip(1)` equals the frames of the reverse
complement.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError

BASES = "ACGT"
# Each IUPAC code and the bases it stands for.
IUPAC: dict[str, str] = {
    "A": "A",
    "C": "C",
    "G": "G",
    "T": "T",
    "N": "ACGT",
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
}
ALPHABET = "".join(IUPAC)  # "ACGTNRYSWKMBDHV": what a sequence may hold
AMBIGUOUS = ALPHABET[4:]
# Read as T: RNA's uracil (its DNA template base).
SYNONYMS = {"U": "T"}

PAD_ID = 0
# Token ids: <pad> then every letter of ALPHABET in its order (A = 1, ..., V = 15).
TOKENS: tuple[str, ...] = ("<pad>", *ALPHABET)
UNK_KMER_ID = 1
UNK_KMER = "<unk-kmer>"
MAX_K = 6

_COMPLEMENT = str.maketrans("ACGTRYKMBVDHSWN", "TGCAYRMKVBHDSWN")
_TOKEN_ID = {letter: i for i, letter in enumerate(TOKENS) if i > 0}
# (len(ALPHABET), 4): row of each letter in the soft one-hot encoding.
_SOFT = torch.tensor(
    [[1.0 / len(IUPAC[a]) if b in IUPAC[a] else 0.0 for b in BASES] for a in ALPHABET]
)
_LETTER_INDEX = {letter: i for i, letter in enumerate(ALPHABET)}


def clean_sequence(text: str, unknown: str | None = None) -> tuple[str, int | None]:
    """`text` upper-cased with U read as T, and the 0-based index of the first character
    outside the alphabet (None when there is none). With `unknown` (a letter of ALPHABET)
    such characters become that letter instead and the index is None."""
    seq = text.upper()
    if "U" in seq:
        seq = seq.replace("U", SYNONYMS["U"])
    for i, ch in enumerate(seq):
        if ch not in _LETTER_INDEX:
            if unknown is None:
                return seq, i
            seq = "".join(c if c in _LETTER_INDEX else unknown for c in seq)
            break
    return seq, None


def check_unknown(unknown: str | None) -> None:
    """RnnkitError unless `unknown` is None or one letter of the alphabet (e.g. "N")."""
    if unknown is not None and (len(unknown) != 1 or unknown.upper() not in _LETTER_INDEX):
        raise RnnkitError(f"--unknown must be one letter of {ALPHABET} (e.g. N), got {unknown!r}")


def _check(seq: str) -> None:
    for i, ch in enumerate(seq):
        if ch not in _LETTER_INDEX:
            raise RnnkitError(
                f"character {ch!r} at position {i + 1} is not one of {ALPHABET} (upper case)"
            )


def reverse_complement(seq: str) -> str:
    """The reverse complement of an upper-case IUPAC sequence: 'AACR' -> 'YGTT'."""
    _check(seq)
    return seq.translate(_COMPLEMENT)[::-1]


def reverse_complement_frames(x: Tensor) -> Tensor:
    """Soft one-hot frames (T, 4) or (B, T, 4) of a sequence -> those of its reverse
    complement (time reversed, columns A C G T -> T G C A). For a padded batch, reverse each
    sequence within its own length instead (`reverse_complement` on the strings)."""
    return x.flip(-2).flip(-1)


def soft_one_hot(seq: str) -> Tensor:
    """(T, 4) float32 frames, columns A C G T; an ambiguity code spreads 1 evenly over its
    bases (module docstring)."""
    _check(seq)
    index = torch.tensor([_LETTER_INDEX[c] for c in seq], dtype=torch.int64)
    return _SOFT[index]  # (T, 4)


def token_ids(seq: str) -> Tensor:
    """(T,) int64 ids: A C G T = 1-4, each ambiguity code its own id (`TOKENS`)."""
    _check(seq)
    return torch.tensor([_TOKEN_ID[c] for c in seq], dtype=torch.int64)


def check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise RnnkitError(f"--k must be between 1 and {MAX_K}, got {k}")


def kmer_vocab_size(k: int) -> int:
    """V for k-mer ids: <pad>, <unk-kmer> and the 4^k k-mers of bases."""
    check_k(k)
    return 4**k + 2


def kmer_ids(seq: str, k: int) -> Tensor:
    """(T - k + 1,) int64 ids of the overlapping k-mers of `seq` (module docstring); a k-mer
    holding an ambiguity code is `<unk-kmer>` (1). A sequence shorter than k is an error."""
    check_k(k)
    _check(seq)
    if len(seq) < k:
        raise RnnkitError(f"a sequence of {len(seq)} letters has no {k}-mer (need at least {k})")
    digit = torch.tensor([BASES.find(c) for c in seq], dtype=torch.int64)  # (T,), -1: ambiguous
    windows = digit.unfold(0, k, 1)  # (T - k + 1, k)
    powers = 4 ** torch.arange(k - 1, -1, -1)  # (k,)
    ids = 2 + (windows.clamp(min=0) * powers).sum(-1)  # (T - k + 1,)
    return torch.where((windows < 0).any(-1), UNK_KMER_ID, ids)


def kmer_name(index: int, k: int) -> str:
    """The k-mer an id stands for ('<pad>', '<unk-kmer>', or k bases)."""
    if index == PAD_ID:
        return TOKENS[0]
    if index == UNK_KMER_ID:
        return UNK_KMER
    n = index - 2
    return "".join(BASES[(n // 4 ** (k - 1 - i)) % 4] for i in range(k))


ENCODINGS = ("onehot", "tokens", "kmer")


def encode(seq: str, encoding: str, k: int = 3) -> Tensor:
    """A sequence as the model reads it: "onehot" (T, 4) frames, "tokens" (T,) ids or
    "kmer" (T - k + 1,) ids."""
    if encoding == "onehot":
        return soft_one_hot(seq)
    if encoding == "tokens":
        return token_ids(seq)
    if encoding == "kmer":
        return kmer_ids(seq, k)
    raise RnnkitError(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")


@functools.lru_cache(maxsize=16)
def complement_ids(encoding: str, k: int = 3) -> Tensor:
    """(V,) int64: the id of the complement of each id of an id encoding ("tokens": the
    complement letter; "kmer": the reverse complement k-mer; <pad> and <unk-kmer> stay)."""
    if encoding == "tokens":
        return torch.tensor([0, *(_TOKEN_ID[c.translate(_COMPLEMENT)] for c in ALPHABET)])
    check_k(k)
    names = [kmer_name(i, k) for i in range(kmer_vocab_size(k))]
    rc = [i if i <= UNK_KMER_ID else int(kmer_ids(reverse_complement(n), k)[0])
          for i, n in enumerate(names)]  # fmt: skip
    return torch.tensor(rc, dtype=torch.int64)


def reverse_complement_encoded(x: Tensor, encoding: str, k: int = 3) -> Tensor:
    """The encoding of a sequence's reverse complement from the encoding of the sequence
    (`encode`): frames reversed in time and columns; ids reversed in time and complemented
    (the k-mers of the reverse complement are the reverse complements of the k-mers, in
    reverse order)."""
    if encoding == "onehot":
        return reverse_complement_frames(x)
    return complement_ids(encoding, k)[x].flip(0)


def position_features(length: int, size: int) -> Tensor:
    """(T, P) sinusoidal features of the positions t = 0 .. T-1, for models that must know
    where in an aligned window a base sits (the site of a splice-junction window is always
    between bases 30 and 31):

        p<t>_2i = sin(t / 10000^(2i / P))     p<t>_2i+1 = cos(t / 10000^(2i / P))

    the Transformer's encoding; P even. The pairs turn at different rates, so together they
    tell every position apart, and the recurrent gates can key on a position."""
    if size < 2 or size % 2:
        raise RnnkitError(f"--positions must be an even number >= 2 (or 0 for none), got {size}")
    t = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    rate = 10000.0 ** (-torch.arange(0, size, 2, dtype=torch.float32) / size)  # (P/2,)
    angle = t * rate  # (T, P/2)
    return torch.stack([angle.sin(), angle.cos()], -1).reshape(length, size)  # (T, P)


def encoded_length(length: int, encoding: str, k: int = 3) -> int:
    """How many positions the encoding of a sequence of `length` letters has."""
    return length - k + 1 if encoding == "kmer" else length


def vocab_size(encoding: str, k: int = 3) -> int:
    """V of an id encoding ("tokens": 16, "kmer": 4^k + 2); 0 for the one-hot frames."""
    if encoding == "tokens":
        return len(TOKENS)
    if encoding == "kmer":
        return kmer_vocab_size(k)
    return 0


__all__ = [
    "ALPHABET",
    "AMBIGUOUS",
    "BASES",
    "ENCODINGS",
    "IUPAC",
    "MAX_K",
    "PAD_ID",
    "SYNONYMS",
    "TOKENS",
    "UNK_KMER",
    "UNK_KMER_ID",
    "check_k",
    "check_unknown",
    "clean_sequence",
    "complement_ids",
    "encode",
    "encoded_length",
    "kmer_ids",
    "kmer_name",
    "kmer_vocab_size",
    "position_features",
    "reverse_complement",
    "reverse_complement_encoded",
    "reverse_complement_frames",
    "soft_one_hot",
    "token_ids",
    "vocab_size",
]
