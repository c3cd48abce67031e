"""Benchmark: how a chorale model harmonises held-out melodies.

    python benchmarks/music_harmony.py --checkpoint runs/music-jsb/best --pieces 20

For the JSB valid chorales (held out from training): the NLL per step of Bach's own lower
voices given the melody so far (`rnnkit.tasks.harmony.harmony_nll`), and the statistics of
`rnnkit.metrics.music` for the model's harmonisations of the first N melodies (seed i for
piece i, at most four notes a step) beside Bach's harmonisations of the same melodies.
"""

from __future__ import annotations

import argparse
import sys

import torch

from rnnkit.data.melody import top_voice
from rnnkit.data.sequences import epoch_batches
from rnnkit.metrics.music import chorale_statistics
from rnnkit.tasks import music
from rnnkit.tasks.harmony import harmonise, harmony_nll


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True, help="a music model trained on JSB")
    parser.add_argument("--pieces", type=int, default=20, help="melodies to harmonise")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--num-threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.num_threads)
    trained = music.load(args.checkpoint)
    valid = music.load_splits(trained.data)["valid"]
    batches = epoch_batches(music.frame_examples(valid), music.EVAL_BATCH_SIZE, 0, shuffle=False)
    parts = harmony_nll(trained.model, batches(0))
    print(
        f"JSB valid ({len(valid)} chorales), nats per step: whole frame "
        f"{parts['nll_per_step']:.3f} = melody {parts['melody_nll_per_step']:.3f} + lower "
        f"voices given the melody {parts['harmony_nll_per_step']:.3f}"
    )
    chosen = valid[: args.pieces]
    ours = [
        harmonise(trained.model, top_voice(c), args.temperature, top_k=4, seed=i)
        for i, c in enumerate(chosen)
    ]
    print(
        "| harmonisations of the first N melodies | notes per frame | lowest voice | in key "
        "| frame repeats the previous |"
    )
    print("|---|---|---|---|---|")
    for name, pieces in ((f"Bach ({len(chosen)})", chosen), ("rnnkit", ours)):
        s = chorale_statistics(pieces)
        print(
            f"| {name} | {s['notes_per_frame']:.2f} | MIDI {s['lowest'][0]}-{s['lowest'][1]} "
            f"| {100 * s['in_key']:.1f}% | {100 * s['repeats']:.1f}% |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
