"""``rnnkit generate``: sample text from a trained language model, printed as it is produced."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from rnnkit.api import load_with_task
    from rnnkit.tasks import lm

    task, loaded = load_with_task(args.model)
    if task is not lm.TASK:
        raise ValueError(
            f"model must be a language model (from rnnkit train --task lm), got a "
            f"{task.artifact_kind!r} model in {args.model!r}"
        )
    from rnnkit.text import Sampler

    Sampler(args.temperature, args.top_k, args.top_p, args.seed)  # bad options: before output
    if args.length < 0:
        raise ValueError(f"--length must be >= 0, got {args.length}")
    if not args.no_prompt:
        lm.print_stream(args.prompt)
    lm.generate(loaded, args.prompt, args.length, temperature=args.temperature,
                top_k=args.top_k, top_p=args.top_p, seed=args.seed, on_text=lm.print_stream)
    lm.print_stream("\n")
    return 0


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "generate",
        help="sample text from a trained language model",
        description="Continue a prompt with text sampled from a language model (rnnkit train "
        "--task lm), printing each token as soon as it is sampled. The same --seed gives the "
        "same text.\n\nExamples:\n"
        '  rnnkit generate runs/lm-tinyshakespeare-20261201-101500 --prompt "ROMEO:" '
        "--length 500\n"
        "  rnnkit generate runs/my-lm --temperature 0.7 --top-p 0.9 --seed 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("model", metavar="RUN_OR_ARTIFACT", help="run directory or model.safetensors")
    p.add_argument("--prompt", default="\n", help="text to continue [default: a line break]")
    p.add_argument("--length", type=int, default=500, help="tokens to sample [default: 500]")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="sampling temperature; 0 is greedy [default: 1.0]")
    p.add_argument("--top-k", type=int, default=None,
                   help="sample among the k most likely tokens only [default: all]")
    p.add_argument("--top-p", type=float, default=None,
                   help="sample within the nucleus of probability p [default: all]")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the sampler: the same seed gives the same text")
    p.add_argument("--no-prompt", action="store_true",
                   help="print only the generated text, not the prompt before it")
    p.set_defaults(run=run)
