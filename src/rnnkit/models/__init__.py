"""Models by architecture: many-to-one, many-to-many (T_x = T_y), one-to-many."""

# Imported for its registration with rnnkit.models.io, so that load_model knows "crf_tagger".
from rnnkit.models import crf_tagger as _crf_tagger  # noqa: F401
from rnnkit.models.base import ModelOutput
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig, SequenceEncoder
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.summary import LayerRow, count_parameters, summary
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

__all__ = [
    "ClassifierConfig",
    "EncoderConfig",
    "LanguageModel",
    "LanguageModelConfig",
    "LayerRow",
    "ModelOutput",
    "SequenceClassifier",
    "SequenceEncoder",
    "SequenceTagger",
    "TaggerConfig",
    "count_parameters",
    "summary",
]
