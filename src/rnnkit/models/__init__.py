"""Models by architecture: many-to-one, many-to-many (T_x = T_y), one-to-many."""

from rnnkit.models.base import ModelOutput
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier

# Also registers "crf_tagger" with rnnkit.models.io, so that load_model knows it.
from rnnkit.models.crf_tagger import CRFTagger, CRFTaggerConfig
from rnnkit.models.encoder import EncoderConfig, SequenceEncoder
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.stateful import StatefulLanguageModel
from rnnkit.models.summary import LayerRow, count_parameters, summary
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

__all__ = [
    "CRFTagger",
    "CRFTaggerConfig",
    "ClassifierConfig",
    "EncoderConfig",
    "LanguageModel",
    "LanguageModelConfig",
    "LayerRow",
    "ModelOutput",
    "SequenceClassifier",
    "SequenceEncoder",
    "SequenceTagger",
    "StatefulLanguageModel",
    "TaggerConfig",
    "count_parameters",
    "summary",
]
