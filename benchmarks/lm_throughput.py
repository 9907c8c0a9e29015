"""Training throughput of the character language model: rnnkit's layers against torch.nn.LSTM.

Both models are the same network (embedding E → LSTM H × L → output layer), trained with Adam
on the same Tiny Shakespeare chunks (B streams × T steps) in the same process, alternating
rnnkit and torch rounds so that a change of machine load hits both. Prints characters per
second of training (forward + backward + step) for each.

    PYTHONPATH=src python benchmarks/lm_throughput.py --hidden 512 --layers 1 --updates 20
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.data.lm_corpus import TextStreams, read_corpus
from rnnkit.models.language_model import LanguageModel
from rnnkit.text import fit_tokenizer


class TorchLM(nn.Module):
    """The same network as LanguageModel(dropout 0, untied) on torch.nn.LSTM."""

    def __init__(self, vocab: int, emb: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, layers, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        h, state = self.lstm(self.embedding(x), state)
        return self.decoder(h), state


def rounds(model, batches, updates: int) -> float:
    """Characters per second over ``updates`` updates, state carried and detached."""
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    state = None
    chars, started = 0, time.perf_counter()
    for batch in batches[:updates]:
        logits, state = model(batch.inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.targets.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) and isinstance(
            state[0], torch.Tensor) else tuple(tuple(t.detach() for t in s) for s in state)
        chars += batch.inputs.numel()
    return chars / (time.perf_counter() - started)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--chunk", type=int, default=128)
    p.add_argument("--updates", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.manual_seed(0)
    corpus = read_corpus("tinyshakespeare")
    tok = fit_tokenizer("char", corpus.train)
    ids = torch.tensor(tok.encode(corpus.train))
    batches = list(TextStreams(ids, batch_size=a.batch, chunk_len=a.chunk).batches(0))
    ours = LanguageModel(len(tok), a.embedding, "lstm", a.hidden, a.layers, tie_weights=False)
    ref = TorchLM(len(tok), a.embedding, a.hidden, a.layers)
    rounds(ours, batches, 2)  # compile / warm up
    rounds(ref, batches, 2)
    r_ours, r_ref = [], []
    for _ in range(a.repeats):
        r_ours.append(rounds(ours, batches, a.updates))
        r_ref.append(rounds(ref, batches, a.updates))
    print(f"threads={torch.get_num_threads()} E={a.embedding} H={a.hidden} L={a.layers} "
          f"B={a.batch} T={a.chunk} updates={a.updates}x{a.repeats}")
    print(f"rnnkit LanguageModel (numba): median {statistics.median(r_ours):,.0f} chars/s "
          f"(runs {', '.join(f'{r:,.0f}' for r in r_ours)})")
    print(f"torch.nn.LSTM               : median {statistics.median(r_ref):,.0f} chars/s "
          f"(runs {', '.join(f'{r:,.0f}' for r in r_ref)})")


if __name__ == "__main__":
    main()
