"""Video clips: files and frame folders written and read back, frame order, resizing and
grayscale against hand computations, every bad input as a one-line DataError naming the file;
the moving-digit clips' motions, splits and per-frame labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("av")
pytest.importorskip("sklearn")

from PIL import Image

from rnnkit.data.moving_digits import (
    MOTIONS,
    SPLITS,
    MovingDigitsSpec,
    _render,
    make_clips,
    write_moving_digits,
)
from rnnkit.data.video import (
    FrameSpec,
    decode_clip,
    frame_number,
    read_clip,
    read_clip_labels,
    to_frames,
    write_frame_folder,
    write_video,
)
from rnnkit.errors import DataError, RnnkitError


def random_clip(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("shape", [(5, 12, 16), (4, 12, 16, 3)])
def test_lossless_video_round_trip_is_exact(tmp_path: Path, shape: tuple[int, ...]) -> None:
    clip = random_clip(shape)
    path = write_video(tmp_path / "clip.mkv", clip)
    rgb = decode_clip(path)
    expected = clip if clip.ndim == 4 else np.repeat(clip[..., None], 3, axis=-1)
    assert rgb.dtype == np.uint8 and np.array_equal(rgb, expected)
    gray = read_clip(path, FrameSpec(12, 16, grayscale=clip.ndim == 3))
    if clip.ndim == 3:  # gray read back as gray: the luma of R = G = B = v is v
        assert torch.allclose(gray[:, 0] * 255, torch.from_numpy(clip).float(), atol=1e-3)


def test_lossy_video_round_trip_is_close(tmp_path: Path) -> None:
    clip = np.zeros((6, 32, 32, 3), dtype=np.uint8)
    for t in range(6):  # a bright square moving right on a dark ground
        clip[t, 10:22, 4 + 2 * t : 16 + 2 * t] = (200, 180, 160)
    rgb = decode_clip(write_video(tmp_path / "clip.mp4", clip)).astype(float)
    assert rgb.shape == clip.shape
    assert np.abs(rgb - clip).mean() < 4.0  # mpeg4 keeps it close, not exact
    with pytest.raises(RnnkitError, match="even height and width"):
        write_video(tmp_path / "odd.mp4", clip[:, :31])


def test_frame_folder_is_read_in_numeric_order(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for n in (10, 2, 1, 33):  # name order would be 1, 10, 2, 33
        Image.fromarray(np.full((4, 6), n, dtype=np.uint8)).save(folder / f"frame_{n}.png")
    rgb = decode_clip(folder)
    assert rgb.shape == (4, 4, 6, 3) and rgb[:, 0, 0, 0].tolist() == [1, 2, 10, 33]
    assert frame_number("img3_v2.jpg") == 2 and frame_number("cover.png") is None
    clip = random_clip((3, 8, 8, 3))
    assert np.array_equal(decode_clip(write_frame_folder(tmp_path / "written", clip)), clip)


def test_step_max_frames_resize_and_grayscale_by_hand(tmp_path: Path) -> None:
    clip = random_clip((7, 4, 4, 3), seed=1)
    path = write_video(tmp_path / "clip.mkv", clip)
    x = read_clip(path, FrameSpec(2, 2, grayscale=True, step=3, max_frames=2))
    assert x.shape == (2, 1, 2, 2)  # frames 0 and 3 (6 is beyond max_frames)
    luma = clip.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255  # (T, 4, 4)
    blocks = luma.reshape(7, 2, 2, 2, 2).mean(axis=(2, 4))  # 2x2 area averages
    assert np.allclose(x[:, 0].numpy(), blocks[[0, 3]], atol=1e-6)
    up = to_frames(clip, FrameSpec(8, 6, grayscale=False))
    assert up.shape == (7, 3, 8, 6) and 0 <= float(up.min()) and float(up.max()) <= 1


def test_bad_clips_are_data_errors_naming_the_file(tmp_path: Path) -> None:
    spec = FrameSpec()
    with pytest.raises(DataError, match=r"nowhere.mkv: no such video file or frame folder"):
        read_clip(tmp_path / "nowhere.mkv", spec)
    garbage = tmp_path / "x.mp4"
    garbage.write_bytes(b"\x00\x01garbage, not a video" * 20)
    with pytest.raises(DataError, match=r"x.mp4: not a readable video"):
        read_clip(garbage, spec)
    import av  # an AVI with a video stream and no frames

    with av.open(str(tmp_path / "empty.avi"), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        container.start_encoding()
    with pytest.raises(DataError, match=r"empty.avi: the clip has no frames"):
        read_clip(tmp_path / "empty.avi", spec)
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"none: no frame images \(.png, .jpg, .jpeg\)"):
        read_clip(tmp_path / "none", spec)


def test_bad_frame_folders(tmp_path: Path) -> None:
    sizes = tmp_path / "sizes"
    sizes.mkdir()
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(sizes / "f1.png")
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(sizes / "f2.png")
    with pytest.raises(DataError, match=r"sizes: frame f2.png is 6x5 pixels but f1.png is 6x4"):
        decode_clip(sizes)
    clash = tmp_path / "clash"
    clash.mkdir()
    for name in ("frame_1.png", "frame_01.png"):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(clash / name)
    with pytest.raises(DataError, match=r"frame_01.png and frame_1.png both have number 1"):
        decode_clip(clash)
    (clash / "frame_01.png").rename(clash / "cover.png")
    with pytest.raises(DataError, match=r"cover.png has no number in its name"):
        decode_clip(clash)
    (clash / "cover.png").unlink()
    (clash / "frame_2.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"frame_2.png: not a readable image"):
        decode_clip(clash)


def test_labels_file_errors_name_the_line(tmp_path: Path) -> None:
    write_video(tmp_path / "a.mkv", random_clip((2, 8, 8)))
    tsv = tmp_path / "labels.tsv"
    tsv.write_text("# clips\na.mkv\tleft\n\nb.mkv\tright\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"labels.tsv:4: clip b.mkv: no such video file"):
        read_clip_labels(tmp_path)
    tsv.write_text("a.mkv\tleft\na.mkv right\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"labels.tsv:2: expected clip<TAB>label"):
        read_clip_labels(tsv)
    tsv.write_text("a.mkv\tleft up\n", encoding="utf-8")
    found, items = read_clip_labels(tsv)
    assert found == tsv and items[0].labels == ("left", "up") and items[0].line == 1


def ink_centre(frames: torch.Tensor) -> torch.Tensor:
    """(..., S, S) -> (..., 2) the intensity-weighted (x, y) centre, in pixels."""
    S = frames.shape[-1]
    grid = torch.arange(S, dtype=torch.float32) + 0.5
    mass = frames.sum((-1, -2))
    return torch.stack(
        [(frames.sum(-2) * grid).sum(-1) / mass, (frames.sum(-1) * grid).sum(-1) / mass], -1
    )


def test_moving_digits_move_the_way_they_are_labelled() -> None:
    spec = MovingDigitsSpec(frames=8, size=32, digit_size=14, noise=0.0)
    clips = make_clips("train", 60, seed=3, spec=spec)
    assert clips.frames.shape == (60, 8, 1, 32, 32) and clips.labels.shape == (60,)
    assert torch.bincount(clips.labels, minlength=6).tolist() == [10] * 6  # balanced
    moved = ink_centre(clips.frames[:, -1, 0]) - ink_centre(clips.frames[:, 0, 0])  # (N, 2)
    # at least 0.6 pixels a frame for 7 frames along the motion; turning digits move their
    # ink about the image's centre, which is within a few pixels of the ink's
    directions = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    for motion, direction in directions.items():
        m = clips.labels == MOTIONS.index(motion)
        along = moved[m] @ torch.tensor(direction, dtype=torch.float32)
        assert (along > 4.0).all() and (along > 4 * moved[m].abs().min(1).values).all(), motion
    assert moved[clips.labels >= 4].norm(dim=1).max() < 4.0
    again = make_clips("train", 60, seed=3, spec=spec)
    assert torch.equal(again.frames, clips.frames)
    assert not torch.equal(make_clips("train", 60, seed=4, spec=spec).frames, clips.frames)


def test_clockwise_is_clockwise_on_the_screen() -> None:
    """A bar from the centre to the right edge of the image, turned by +30 degrees, points
    down-right on the screen (y grows downwards): clockwise."""
    bar = torch.zeros(1, 8, 8)
    bar[0, 3:5, 4:8] = 1.0
    spec = MovingDigitsSpec(size=32, digit_size=16)
    centre = torch.tensor([[[16.0, 16.0]]])
    drawn = _render(bar, centre, torch.tensor([[np.pi / 6]]), spec)[0, 0]  # (S, S)
    x, y = ink_centre(drawn).tolist()
    assert x > 16 + 2 and y > 16 + 1  # right of, and below, the centre


def test_splits_use_disjoint_digit_images_and_switching_clips() -> None:
    seen = {split: set(make_clips(split, 200, 0).images.tolist()) for split in SPLITS}
    for split, (start, stop) in SPLITS.items():
        assert seen[split] and all(start <= i < stop for i in seen[split])
    spec = MovingDigitsSpec(frames=16, switch=True)
    clips = make_clips("dev", 50, 1, spec)
    assert clips.labels.shape == (50, 16)
    changes = (clips.labels[:, 1:] != clips.labels[:, :-1]).sum(1)
    assert changes.tolist() == [1] * 50
    first_run = (clips.labels == clips.labels[:, :1]).long().cumprod(1).sum(1)  # k
    assert ((first_run >= 4) & (first_run <= 12)).all()


def test_written_clips_read_back_as_generated(tmp_path: Path) -> None:
    spec = MovingDigitsSpec(frames=6, size=16, digit_size=10)
    tsv = write_moving_digits(tmp_path / "mkv", 4, seed=2, spec=spec)
    clips = make_clips("train", 4, 2, spec)
    _, items = read_clip_labels(tsv)
    assert [i.labels for i in items] == [(MOTIONS[int(y)],) for y in clips.labels]
    x = read_clip(items[1].path, FrameSpec(16, 16))
    assert (x - clips.frames[1]).abs().max() <= 0.5 / 255 + 1e-6  # only 8-bit rounding
    frames_tsv = write_moving_digits(tmp_path / "png", 2, 2, spec=spec, format="frames")
    _, items = read_clip_labels(frames_tsv)
    assert items[0].path.is_dir() and read_clip(items[0].path, FrameSpec(16, 16)).shape[0] == 6
    switched = write_moving_digits(tmp_path / "sw", 2, 2, spec=MovingDigitsSpec(switch=True))
    assert len(read_clip_labels(switched)[1][0].labels) == 16
