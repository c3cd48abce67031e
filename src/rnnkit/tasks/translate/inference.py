"""Using a trained translator: sentences in, translations out (greedy or beam search), BLEU and
chrF on labelled pairs, and the attention heatmap of one translation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import Tensor

from rnnkit.data.batch import Batch
from rnnkit.data.pairs import Pair, tokenize_pairs
from rnnkit.data.sequences import in_order_batches
from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.metrics.translation import corpus_bleu, corpus_chrf, signature
from rnnkit.models.decoding import replace_unknowns
from rnnkit.models.seq2seq import Seq2Seq, collate_pairs
from rnnkit.tasks.recipe import Loaded, TrainedModel, load_run
from rnnkit.tasks.translate.config import TranslateDataConfig
from rnnkit.tasks.translate.pipeline import TranslationPipeline, read_direction, split_pairs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME = "translate"
BATCH_SIZE = 64
T = TypeVar("T")


def load(checkpoint: str | Path) -> Loaded[Seq2Seq, TranslationPipeline, TranslateDataConfig]:
    """The trained encoder-decoder, its pipeline (vocabularies) and its data config."""
    model, meta, data = load_run(checkpoint, NAME, Seq2Seq, TranslateDataConfig)
    return Loaded(model, TranslationPipeline.from_extras(meta.extras, checkpoint), data)


def decode(model: Seq2Seq, sources: Sequence[Tensor], beam: int = 1) -> list[list[int]]:
    """Target ids (without <eos>) of each source (T_x,) ids, in input order: greedy for beam
    1, else beam search; in batches of sources of similar length."""
    return _in_batches(sources, beam, lambda batch: model.generate(batch, beam=beam))


def decode_with_attention(
    model: Seq2Seq, sources: Sequence[Tensor], beam: int = 1
) -> list[tuple[list[int], Tensor]]:
    """(target ids without <eos>, attention (T_y, T_x)) of each source, in input order, by
    beam search (beam 1 is greedy)."""

    def found(batch: Batch) -> list[tuple[list[int], Tensor]]:
        best = model.beam_search(batch, beam=beam, return_attention=True)
        assert best.attention is not None
        return [(list(row), w.cpu()) for row, w in zip(best.tokens, best.attention, strict=True)]

    return _in_batches(sources, beam, found)


def _in_batches(
    sources: Sequence[Tensor], beam: int, run: Callable[[Batch], Sequence[T]]
) -> list[T]:
    """`run` over batches of sources of similar length; its results in input order."""
    if beam < 1:
        raise RnnkitError(f"--beam must be at least 1, got {beam}")
    out: dict[int, T] = {}
    examples: list[tuple[Tensor, Tensor | None]] = [(x, None) for x in sources]
    with torch.no_grad():
        for indices, batch in in_order_batches(examples, BATCH_SIZE, collate_pairs):
            out.update(zip(indices, run(batch), strict=True))
    return [out[i] for i in range(len(sources))]


def score_translations(
    model: Seq2Seq, pipeline: TranslationPipeline, pairs: Sequence[Pair], beam: int = 1
) -> dict[str, Any]:
    """Translate the sources of `pairs` and score them against their raw targets: BLEU as is
    and case-insensitive (the model writes lowercase when trained so), chrF."""
    tokenized = tokenize_pairs(pairs, lowercase=pipeline.lowercase)
    sources = [torch.tensor(pipeline.source.encode(t.source), dtype=torch.int64) for t in tokenized]
    hypotheses = [pipeline.detokenize(ids) for ids in decode(model, sources, beam)]
    references = [p.target for p in pairs]
    return {
        "sentences": len(pairs),
        "beam": beam,
        "bleu": corpus_bleu(hypotheses, references),
        "bleu_uncased": corpus_bleu(hypotheses, references, lowercase=True),
        "chrf": corpus_chrf(hypotheses, references),
        "signature": signature(),  # of "bleu" and "chrf"
        "signature_uncased": signature(lowercase=True),  # of "bleu_uncased"
    }


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    split: str | None = None,
    device: str | torch.device = "cpu",
    beam: int = 5,
) -> dict[str, Any]:
    """BLEU and chrF of a trained translator on a pair file (all of it), or by default on the
    dev split held out of its own training file; decoding greedy (beam 1) or beam search.
    `split` is not used: a pair file is one split."""
    trained = load(checkpoint)
    model = trained.model.to(device)
    if data is not None:
        pairs = read_direction(data, trained.pipeline.direction)
    else:
        if trained.data.path is None:
            raise CheckpointError(f"checkpoint {checkpoint} does not name its data; pass --data")
        all_pairs = read_direction(trained.data.path, trained.data.direction)
        pairs = split_pairs(all_pairs, trained.data.dev_split, 0)[1]
    return score_translations(model, trained.pipeline, pairs, beam)


class Translator(TrainedModel[Seq2Seq, TranslationPipeline, TranslateDataConfig]):
    """A trained translator loaded once from a checkpoint, ready for many sentences.

    >>> Translator("runs/translate/best").translate(["Voulez-vous chanter avec moi ?"])
    ... # doctest: +SKIP
    ['Do you want to sing with me?']
    """

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu"):
        super().__init__(load(checkpoint), checkpoint, device)

    def sources(self, texts: Sequence[str], first: int = 1) -> list[Tensor]:
        """The source ids of each text; errors name it as `text N`, texts[0] being `first`."""
        if isinstance(texts, str):
            raise RnnkitError("translate expects a list of texts, got a single string: [text]")
        return [self.pipeline.encode_source(t, f"text {i}") for i, t in enumerate(texts, first)]

    def translate(
        self, texts: Sequence[str], beam: int = 5, copy_unknowns: bool = False, first: int = 1
    ) -> list[str]:
        """The translation of each text (one sentence each), in order. With `copy_unknowns`
        each `<unk>` of a translation becomes the source word (as written) that the attention
        weighted most at that step: names and numbers the vocabulary lacks pass through.
        `first`: the number of texts[0] in error messages (of a chunk of a longer stream)."""
        sources = self.sources(texts, first)
        if not copy_unknowns:
            return [self.pipeline.detokenize(row) for row in decode(self.model, sources, beam)]
        if self.model.decoder.attention is None:
            raise RnnkitError("--copy-unknowns needs a model with attention")
        out = []
        for text, (row, weights) in zip(texts, decode_with_attention(self.model, sources, beam)):
            source = self.pipeline.tokens(text, lowercase=False)  # as written
            if len(source) != weights.shape[1]:  # lowercasing split a character: as read
                source = self.pipeline.tokens(text)
            copied = replace_unknowns(self.pipeline.target_tokens(row), source, weights)
            out.append(self.pipeline.detokenize_tokens(copied))
        return out

    def attention(self, text: str, beam: int = 5) -> tuple[list[str], list[str], Tensor]:
        """(source tokens, target tokens, attention weights (T_y, T_x)) of one translation."""
        (x,) = self.sources([text])
        with torch.no_grad():
            best = self.model.beam_search(x[None], beam=beam, return_attention=True)
        assert best.attention is not None
        return (
            self.pipeline.tokens(text),
            self.pipeline.target_tokens(best.tokens[0]),
            best.attention[0].cpu(),
        )


def translate(
    checkpoint: str | Path,
    texts: Sequence[str],
    beam: int = 5,
    device: str = "cpu",
    copy_unknowns: bool = False,
) -> list[str]:
    """Translate texts with the model of a checkpoint (see `Translator.translate`)."""
    return Translator(checkpoint, device).translate(texts, beam, copy_unknowns)


def plot_attention(
    source: Sequence[str], target: Sequence[str], weights: Tensor, path: str | Path
) -> Path:
    """A heatmap of the attention weights alpha<t, t'>: the target words down, the source
    words across; written as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = _attention_figure(source, target, weights)
    out = Path(path)
    FigureCanvasAgg(figure).print_png(str(out))
    return out


def _attention_figure(source: Sequence[str], target: Sequence[str], weights: Tensor) -> Figure:
    from matplotlib.figure import Figure

    rows = min(len(target), weights.shape[0])
    figure = Figure(figsize=(1 + 0.45 * len(source), 1 + 0.4 * max(rows, 1)), dpi=100)
    ax = figure.add_subplot()
    ax.imshow(weights[:rows, : len(source)].numpy(), cmap="Greys", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(source)), list(source), rotation=60, ha="right")
    ax.set_yticks(range(rows), list(target[:rows]))
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    figure.tight_layout()
    return figure
