"""Sequence-to-sequence speed: a training update, the recurrent layers' share of it, decoding.

The model is the translate task's default (GRU, E 256, H 512, bidirectional encoder, Luong
'general' attention, 8,000 ids per side) on random ids of Multi30k's lengths (B 64, 15 source
and 15 target tokens). Prints the median time of a training update (forward, backward, Adam),
of the encoder and decoder layers alone (forward + backward: rnnkit's fused kernels) and their
share, then greedy and beam-5 decoding speed of the same untrained model (its outputs end
wherever its random weights put ``<eos>``: a rough number; docs/seq2seq.md has the trained
model's).

    PYTHONPATH=src python benchmarks/seq2seq_speed.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnkit.data.seq2seq_batching import make_batch
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.text.beam import beam_search, greedy_search


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (kernel compilation, allocations)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=15)
    p.add_argument("--vocab", type=int, default=8000)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    B, L, V = args.batch, args.length, args.vocab
    model = Seq2Seq(V, V + 2, embedding_dim=256, hidden_size=512, dropout=0.3, bos_id=V,
                    eos_id=V + 1)
    optimizer = torch.optim.Adam(model.parameters())
    batch = make_batch(torch.randint(2, V, (B, L)).tolist(),
                       torch.randint(2, V, (B, L - 1)).tolist(), V, V + 1)

    def update() -> None:
        out, _ = model(batch.inputs, None, lengths=batch.lengths, **batch.forward_kwargs())
        loss = model.loss(out, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    x_enc = torch.randn(B, L, 256, requires_grad=True)
    x_dec = torch.randn(B, L, 256, requires_grad=True)
    h0 = torch.zeros(1, B, 512)

    def layers() -> None:
        y, _ = model.encoder(x_enc, None, lengths=batch.source_lengths)
        z, _ = model.decoder(x_dec, h0, lengths=batch.lengths)
        (y.sum() + z.sum()).backward()

    u = median_seconds(update, args.repeats)
    r = median_seconds(layers, args.repeats)
    tokens = int(batch.lengths.sum())
    print(f"threads {args.threads}: training update {u * 1000:.0f} ms = {tokens / u:.0f} target "
          f"tokens/s; recurrent layers fwd+bwd {r * 1000:.0f} ms = {100 * r / u:.0f}% of it")
    model.eval()
    with torch.no_grad():
        enc = model.encode(batch.source, batch.source_lengths)
        for k in (1, 5):
            start = time.perf_counter()
            if k == 1:
                hyps = greedy_search(model, enc, batch.source_lengths, bos_id=V, eos_id=V + 1)
            else:
                hyps = [h[0] for h in beam_search(model, enc, batch.source_lengths, bos_id=V,
                                                  eos_id=V + 1, beam_size=k)]
            seconds = time.perf_counter() - start
            n = sum(len(h.tokens) for h in hyps)
            print(f"beam {k}: {n} tokens in {seconds:.2f} s = {n / seconds:.0f} tokens/s")


if __name__ == "__main__":
    main()
