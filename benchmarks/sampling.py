"""Sampling speed: one sample at a time against N samples drawn together as one batch.

Two untrained models of the presets' sizes (no data needed; the weights do not change the
work): the text recipe's character model (an LSTM over a 67-character vocabulary) and the
music recipe's chorale model (an LSTM over 88-key frames with the NADE within-frame output,
whose sampler runs a loop over the 88 keys of every frame). For each N:

  loop      `LanguageModel.generate`, one sample after another, N times: the kernel runs on a
            batch of one at every step (the only way before batched sampling)
  batched   `LanguageModel.generate_batch` with N rows: one kernel call per step for all N
            samples, and each key step of the NADE loop draws that key for all N rows

The loop's rate does not depend on N, so it is measured on at most --loop-samples samples
(all N of them when N is smaller). Figures: characters per second (text) and frames per
second (music), and the batched / loop speedup.

    python benchmarks/sampling.py                      # both models, N = 1, 16, 64, 256
    python benchmarks/sampling.py --threads 2 --sizes 1 64
    python benchmarks/sampling.py --text-preset small --device cuda
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import markdown_table, time_interleaved

from rnnkit.models.language_model import LanguageModel
from rnnkit.tasks import music, text


def text_model(preset: str) -> tuple[LanguageModel, Tensor]:
    """The text preset's character model, untrained, and a prime of <bos> (id 1)."""
    config = text.PRESETS[preset].model  # vocab_size 67: Tiny Shakespeare's
    return text.new_model(config), torch.tensor([1])


def music_model(preset: str) -> tuple[LanguageModel, Tensor]:
    """The music preset's chorale model (NADE, highest key first), untrained, and the start
    frame as its prime."""
    config = music.PRESETS[preset].model
    return LanguageModel(config), torch.zeros(1, music.KEYS)


def measure(
    model: LanguageModel, prime: Tensor, steps: int, n: int, args: argparse.Namespace
) -> tuple[float, float]:
    """(loop, batched) elements per second for n samples of `steps` elements, the two timed
    round-robin (`time_interleaved`: warm-up, then alternating repeats, medians)."""
    gen = torch.Generator().manual_seed(0)
    loop_n = min(n, args.loop_samples)

    def loop() -> None:
        for _ in range(loop_n):
            model.generate(steps, prime, generator=gen)

    def batched() -> None:
        model.generate_batch(steps, [prime] * n, generator=gen)

    ms = time_interleaved(
        {"loop": loop, "batched": batched}, torch.device(args.device), args.repeats, warmup=1
    )
    return loop_n * steps / ms["loop"] * 1e3, n * steps / ms["batched"] * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 64, 256], help="values of N")
    p.add_argument("--text-preset", default="default", choices=sorted(text.PRESETS))
    p.add_argument("--music-preset", default="default", choices=sorted(music.PRESETS))
    p.add_argument("--text-steps", type=int, default=200, help="characters per sample")
    p.add_argument("--music-steps", type=int, default=32, help="frames per sample")
    p.add_argument("--loop-samples", type=int, default=4, help="most samples the loop times")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (the median counts)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {
        f"text ({args.text_preset}), chars/s": (text_model(args.text_preset), args.text_steps),
        f"music ({args.music_preset}, NADE), frames/s": (
            music_model(args.music_preset),
            args.music_steps,
        ),
    }
    rows = []
    for name, ((model, prime), steps) in models.items():
        model = model.to(args.device).eval()
        for n in args.sizes:
            loop_rate, batched_rate = measure(model, prime, steps, n, args)
            rows.append(
                [
                    name,
                    str(n),
                    f"{loop_rate:,.0f}",
                    f"{batched_rate:,.0f}",
                    f"{batched_rate / loop_rate:.1f}x",
                ]
            )
    print(
        f"device {args.device}, {args.threads} thread(s); text {args.text_steps} chars and "
        f"music {args.music_steps} frames per sample"
    )
    print(markdown_table(["model, unit", "N", "loop (1 at a time)", "batched", "speedup"], rows))


if __name__ == "__main__":
    main()
