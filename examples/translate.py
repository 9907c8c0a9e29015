"""Sequence to sequence on each bundled dataset: train, print the table, translate new text.

Trains the default configuration of ``rnnkit.tasks.seq2seq`` (the ``translate`` task, or
``summarize`` for AESLC) on one bundled parallel dataset within a time budget, prints the
validation table — beam search and greedy beside the copy-the-source (or lead) baseline — and
decodes a few new sources with the saved artifact, writing their attention heatmaps. Usage::

    python examples/translate.py --dataset addition --max-time 10m   # 3-digit sums
    python examples/translate.py --dataset multi30k-de-en --max-time 30m
    python examples/translate.py --dataset multi30k-en-de --max-time 30m
    python examples/translate.py --dataset cmudict --max-time 20m    # grapheme -> phoneme
    python examples/translate.py --dataset aeslc --max-time 30m      # email -> subject
    python examples/translate.py --dataset dates --max-time 5m
    python examples/translate.py --dataset reversal --max-time 5m

Multi30k and AESLC are read from the data directory ($RNNKIT_DATA, or ../shared/data when
present): ``rnnkit datasets download multi30k`` fetches them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import rnnkit

EXAMPLES = {
    "multi30k-de-en": ["Ein Hund rennt über eine grüne Wiese.", "Zwei Kinder spielen im Sand."],
    "multi30k-en-de": ["A dog runs across a green meadow.", "Two children play in the sand."],
    "aeslc": ["Please find attached the budget for next quarter. Let me know if you have "
              "questions before Friday's meeting."],
    "cmudict": ["r e c u r r e n t", "n e t w o r k"],
    "addition": ["123+456", "999+1"],
    "dates": ["March 3rd, 2021", "24/12/99"],
    "reversal": ["hello42", "abcdef"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=sorted(EXAMPLES), default="addition")
    p.add_argument("--max-time", default="10m", help="training budget, e.g. 30m")
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args()

    task = "summarize" if args.dataset == "aeslc" else "translate"
    outcome = rnnkit.train(task, data=args.dataset, max_time=args.max_time,
                           runs_root=str(args.out), quiet=args.quiet)
    print(outcome.summary)
    loaded = rnnkit.load(outcome.run_dir)
    frame = rnnkit.predict(loaded, {"data": EXAMPLES[args.dataset],
                                    "attention_plot": str(outcome.run_dir / "examples.png")})
    for source, output in zip(frame["source"], frame["output"], strict=True):
        print(f"{source}\n  -> {output}")
    print(f"attention heatmaps: {outcome.run_dir / 'examples.png'}")


if __name__ == "__main__":
    main()
