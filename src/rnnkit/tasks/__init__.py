"""Task recipes: one module per application, each fulfilling the contract of
`rnnkit.tasks.recipe.Recipe` (mypy checks every entry of RECIPES against it).

    from rnnkit.tasks import RECIPES
    recipe = RECIPES["sentiment"]
    result = recipe.train(recipe.PRESETS["lecture"])
"""

from __future__ import annotations

from typing import Any

from rnnkit.data.lines import (  # for the command line, which reads no data
    CHUNK_LINES,
    STDIN,
    chunked,
    read_lines,
    stream_lines,
)
from rnnkit.tasks import activity, dna, music, ner, sentiment, speech, text, translate, video
from rnnkit.tasks.activity.config import ActivityConfig
from rnnkit.tasks.dna.config import DNAConfig
from rnnkit.tasks.music import MusicConfig
from rnnkit.tasks.ner import NERConfig
from rnnkit.tasks.recipe import Loaded, Prepared, Recipe, run_training
from rnnkit.tasks.sentiment import SentimentConfig
from rnnkit.tasks.speech.config import SpeechConfig
from rnnkit.tasks.text import TextConfig
from rnnkit.tasks.translate import TranslateConfig
from rnnkit.tasks.video.config import VideoTaskConfig

# Each module checked against the contract with its own config type.
_music: Recipe[MusicConfig] = music
_sentiment: Recipe[SentimentConfig] = sentiment
_ner: Recipe[NERConfig] = ner
_text: Recipe[TextConfig] = text
_translate: Recipe[TranslateConfig] = translate
_speech: Recipe[SpeechConfig] = speech
_video: Recipe[VideoTaskConfig] = video
_dna: Recipe[DNAConfig] = dna
_activity: Recipe[ActivityConfig] = activity

RECIPES: dict[str, Recipe[Any]] = {
    r.NAME: r
    for r in (_music, _sentiment, _ner, _text, _translate, _speech, _video, _dna, _activity)
}

__all__ = [
    "CHUNK_LINES",
    "RECIPES",
    "STDIN",
    "Loaded",
    "Prepared",
    "Recipe",
    "chunked",
    "read_lines",
    "run_training",
    "stream_lines",
]
