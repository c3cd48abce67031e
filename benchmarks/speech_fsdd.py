"""Benchmark: the speech recipe on the Free Spoken Digit Dataset.

    python benchmarks/speech_fsdd.py                    # digits, speakers held out, CTC
    python benchmarks/speech_fsdd.py --runs digits ctc  # some of them
    python benchmarks/speech_fsdd.py --jobs 1           # one run at a time
    python benchmarks/speech_fsdd.py --runs ctc --picture docs/speech_ctc.png

Runs (each a `rnnkit.tasks.speech` training from its preset, 1 CPU thread, two at once by
default on this 2-core machine):
  digits       preset "digits", dev split "takes" (takes 5-9 of every speaker and digit):
               dev accuracy (target >= 99%);
  speaker:NAME the same model trained on the five other speakers, accuracy on every take of
               NAME (a voice it never heard), one run per speaker;
  ctc          preset "ctc": digit error rate on 500 fixed dev strings of 3-7 digits built
               from the dev recordings, greedy and prefix beam search of width 8 (target
               <= 3%).
The dataset's own test split (takes 0-4) is not in the shared folder; where the folder has
it (a fresh `rnnkit data fetch fsdd`), the digits run is scored on it too.

Data: fsdd under RNNKIT_SHARED_DATA (or --data FOLDER).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from _timing import markdown_table

from rnnkit.errors import RnnkitError
from rnnkit.tasks import speech

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def run(name: str, data: str | None, epochs: int | None, folder: str) -> dict[str, Any]:
    """Train one run (in its own process, 1 thread) into folder/NAME and score its best
    checkpoint."""
    torch.set_num_threads(1)
    preset = "ctc" if name == "ctc" else "digits"
    config = speech.PRESETS[preset]
    d = replace(config.data, path=data)
    if name.startswith("speaker:"):
        d = replace(d, dev_split="speaker", held_out_speaker=name.split(":", 1)[1])
    out = Path(folder) / name.replace(":", "-")
    train = replace(config.train, out_dir=str(out), progress=False, num_threads=1, overwrite=True)
    if epochs is not None:
        train = replace(train, epochs=epochs)
    start = time.perf_counter()
    result = speech.train(replace(config, data=d, train=train))
    seconds = time.perf_counter() - start
    best = out / "best"
    row: dict[str, Any] = {"run": name, "seconds": seconds, "epochs": result.epochs_completed}
    if name == "ctc":
        row.update(speech.evaluate(best, beam=8))
    else:
        row.update(speech.evaluate(best))
        if name == "digits":
            try:
                row["test_accuracy"] = speech.evaluate(best, split="test")["accuracy"]
            except RnnkitError:  # the shared folder holds no takes 0-4
                row["test_accuracy"] = None
    return row


def picture(checkpoint: Path, data: str | None, folder: Path, png: Path) -> str:
    """Join jackson's dev takes of 4, 0, 7, 1 with 0.15 s silences into folder/4071.wav and
    draw what the CTC model hears in it (`Transcriber.plot`): the README's picture."""
    from rnnkit.data.audio import read_wav, write_wav
    from rnnkit.tasks.speech.inference import Transcriber

    recordings = speech.data_folder(speech.SpeechDataConfig(path=data))
    if (recordings / "recordings").is_dir():
        recordings = recordings / "recordings"
    gap = torch.zeros(1200)
    parts = [gap]
    for digit, take in ((4, 5), (0, 6), (7, 7), (1, 8)):
        parts += [read_wav(recordings / f"{digit}_jackson_{take}.wav", 8000).samples, gap]
    wav = folder / "4071.wav"
    write_wav(wav, torch.cat(parts), 8000)
    transcript = Transcriber(checkpoint, beam=8).plot(wav, png)
    return f"{png}: heard {transcript.text!r} at {transcript.times} s"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    runs = ["digits", *(f"speaker:{s}" for s in SPEAKERS), "ctc"]
    parser.add_argument("--runs", nargs="+", default=runs, help="digits, speaker:NAME, ctc")
    parser.add_argument("--data", default=None, help="FSDD folder (default: the shared one)")
    parser.add_argument("--epochs", type=int, default=None, help="override the presets' epochs")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, 1 thread each")
    parser.add_argument("--out", default="runs/bench-speech", help="the runs and results.json")
    parser.add_argument("--picture", default=None, help="with the ctc run: draw it to this PNG")
    args = parser.parse_args()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run, r, args.data, args.epochs, args.out) for r in args.runs]
        rows = [f.result() for f in futures]
    table = []
    for r in rows:
        if r["run"] == "ctc":
            score = (
                f"DER greedy {100 * r['error_rate']:.2f}%, beam 8 {100 * r['error_rate_beam']:.2f}%"
            )
        else:
            score = f"accuracy {100 * r['accuracy']:.2f}%"
            if r.get("test_accuracy") is not None:
                score += f" (test {100 * r['test_accuracy']:.2f}%)"
        table.append([r["run"], score, str(r["epochs"]), f"{r['seconds'] / 60:.1f}"])
    print(markdown_table(["run", "dev", "epochs", "train min"], table))
    if args.picture and "ctc" in args.runs:
        best = Path(args.out) / "ctc" / "best"
        print(picture(best, args.data, Path(args.out), Path(args.picture)))
    results = Path(args.out) / "results.json"
    results.write_text(json.dumps(rows, indent=1))
    print(f"\nresults: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
