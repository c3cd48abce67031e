"""Video: a per-frame image encoder, then the recurrent stack over the frames' features.

Shape alphabet: B batch, T frames, C channels, H x W pixels, F frame features, H' the stack's
output size, K classes (K, not C, here: C counts channels).

    x<t>  (B, T, C, H, W)   frame t of each clip
    f<t> = CNN(x<t>)        (B, T, F)   the same CNN on every frame, each frame alone
    a<t> = RNN(f<t>, a<t-1>) (B, T, H')
    many-to-one:  ŷ = softmax(W_ya pool_t(a<t>) + b_y)   (B, K)     one activity per clip
    many-to-many: ŷ<t> = softmax(W_ya a<t> + b_y)        (B, T, K)  one per frame

The recurrent stack and the heads are `SequenceClassifier` and `SequenceTagger` themselves,
reading the (B, T, F) frame features as their float frames; only the frame encoder is new.
Padded frames (beyond a clip's length) are never run through the CNN: their features are 0
and the recurrent stack masks them as for any sequence.

The frame encoder is a small CNN (blocks of 3x3 convolution, batch normalisation, ReLU and
2x2 max pooling, then a Dense layer to F features), or, with `backbone="resnet18"` (any
torchvision model name), that torchvision model with its pretrained weights frozen and its
classifier removed, followed by a trainable Dense layer to F. torchvision is no dependency of
rnnkit: it is imported only for a backbone, and its weights are never downloaded here: they
must already be in torchvision's cache (`torch.hub.get_dir()/checkpoints`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.models.base import BatchModel, ModelOutput
from rnnkit.models.checks import check_int
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.registry import register_architecture
from rnnkit.models.summary import LayerRow, count_parameters
from rnnkit.models.tagger import SequenceTagger, TaggerConfig


@dataclass(frozen=True)
class FrameEncoderConfig:
    """How one frame (C, H, W) becomes F features."""

    # C, each frame's channels (1 gray, 3 RGB); the video task sets it from its data.
    in_channels: int = 1
    # H x W, each frame's size in pixels; the video task sets it from its data.
    frame_height: int = 32
    frame_width: int = 32
    # Blocks of the small CNN: 3x3 convolution, batch norm, ReLU, 2x2 max pooling ...
    conv_layers: int = 3
    # ... with this many feature maps in the first block, twice as many in each next one.
    conv_channels: int = 16
    # F, the features of each frame (a Dense layer with ReLU over the last block's maps).
    frame_features: int = 64
    # "": the small CNN. Else a torchvision model name (resnet18, ...): its pretrained
    # weights, frozen, from torchvision's cache (never downloaded by rnnkit).
    backbone: str = ""

    def __post_init__(self) -> None:
        me = "FrameEncoderConfig"
        for name in ("in_channels", "frame_height", "frame_width", "conv_layers"):
            check_int(me, name, getattr(self, name), 1)
        check_int(me, "conv_channels", self.conv_channels, 1)
        check_int(me, "frame_features", self.frame_features, 1)
        smallest = min(self.frame_height, self.frame_width)
        if not self.backbone and smallest < 2**self.conv_layers:
            raise RnnkitError(
                f"--conv-layers {self.conv_layers} halves the frames {self.conv_layers} times: "
                f"they need at least {2**self.conv_layers} pixels a side, got {smallest}"
            )


def _default_sequence() -> ClassifierConfig:
    encoder = EncoderConfig(num_features=64, cell="gru", hidden_size=64)
    return ClassifierConfig(encoder=encoder, num_classes=6, pooling="mean")


@dataclass(frozen=True)
class VideoConfig:
    frames: FrameEncoderConfig = field(default_factory=FrameEncoderConfig)
    # The recurrent stack and head over the frame features: a ClassifierConfig (one label
    # per clip) or a TaggerConfig (one per frame); its encoder reads num_features = F.
    sequence: ClassifierConfig | TaggerConfig = field(default_factory=_default_sequence)

    @property
    def num_classes(self) -> int:
        """K, the classes (of each clip, or of each frame): what `rnnkit.tasks.labelled`
        reads from a model's config."""
        seq = self.sequence
        return seq.num_tags if isinstance(seq, TaggerConfig) else seq.num_classes


class SmallCNN(nn.Module):
    """x (N, C, H, W) -> (N, F): `conv_layers` blocks [conv 3x3 -> BN -> ReLU -> max pool 2],
    then f = ReLU(W flatten(maps) + b)."""

    def __init__(self, config: FrameEncoderConfig):
        super().__init__()
        blocks: list[nn.Module] = []
        c_in, h, w = config.in_channels, config.frame_height, config.frame_width
        self.shapes: list[tuple[int, int, int]] = []  # each block's output (c, h, w)
        for i in range(config.conv_layers):
            c = config.conv_channels * 2**i
            conv = nn.Conv2d(c_in, c, kernel_size=3, padding=1, bias=False)  # BN adds the bias
            blocks.append(nn.Sequential(conv, nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)))
            c_in, h, w = c, h // 2, w // 2
            self.shapes.append((c, h, w))
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Linear(c_in * h * w, config.frame_features)

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)  # (N, c, h, w), halved each block
        return F.relu(self.out(x.flatten(1)))  # (N, F)

    def layer_rows(self) -> list[LayerRow]:
        rows = []
        for i, (block, (c, h, w)) in enumerate(zip(self.blocks, self.shapes, strict=True)):
            name = f"conv{i + 1} (Conv2D {c} 3x3, BatchNorm, ReLU, MaxPool 2)"
            rows.append(LayerRow(name, f"(B, T, {c}, {h}, {w})", count_parameters(block)))
        shape = f"(B, T, {self.out.out_features})"
        rows.append(LayerRow("frame features (Dense, ReLU)", shape, count_parameters(self.out)))
        return rows


