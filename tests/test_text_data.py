"""The word, raw-text (with offsets) and character tokenizers, and the UTF-8 / gzip reader."""

from __future__ import annotations

import doctest
import gzip
import random
from pathlib import Path

import pytest

import rnnkit.data.text as text_module
from rnnkit.data.text import (
    Token,
    char_tokenize,
    read_text,
    strip_html,
    tokenize,
    tokenize_with_offsets,
)
from rnnkit.errors import DataError

# ------------------------------------------------------------------------------ tokenize


def test_docstring_examples() -> None:
    result = doctest.testmod(text_module)
    assert result.attempted >= 3 and result.failed == 0


def test_html_line_breaks_and_tags_become_spaces() -> None:
    assert tokenize("Great<br /><br />movie") == ["great", "movie"]
    assert tokenize("one<br>two<BR/>three<br/>four") == ["one", "two", "three", "four"]
    assert tokenize('<i>Really</i> <p class="x">good</p>') == ["really", "good"]
    # not tags: a comparison, a heart, a lone bracket
    assert tokenize("a < b > c") == ["a", "<", "b", ">", "c"]
    assert tokenize("i <3 it") == ["i", "<", "3", "it"]
    assert strip_html("x<br />y &amp; z") == "x y & z"


def test_case_is_folded_unless_asked() -> None:
    assert tokenize("The MOVIE Was Good") == ["the", "movie", "was", "good"]
    assert tokenize("The MOVIE", lowercase=False) == ["The", "MOVIE"]
    assert tokenize("<BR />Hi", lowercase=False) == ["Hi"]


def test_punctuation_is_split_off() -> None:
    assert tokenize('Hello, world! (Really?) "Yes"; ok: fine.') == [
        "hello", ",", "world", "!", "(", "really", "?", ")", '"', "yes", '"', ";",
        "ok", ":", "fine", ".",
    ]  # fmt: skip
    assert tokenize("well-made") == ["well", "-", "made"]
    assert tokenize("Wow!!!") == ["wow", "!", "!", "!"]
    assert tokenize("so... bad.... ok") == ["so", "...", "bad", "....", "ok"]
    assert tokenize("snake_case") == ["snake", "_", "case"]


def test_apostrophes_inside_words_are_kept() -> None:
    assert tokenize("I don't think it's the director's best") == [
        "i", "don't", "think", "it's", "the", "director's", "best",
    ]  # fmt: skip
    assert tokenize("don\u2019t") == ["don't"]  # typographic apostrophe
    # a quoting or trailing apostrophe is punctuation
    assert tokenize("'Jaws' and the actors' work") == [
        "'", "jaws", "'", "and", "the", "actors", "'", "work",
    ]  # fmt: skip


def test_numbers_are_kept() -> None:
    assert tokenize("3.5/10, 1,000 extras in 1990s, 2nd time") == [
        "3.5", "/", "10", ",", "1,000", "extras", "in", "1990s", ",", "2nd", "time",
    ]  # fmt: skip
    assert tokenize("Rated 7.") == ["rated", "7", "."]


def test_unicode_letters_and_ellipses() -> None:
    assert tokenize("Café naïve CLICHÉ") == ["café", "naïve", "cliché"]
    assert tokenize("wait\u2026 what\x85no") == ["wait", "...", "what", "...", "no"]
    assert tokenize("") == [] and tokenize(" \n\t ") == []


def _reference_tokenize(s: str) -> list[str]:
    """The documented rules as a plain character scanner (no regular expressions)."""
    s = s.lower().replace("\u2019", "'").replace("\u2026", "...").replace("\x85", "...")
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c.isdecimal():  # a number with separators?
            j = i
            while j < n and s[j].isdecimal():
                j += 1
            separated = False
            while j + 1 < n and s[j] in ".," and s[j + 1].isdecimal():
                j += 1
                while j < n and s[j].isdecimal():
                    j += 1
                separated = True
            if separated:
                out.append(s[i:j])
                i = j
                continue
        if c.isalnum():  # a word, apostrophes inside it kept
            j = i
            while j < n and s[j].isalnum():
                j += 1
            while j + 1 < n and s[j] == "'" and s[j + 1].isalnum():
                j += 1
                while j < n and s[j].isalnum():
                    j += 1
            out.append(s[i:j])
            i = j
            continue
        if c == "." and i + 1 < n and s[i + 1] == ".":
            j = i
            while j < n and s[j] == ".":
                j += 1
            out.append(s[i:j])
            i = j
            continue
        out.append(c)
        i += 1
    return out


