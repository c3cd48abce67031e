"""Models by architecture: many-to-one, many-to-many (T_x = T_y and, as the encoder-decoder,
T_x != T_y), one-to-many.

Importing this package registers every architecture (`rnnkit.models.registry`).
"""

from rnnkit.models.base import ModelOutput
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.crf_tagger import CRFTagger, CRFTaggerConfig
from rnnkit.models.ctc import (
    CTCHypothesis,
    ctc_align,
    ctc_greedy,
    ctc_loss,
    ctc_nll,
    ctc_prefix_beam,
)
from rnnkit.models.encoder import EncoderConfig, SequenceEncoder
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.registry import build_model, describe_model, register_architecture
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.stateful import StatefulLanguageModel
from rnnkit.models.summary import LayerRow, count_parameters, summary
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.models.video import FrameEncoderConfig, VideoConfig, VideoModel

__all__ = [
    "CRFTagger",
    "CRFTaggerConfig",
    "CTCHypothesis",
    "ClassifierConfig",
    "EncoderConfig",
    "FrameEncoderConfig",
    "LanguageModel",
    "LanguageModelConfig",
    "LayerRow",
    "ModelOutput",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceClassifier",
    "SequenceEncoder",
    "SequenceTagger",
    "StatefulLanguageModel",
    "TaggerConfig",
    "VideoConfig",
    "VideoModel",
    "build_model",
    "count_parameters",
    "ctc_align",
    "ctc_greedy",
    "ctc_loss",
    "ctc_nll",
    "ctc_prefix_beam",
    "describe_model",
    "register_architecture",
    "summary",
]
