"""Text corpora for language modelling: where the text comes from, its train/validation cut,
and the B parallel contiguous streams a stateful model is trained on.

Sources (:func:`read_corpus`):

* ``'tinyshakespeare'`` — Karpathy's char-rnn text (1,115,394 characters, public domain),
  shipped inside rnnkit; the standard nanoGPT cut: the first 90% of the characters train, the
  last 10% validate (the cut falls mid-word, as in nanoGPT).
* ``'wikitext2'`` — the WikiText-2 validation text (CC BY-SA, so not shipped): read from the
  data directory (``$RNNKIT_DATA``, else a ``shared/data`` folder next to the working
  directory or the source tree); its first 90% of lines train, the last 10% validate.
* any UTF-8 text file — the last ``val_fraction`` of its characters validate, or a separate
  ``val_data`` file does.

:class:`TextStreams` cuts a token sequence into B contiguous streams and serves them in chunks
(batch i, row j continues batch i − 1, row j), the layout of stateful truncated BPTT
(:class:`rnnkit.train.bptt.StatefulBPTT`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.batching import SequenceBatch
from rnnkit.errors import RNNKitError

BUNDLED_TEXT = ("tinyshakespeare", "wikitext2")
DATA_ENV = "RNNKIT_DATA"


class TextDataUnavailableError(RNNKitError, FileNotFoundError):
    """A text dataset read from the data directory is not there (the message says where)."""


@dataclass(frozen=True)
class Corpus:
    """A training text and its validation text.

    Attributes:
        train: the training text (tokenisers are fitted on it only).
        val: the validation text ('' when there is none).
        source: where it came from, for reports ('tinyshakespeare', a path).
    """

    train: str
    val: str
    source: str

    @property
    def val_sha256(self) -> str:
        return text_sha256(self.val)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_dirs() -> list[Path]:
    """Where datasets that rnnkit may not ship are looked for, in order."""
    env = os.environ.get(DATA_ENV)
    if env:
        return [Path(env)]
    here = Path(__file__).resolve()
    candidates = [Path.cwd() / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    # a source checkout: <root>/src/rnnkit/data/lm_corpus.py, data beside <root>
    candidates += [here.parents[3] / "shared" / "data", here.parents[4] / "shared" / "data"]
    seen: list[Path] = []
    for c in candidates:
        if c not in seen:
            seen.append(c)
    return seen


def find_data_file(relative: str) -> Path:
    """``relative`` (e.g. 'wikitext2/valid.txt') inside the first data directory holding it.

    Raises:
        TextDataUnavailableError: in none of them; the message lists every place looked.
    """
    tried = [d / relative for d in data_dirs()]
    for path in tried:
        if path.is_file():
            return path
    raise TextDataUnavailableError(
        f"data file {relative!r} not found; looked in: {', '.join(str(p) for p in tried)}. "
        f"Set {DATA_ENV} to the folder that holds {relative.split('/')[0]}/"
    )


def tinyshakespeare_text() -> str:
    """The whole Tiny Shakespeare text shipped with rnnkit (1,115,394 characters)."""
    return (resources.files("rnnkit") / "text" / "data" / "tinyshakespeare.txt").read_text("utf-8")


def read_text_file(path: str | os.PathLike[str], argument: str = "data") -> str:
    """The UTF-8 text of a file (a leading byte-order mark dropped).

    Raises:
        FileNotFoundError: no such file. ValueError: not UTF-8, or empty.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"{argument} must be a text file or one of {list(BUNDLED_TEXT)}, got {str(path)!r} "
            "(no such file)"
        )
    return decode_text(p.read_bytes(), path, argument)


