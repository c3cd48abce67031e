"""Sentences for translation: normalisation, one tokenizer for French and English, and the
English detokenizer that turns a model's output tokens back into text for BLEU.

    normalise(text)                   NFC, typographic quotes and spaces made plain, whitespace
                                      collapsed, stripped (rules below)
    tokenize_pair_text(text)          normalise, lowercase (optional), split into tokens
    detokenize_english(tokens)        tokens -> English text, the inverse of the tokenizer

The lecture's translation model reads the French x<1>, ..., x<T_x> and writes the English
y<1>, ..., y<T_y>, one word a step. BLEU is then computed on *text*: the detokenized output
against the raw English reference, with sacrebleu's own tokenisation (13a) applied to both
(`rnnkit.metrics.translation`), so that scores compare with published ones.

Normalisation (`normalise`), the same for both languages:

1. Unicode NFC (a base letter and a combining accent become the one accented letter);
2. typographic apostrophes and single quotes (U+2019 ’, U+2018 ‘, U+00B4 ´, U+0060 `) -> ';
   double quotes and guillemets (« » “ ” „) -> "; the ellipsis character … -> ...;
3. no-break and narrow no-break spaces (U+00A0, U+202F, U+2009 thin space: French puts them
   before ! ? : ; and inside « ») -> an ordinary space; the invisible soft hyphen (U+00AD) and
   zero-width space (U+200B), both found in the Tatoeba file, are deleted;
4. every run of whitespace -> one space; leading and trailing whitespace removed.

Tokenizer rules (`tokenize_pair_text`), one rule set for both languages, applied left to
right after normalising and lowercasing (accents are kept: `é` stays `é`):

- an abbreviation with periods is one token: `u.s.`, `a.m.`;
- a number with separators is one token: `3.5`, `1,000`, `10:30`;
- English `n't` is split off its word, as in the Penn Treebank: `don't` -> `do n't`,
  `can't` -> `ca n't`;
- English clitics `'s 're 'm 've 'll 'd` are tokens of their own: `it's` -> `it 's`,
  `i'm` -> `i 'm`;
- any other apostrophe inside a word ends the word's first token, which keeps the apostrophe
  (French elision): `j'ai` -> `j' ai`, `c'est` -> `c' est`, `qu'il` -> `qu' il`,
  `aujourd'hui` -> `aujourd' hui`, and English `o'clock` -> `o' clock`;
- a hyphen inside a word starts a token, which keeps the hyphen: `voulez-vous` ->
  `voulez -vous`, `a-t-il` -> `a -t -il`, `well-known` -> `well -known` (so French
  inversions share the pronoun tokens `-vous`, `-tu`, `-il` across verbs);
- a word is then a run of letters and digits (any script); `...` is one token; any other
  non-space character is a token of its own: `.`, `,`, `!`, `?`, `"`, `'`, `$`, `%`.

    >>> tokenize_pair_text("Voulez-vous chanter avec moi ?")
    ['voulez', '-vous', 'chanter', 'avec', 'moi', '?']
    >>> tokenize_pair_text("J’ai dit « non » !")
    ["j'", 'ai', 'dit', '"', 'non', '"', '!']
    >>> tokenize_pair_text("I don't think it's 9:30.")
    ['i', 'do', "n't", 'think', 'it', "'s", '9:30', '.']

Detokenizer rules (`detokenize_english`): tokens are joined by single spaces except that

- no space comes before `. , ! ? ; : % ) ] } ...`, a clitic (`'s`, `n't`, ...) or a hyphen
  token (`-known`), and none after `( [ { $ € £ #` or an elided token (`o'`);
- `/` is written without spaces on either side (`and/or`);
- double quotes alternate: the 1st, 3rd, ... open (no space after), the others close (no
  space before); a lone `'` after a word ending in `s` is a plural possessive (`girls'`),
  otherwise it opens a quote (`'em`);
- the first letter of each sentence (the text's first word and every word after `.`, `!`
  or `?`) is capitalised, and the pronoun `i` becomes `I`.

So `detokenize_english(tokenize_pair_text(s, lowercase=False)) == normalise(s)` for almost
every English sentence (99.9% of the Tatoeba file); with lowercasing the text is equal up to
the case of names (`tom` stays lower case), which the tests measure too, unless a
`truecase_table` of the training sentences gives their usual case (`tom` -> `Tom`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

# Step 2 and 3 of `normalise`: characters replaced by plain ones ("" deletes).
_PLAIN = str.maketrans(
    {
        "\u2019": "'",  # ’
        "\u2018": "'",  # ‘
        "\u00b4": "'",  # ´
        "`": "'",
        "\u00ab": '"',  # «
        "\u00bb": '"',  # »
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u2026": "...",  # …
        "\u00a0": " ",  # no-break space
        "\u202f": " ",  # narrow no-break space
        "\u2009": " ",  # thin space
        "\u00ad": "",  # soft hyphen
        "\u200b": "",  # zero-width space
    }
)
_SPACES = re.compile(r"\s+")

_W = r"[^\W_]"  # a letter or digit in any script: \w without the underscore
_CLITIC = r"'(?:s|re|m|ve|ll|d)\b"
_PAIR_TOKEN = re.compile(
    r"(?:[^\W\d_]\.){2,}"  # abbreviations: u.s.  a.m.
    r"|\d+(?:[.,:]\d+)+"  # numbers: 3.5  1,000  10:30
    rf"|{_W}+?(?=n't\b)"  # the word before n't: do|n't
    r"|n't\b"  # n't
    rf"|{_CLITIC}"  # 's 're 'm 've 'll 'd
    rf"|(?<={_W})-{_W}+"  # a hyphen inside a word starts a token: voulez|-vous
    rf"|{_W}+'(?!{_CLITIC[1:]})(?={_W})"  # elision: j'|ai  qu'|il
    rf"|{_W}+"  # word
    r"|\.{2,}"  # ...
    r"|[^\w\s]|_",  # any other single symbol
    re.IGNORECASE,
)

_NO_SPACE_BEFORE = {".", ",", "!", "?", ";", ":", "%", ")", "]", "}", "...", "n't"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "€", "£", "#"}
_SENTENCE_END = {".", "!", "?"}


def normalise(text: str) -> str:
    """NFC, plain quotes and spaces, whitespace collapsed, stripped (module docstring, 1-4).

    >>> normalise("Ça\u00a0alors\u202f! « Oui »  l’a dit.")
    'Ça alors ! " Oui " l\\'a dit.'
    """
    text = unicodedata.normalize("NFC", text).translate(_PLAIN)
    return _SPACES.sub(" ", text).strip()


def tokenize_pair_text(text: str, *, lowercase: bool = True) -> list[str]:
    """`normalise`, then lowercase (unless `lowercase=False`), then split into tokens by the
    rules of the module docstring (the same for French and English)."""
    text = normalise(text)
    if lowercase:
        text = text.lower()
    return _PAIR_TOKEN.findall(text)


def _is_word(token: str) -> bool:
    return token[:1].isalnum()


def _glue_left(token: str, previous: str, open_quote: bool) -> bool:
    """Whether `token` is written without a space before it (after `previous`)."""
    if token in _NO_SPACE_BEFORE or token == "/":
        return True
    if token.startswith(("'", "-")) and len(token) > 1:  # clitics 's 're, well|-known
        return True
    if token == '"':
        return open_quote  # it closes the open quote
    if token == "'":
        return previous.endswith("s") and _is_word(previous)  # girls'
    return False


def _glue_right(token: str, open_quote: bool, glued: bool) -> bool:
    """Whether the token after `token` is written without a space before it. `open_quote`
    is the state after `token`; `glued` says whether `token` itself was glued on."""
    if token in _NO_SPACE_AFTER or token == "/":
        return True
    if token == '"':
        return open_quote  # it opened a quote
    if token == "'":
        return not glued  # an opening quote, not the possessive girls'
    return len(token) > 1 and token.endswith("'")  # elision: o'|clock


def truecase_table(sentences: Iterable[Sequence[str]]) -> dict[str, str]:
    """How each word is usually written, from tokenized sentences as written: lower-cased word
    -> its most frequent form where that form is not lower case (`tom` -> `Tom`, `paris` ->
    `Paris`). A sentence's first word, and a word after `.`, `!` or `?`, are capitalised
    whatever they are, so they are not counted. Ties keep the lower case.

    >>> truecase_table([["Tom", "met", "Mary", "."], ["I", "saw", "Tom", "."], ["Met", "."]])
    {'mary': 'Mary', 'tom': 'Tom'}
    """
    forms: dict[str, Counter[str]] = {}
    for tokens in sentences:
        for previous, token in zip(["."] + list(tokens), tokens):
            if previous in _SENTENCE_END or not _is_word(token):
                continue
            forms.setdefault(token.lower(), Counter())[token] += 1
    table = {}
    for lower, counts in forms.items():
        (best, n), *rest = counts.most_common(2) + [("", 0)]
        if best != lower and n > rest[0][1] and n > counts[lower]:
            table[lower] = best
    return table


def detokenize_english(tokens: Sequence[str], truecase: Mapping[str, str] | None = None) -> str:
    """English tokens (from `tokenize_pair_text` or a model) -> text, by the rules of the
    module docstring; the first letter of each sentence is capitalised and `i` -> `I`.
    `truecase` (from `truecase_table`) restores the usual case of lower-cased words first.

    >>> detokenize_english(["i", "do", "n't", "think", "it", "'s", "9:30", "."])
    "I don't think it's 9:30."
    >>> detokenize_english(['"', "look", ",", '"', "she", "said", "."])
    '"Look," she said.'
    """
    pieces: list[str] = []
    previous = ""
    attach = True  # the next token is written without a space (at the start, after "(")
    open_quote = False  # inside "...": the next " closes
    sentence_start = True
    for token in tokens:
        if not token:
            continue
        if truecase is not None:
            token = truecase.get(token, token)
        glued = attach or _glue_left(token, previous, open_quote)
        if token == '"':
            open_quote = not open_quote
        if token == "i":
            token = "I"
        elif sentence_start and token[0].isalpha():
            token = token[0].upper() + token[1:]
        if _is_word(token):
            sentence_start = False
        elif token in _SENTENCE_END:
            sentence_start = True
        pieces.append(token if glued else " " + token)
        attach = _glue_right(token, open_quote, glued)
        previous = token
    return "".join(pieces)


__all__ = ["detokenize_english", "normalise", "tokenize_pair_text", "truecase_table"]