def test_tokenize_matches_a_character_scanner_on_random_text() -> None:
    alphabet = "aB1 2 z.,'!-_\t\n\u2019\u2026\x85é²٣()?"
    rng = random.Random(0)
    for _ in range(3000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        assert tokenize(s) == _reference_tokenize(s), repr(s)


def test_tokenize_with_offsets_splits_conll_style_and_points_into_the_text() -> None:
    text = "O’Brien’s  EU-wide plan (a.m.) won’t cost 1,000 € on 1996-08-22...\tok?"
    tokens = tokenize_with_offsets(text)
    assert [t.text for t in tokens] == [
        "O’Brien",
        "’s",
        "EU-wide",
        "plan",
        "(",
        "a.m.",
        ")",
        "wo",
        "n’t",
        "cost",
        "1,000",
        "€",
        "on",
        "1996-08-22",
        "...",
        "ok",
        "?",
    ]
    # offsets: each token is its slice of the text; they run left to right without overlap,
    # and only whitespace lies between them (nothing else is dropped)
    assert all(isinstance(t, Token) and text[t.start : t.end] == t.text for t in tokens)
    ends = [0] + [t.end for t in tokens]
    gaps = [text[end : t.start] for end, t in zip(ends, tokens)] + [text[tokens[-1].end :]]
    assert all(not gap.strip() for gap in gaps)
    assert tokenize_with_offsets(" \n\t ") == []


def test_char_tokenize() -> None:
    assert char_tokenize("Hi all\n") == ["H", "i", " ", "a", "l", "l", "\n"]
    assert char_tokenize("Hi", lowercase=True) == ["h", "i"]
    assert "".join(char_tokenize("a<br />b &amp; c", strip_tags=True)) == "a b & c"
    assert char_tokenize("") == []


# ----------------------------------------------------------------------------- read_text


def test_read_text_plain_gzip_bom_and_newlines(tmp_path: Path) -> None:
    content = "first line\nsecond\tline é\n"
    (tmp_path / "a.txt").write_text(content, encoding="utf-8")
    with gzip.open(tmp_path / "a.txt.gz", "wt", encoding="utf-8") as f:
        f.write(content)
    (tmp_path / "gzip-without-suffix").write_bytes(gzip.compress(content.encode()))
    (tmp_path / "crlf.txt").write_bytes(b"\xef\xbb\xbfone\r\ntwo\rthree\n")
    assert read_text(tmp_path / "a.txt") == content
    assert read_text(str(tmp_path / "a.txt.gz")) == content
    assert read_text(tmp_path / "gzip-without-suffix") == content
    assert read_text(tmp_path / "crlf.txt") == "one\ntwo\nthree\n"


@pytest.mark.parametrize("compressed", [False, True])
def test_read_text_names_line_and_byte_of_bad_utf8(tmp_path: Path, compressed: bool) -> None:
    data = "ok line\nsecond é\n".encode() + b"third caf\xe9 line\n"
    bad_offset = data.index(b"\xe9")
    path = tmp_path / ("latin1.txt.gz" if compressed else "latin1.txt")
    path.write_bytes(gzip.compress(data) if compressed else data)
    with pytest.raises(DataError) as info:
        read_text(path)
    err = info.value
    assert err.path == str(path) and err.line == 3
    message = str(err)
    assert message.startswith(f"{path}:3: not valid UTF-8")
    assert f"byte offset {bad_offset}" in message and "0xe9" in message
    assert "byte 10 of this line" in message  # "third caf" is 9 bytes
    assert ("decompressed" in message) == compressed


def test_read_text_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_text(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="is a directory"):
        read_text(tmp_path)
    (tmp_path / "fake.gz").write_text("plain text")
    with pytest.raises(DataError, match="not gzip-compressed"):
        read_text(tmp_path / "fake.gz")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(b"x" * 10000)[:30])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        read_text(tmp_path / "cut.gz")
    (tmp_path / "empty.gz").write_bytes(b"")
    assert read_text(tmp_path / "empty.gz") == ""