def decode_text(raw: bytes, path: str | os.PathLike[str], argument: str) -> str:
    """``raw`` bytes of the file ``path`` as UTF-8 text (a leading byte-order mark dropped).

    Raises:
        ValueError: not UTF-8 (the message gives the first bad byte and its offset), or no text.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{argument} {str(path)!r} must be UTF-8 text, got a byte {raw[err.start]:#04x} at "
            f"offset {err.start} that is not UTF-8"
        ) from None
    if not text.strip():
        raise ValueError(f"{argument} {str(path)!r} must hold some text, got an empty file")
    return text


def cut(text: str, val_fraction: float) -> tuple[str, str]:
    """(train, val): the last ``val_fraction`` of the characters validate (nanoGPT's rule,
    ``n_train = int(n · (1 − val_fraction))``)."""
    n = len(text)
    split = int(n * (1 - val_fraction)) if val_fraction > 0 else n
    return text[:split], text[split:]


def read_corpus(data: str, val_data: str | None = None, val_fraction: float = 0.1) -> Corpus:
    """The training and validation text of ``data`` (see the module docstring).

    ``val_data`` (a file) replaces the cut: then all of ``data`` trains. For 'tinyshakespeare'
    the standard 90/10 cut is used whatever ``val_fraction`` says (it is the benchmark split).
    """
    if not isinstance(data, str) or not data:
        raise ValueError(f"data must be a text file or one of {list(BUNDLED_TEXT)}, got {data!r}")
    if data == "tinyshakespeare":
        text, fraction = tinyshakespeare_text(), 0.1
    elif data == "wikitext2":
        text = read_text_file(find_data_file("wikitext2/valid.txt"))
    else:
        text, fraction = read_text_file(data), val_fraction
    if val_data is not None:
        return Corpus(text, read_text_file(val_data, "val_data"), data)
    if data == "wikitext2":  # whole lines: the last 10% of the paragraphs validate
        lines = text.splitlines(keepends=True)
        split = int(len(lines) * 0.9)
        return Corpus("".join(lines[:split]), "".join(lines[split:]), data)
    train, val = cut(text, fraction)
    return Corpus(train, val, data)


# --------------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------------


def chunk_lengths(total: int, chunk_len: int, variable: bool, rng: np.random.Generator | None
                  ) -> list[int]:
    """The lengths of the chunks that cover ``total`` steps.

    Fixed: ``chunk_len`` each (the last one shorter). Variable (AWD-LSTM, Merity et al. 2017):
    each chunk's base is ``chunk_len`` with probability 0.95, else ``chunk_len / 2``, and its
    length is drawn from N(base, 5), at least 5 steps and at most ``2 · chunk_len``: the chunk
    borders move from epoch to epoch, so every step is sometimes far from a truncation point.
    """
    if not variable:
        return [min(chunk_len, total - s) for s in range(0, total, chunk_len)]
    rng = rng if rng is not None else np.random.default_rng(0)
    out, done = [], 0
    while done < total:
        base = chunk_len if rng.random() < 0.95 else chunk_len / 2
        length = int(np.clip(round(rng.normal(base, 5)), min(5, chunk_len), 2 * chunk_len))
        length = min(length, total - done)
        out.append(length)
        done += length
    return out


class TextStreams:
    """A token sequence as B contiguous streams, served in chunks for stateful training.

    For ids ``x_0 … x_N`` the model reads ``x_t`` and predicts ``x_{t+1}``: inputs are
    ``x_0 … x_{N−1}``, targets ``x_1 … x_N``. These N pairs are cut into ``lanes =
    batch_size × world_size`` streams of ``S = N // lanes`` consecutive pairs (the last
    ``N mod lanes`` are dropped); stream j is pairs ``[j·S, (j+1)·S)``. Batch i holds chunk i
    of every stream, so row j of batch i continues row j of batch i − 1, and only batch 0 marks
    ``reset`` (the state starts from zero once per epoch)::

        ids     a0 a1 a2 a3 a4 a5 | b0 b1 b2 b3 b4 b5        (B = 2 streams, chunk 3)
        batch 0 [a0 a1 a2]  [b0 b1 b2]     reset
        batch 1 [a3 a4 a5]  [b3 b4 b5]     state carried

    Args:
        ids: (N + 1,) int64 token ids.
        batch_size: B, streams per batch (per process).
        chunk_len: steps per chunk (the mean one with ``variable``).
        variable: draw chunk lengths per epoch from ``(seed, epoch)`` (:func:`chunk_lengths`).
        seed: the seed of those draws.
    """

    def __init__(self, ids: Tensor, *, batch_size: int, chunk_len: int, variable: bool = False,
                 seed: int = 0) -> None:
        for name, value in (("batch_size", batch_size), ("chunk_len", chunk_len)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TextStreams: {name} must be a positive int, got {value!r}")
        if not isinstance(ids, Tensor) or ids.dim() != 1 or ids.is_floating_point():
            raise ValueError(
                "TextStreams: ids must be a 1-D integer tensor, got "
                + (f"{ids.dtype} {tuple(ids.shape)}" if isinstance(ids, Tensor)
                   else type(ids).__name__)
            )
        self.ids = ids.to(torch.int64)
        self.batch_size, self.chunk_len = batch_size, chunk_len
        self.variable, self.seed = bool(variable), int(seed)
        self.rank, self.world_size = 0, 1
        self._check_size()

    def _check_size(self) -> None:
        lanes = self.batch_size * self.world_size
        if (self.ids.numel() - 1) // lanes < 1:
            raise ValueError(
                f"TextStreams: a text of {self.ids.numel()} tokens cannot be cut into {lanes} "
                f"streams (batch_size × processes); use a smaller batch_size or more text"
            )

    @property
    def stream_len(self) -> int:
        """S, the input/target pairs of each stream."""
        return (self.ids.numel() - 1) // (self.batch_size * self.world_size)

    def shard(self, rank: int, world_size: int) -> TextStreams:
        """Streams ``rank, rank + world_size, ...`` of the ``batch_size × world_size``."""
        part = TextStreams.__new__(TextStreams)
        part.__dict__.update(self.__dict__)
        part.rank, part.world_size = rank, world_size
        part._check_size()
        return part

    def lengths(self, epoch: int) -> list[int]:
        """The chunk lengths of ``epoch``."""
        rng = np.random.default_rng([self.seed, epoch]) if self.variable else None
        return chunk_lengths(self.stream_len, self.chunk_len, self.variable, rng)

    def __len__(self) -> int:
        """Batches in epoch 0 (with ``variable`` another epoch may differ by a few)."""
        return len(self.lengths(0))

    def batches(self, epoch: int, start: int = 0) -> Iterator[SequenceBatch]:
        """Batches ``start, start + 1, ...`` of ``epoch``: inputs and targets (B, T) int64."""
        S = self.stream_len
        lanes = self.batch_size * self.world_size
        rows = torch.arange(self.rank, lanes, self.world_size)
        inputs = self.ids[: lanes * S].view(lanes, S)[rows]  # (B, S)
        targets = self.ids[1 : lanes * S + 1].view(lanes, S)[rows]  # (B, S)
        lengths = self.lengths(epoch)
        begin = sum(lengths[:start])
        for i in range(start, len(lengths)):
            end = begin + lengths[i]
            yield SequenceBatch(
                inputs[:, begin:end].contiguous(),
                targets[:, begin:end].contiguous(),
                reset=torch.full((rows.numel(),), i == 0, dtype=torch.bool),
            )
            begin = end