def _torchvision(name: str) -> Any:
    try:
        import torchvision
    except ImportError as e:
        raise RnnkitError(
            f"backbone {name!r} is a torchvision model, and torchvision is not installed: "
            "pip install torchvision (or leave --backbone empty for the small CNN)"
        ) from e
    return torchvision


def cached_weights(name: str) -> Any:
    """The default pretrained weights of torchvision model `name`, when their file is in
    torchvision's cache; an RnnkitError saying where they come from otherwise (rnnkit never
    downloads weights)."""
    torchvision = _torchvision(name)
    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError) as e:
        raise RnnkitError(f"backbone {name!r}: not a torchvision model with weights ({e})") from e
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not cached.is_file():
        raise RnnkitError(
            f"backbone {name!r}: its pretrained weights are not in torchvision's cache "
            f"({cached}), and rnnkit does not download them; fetch them once from "
            f"{weights.url} into that folder (or with torchvision.models.get_model"
            f"({name!r}, weights='DEFAULT'))"
        )
    return weights


class Backbone(nn.Module):
    """x (N, C, H, W) -> (N, F): a frozen pretrained torchvision model without its
    classifier (gray frames repeated to 3 channels), then f = ReLU(W g + b), trainable."""

    def __init__(self, config: FrameEncoderConfig):
        super().__init__()
        weights = cached_weights(config.backbone)
        net = _torchvision(config.backbone).models.get_model(config.backbone, weights=weights)
        if hasattr(net, "fc"):
            net.fc = nn.Identity()  # ResNets, GoogLeNet, Inception
        elif hasattr(net, "classifier"):
            net.classifier = nn.Identity()  # VGG, MobileNets, EfficientNets, DenseNets
        elif hasattr(net, "heads"):
            net.heads = nn.Identity()  # vision transformers
        net.requires_grad_(False)
        self.net = net.eval()
        self.name = config.backbone
        probe = torch.zeros(1, 3, config.frame_height, config.frame_width)
        with torch.no_grad():
            size = int(self.net(probe).flatten(1).shape[1])
        self.size = size
        self.out = nn.Linear(size, config.frame_features)

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        self.net.eval()  # frozen: its batch norms keep their pretrained statistics
        return self

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # (N, 3, H, W)
        with torch.no_grad():
            g = self.net(x).flatten(1)  # (N, size)
        return F.relu(self.out(g))  # (N, F)

    def layer_rows(self) -> list[LayerRow]:
        shape = f"(B, T, {self.out.out_features})"
        return [
            LayerRow(
                f"backbone ({self.name}, frozen)",
                f"(B, T, {self.size})",
                count_parameters(self.net),
            ),
            LayerRow("frame features (Dense, ReLU)", shape, count_parameters(self.out)),
        ]


@register_architecture("video", VideoConfig)
class VideoModel(BatchModel):
    """Clips x (B, T, C, H, W) with lengths (B,) -> ModelOutput of the sequence model:
    logits (B, K) (or (B,) for two classes) per clip, or (B, T, K) per frame; see the module
    docstring. Targets: (B,) class ids, or (B, T) per frame (anything on padded frames)."""

    def __init__(self, config: VideoConfig):
        super().__init__()
        self.config = config
        f = config.frames
        self.frames: SmallCNN | Backbone = Backbone(f) if f.backbone else SmallCNN(f)
        seq = config.sequence
        if seq.encoder.num_features != f.frame_features:
            raise RnnkitError(
                f"the sequence encoder reads num_features={seq.encoder.num_features} but each "
                f"frame gives frame_features={f.frame_features}; set them equal"
            )
        self.per_frame = isinstance(seq, TaggerConfig)
        self.sequence: SequenceClassifier | SequenceTagger = (
            SequenceTagger(seq) if isinstance(seq, TaggerConfig) else SequenceClassifier(seq)
        )

    def frame_features(self, batch: Batch) -> Tensor:
        """f<t> (B, T, F) of the real frames, each through the frame encoder alone; 0 on
        padded frames, which the encoder never sees."""
        x = batch.inputs  # (B, T, C, H, W)
        f = self.config.frames
        expected = (f.in_channels, f.frame_height, f.frame_width)
        if x.dim() != 5 or tuple(x.shape[2:]) != expected:
            raise RnnkitError(
                f"expected clips of shape (B, T, C, H, W) = (B, T, {', '.join(map(str, expected))})"
                f", got {tuple(x.shape)}"
            )
        real = self.frames(x[batch.mask])  # (N_real, F)
        out = real.new_zeros(*batch.mask.shape, real.shape[-1])  # (B, T, F)
        out[batch.mask] = real
        return out

    def forward_batch(self, batch: Batch) -> ModelOutput:
        return self.sequence(replace(batch, inputs=self.frame_features(batch)))

    def probabilities(self, logits: Tensor) -> Tensor:
        """Each class's probability: (B, K) per clip ((B,) P(y = 1) for two classes), or
        (B, T, K) per frame."""
        if isinstance(self.sequence, SequenceClassifier):
            return self.sequence.probabilities(logits)
        return self.sequence.head.activate(logits)

    def predict(self, logits: Tensor) -> Tensor:
        """Class ids: (B,) per clip, or (B, T) per frame."""
        if isinstance(self.sequence, SequenceClassifier):
            return self.sequence.predict(logits)
        return logits.argmax(-1)

    def layer_rows(self) -> list[LayerRow]:
        return [*self.frames.layer_rows(), *self.sequence.layer_rows()]
