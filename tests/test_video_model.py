"""The video model: shapes, the frame CNN seeing each frame alone, padding that changes
nothing, overfitting a tiny batch with either head, the summary, and the backbone's errors."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from rnnkit.errors import RnnkitError
from rnnkit.models import build_model, describe_model, summary
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.encoder import EncoderConfig
from rnnkit.models.tagger import TaggerConfig
from rnnkit.models.video import FrameEncoderConfig, VideoConfig, VideoModel

F = 12


def small(per_frame: bool = False, classes: int = 3, channels: int = 1) -> VideoModel:
    frames = FrameEncoderConfig(
        in_channels=channels, frame_height=8, frame_width=12, conv_layers=2, conv_channels=4,
        frame_features=F,
    )  # fmt: skip
    encoder = EncoderConfig(num_features=F, cell="gru", hidden_size=16, bidirectional=per_frame)
    sequence: ClassifierConfig | TaggerConfig = (
        TaggerConfig(encoder=encoder, num_tags=classes)
        if per_frame
        else ClassifierConfig(encoder=encoder, num_classes=classes, pooling="mean")
    )
    return VideoModel(VideoConfig(frames, sequence))


def test_shapes_of_both_heads() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3, 8, 12)  # (B, T, C, H, W)
    lengths = torch.tensor([5, 3])
    clip = small(channels=3)(x, lengths, torch.tensor([0, 2]))
    assert clip.logits.shape == (2, 3) and clip.loss is not None and int(clip.count) == 2
    frames = small(per_frame=True, channels=3)(x, lengths, torch.zeros(2, 5, dtype=torch.long))
    assert frames.logits.shape == (2, 5, 3) and int(frames.count) == 8  # real frames
    with pytest.raises(RnnkitError, match=r"expected clips of shape \(B, T, C, H, W\) = "):
        small()(x, lengths)


def test_each_frame_is_encoded_alone() -> None:
    torch.manual_seed(1)
    model = small().eval()
    x = torch.randn(3, 4, 1, 8, 12)
    lengths = torch.tensor([4, 4, 2])
    from rnnkit.models.base import as_batch

    features = model.frame_features(as_batch(x, lengths))  # (B, T, F)
    assert features.shape == (3, 4, F)
    for b, t in [(0, 0), (1, 3), (2, 1)]:
        alone = model.frames(x[b, t][None])[0]  # the CNN on that one frame
        assert torch.allclose(features[b, t], alone, atol=1e-6)
    assert torch.equal(features[2, 2:], torch.zeros(2, F))  # padded frames: never encoded


def test_padded_frames_do_not_change_the_clip_output() -> None:
    torch.manual_seed(2)
    model = small().eval()
    clip = torch.randn(1, 3, 1, 8, 12)
    alone = model(clip, torch.tensor([3])).logits
    padded = torch.cat([clip, 100 * torch.randn(1, 4, 1, 8, 12)], dim=1)  # garbage padding
    other = torch.randn(1, 7, 1, 8, 12)
    both = model(torch.cat([padded, other]), torch.tensor([3, 7])).logits
    assert torch.allclose(both[0], alone[0], atol=1e-5)


@pytest.mark.parametrize("per_frame", [False, True])
def test_overfits_a_tiny_batch(per_frame: bool) -> None:
    torch.manual_seed(3)
    model = small(per_frame=per_frame)
    x = torch.randn(4, 5, 1, 8, 12)
    lengths = torch.tensor([5, 4, 5, 3])
    targets = (
        torch.tensor([[0, 1, 2, 1, 0], [2, 2, 1, 0, 0], [1, 0, 0, 2, 2], [0, 2, 1, 0, 0]])
        if per_frame
        else torch.tensor([0, 1, 2, 1])
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(120):
        out = model(x, lengths, targets)
        assert out.loss is not None
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    model.eval()
    found = model.predict(model(x, lengths).logits)
    if per_frame:
        mask = torch.arange(5)[None] < lengths[:, None]
        assert torch.equal(found[mask], targets[mask])
    else:
        assert torch.equal(found, targets)


def test_summary_rebuild_and_config_checks() -> None:
    model = small(per_frame=True)
    table = summary(model)  # asserts that its rows count every parameter
    assert "conv1 (Conv2D 4 3x3, BatchNorm, ReLU, MaxPool 2)" in table
    assert "(B, T, 8, 2, 3)" in table and "frame features (Dense, ReLU)" in table
    rebuilt = build_model(describe_model(model))
    assert isinstance(rebuilt, VideoModel) and rebuilt.config == model.config
    assert model.config.num_classes == 3
    with pytest.raises(RnnkitError, match="they need at least 16 pixels a side, got 8"):
        FrameEncoderConfig(frame_height=8, conv_layers=4)
    with pytest.raises(RnnkitError, match="reads num_features=5 but each frame gives"):
        VideoModel(VideoConfig(sequence=ClassifierConfig(encoder=EncoderConfig(num_features=5))))


@pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed"
)
def test_a_backbone_without_torchvision_says_what_to_install() -> None:
    with pytest.raises(RnnkitError, match="torchvision is not installed: pip install torchvision"):
        VideoModel(VideoConfig(frames=FrameEncoderConfig(backbone="resnet18")))
