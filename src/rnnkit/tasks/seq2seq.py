"""Sequence to sequence: the ``translate`` and ``summarize`` tasks of the task pipeline.

Both are one :class:`Seq2SeqTask` with a different name, config defaults and scores:

* data (:func:`rnnkit.data.parallel.read_parallel`): a bundled set (Multi30k, AESLC, CMUdict,
  the synthetic reversal / addition / dates), a CSV/TSV/JSONL table with source and target
  columns (several target columns: several references), or two line-aligned text files;
  validation from ``val_data`` or split off the training file;
* tokenisers (:mod:`rnnkit.text.tokenizers`) fitted on the training split only — byte-level BPE
  by default (any script, Chinese included), word or character on request — shared by both
  sides or one per side, saved in the artifact as JSON. Target ids are the tokenizer's, then
  ``<bos>`` = V and ``<eos>`` = V + 1;
* the model: :class:`rnnkit.models.Seq2Seq`, trained with teacher forcing and full BPTT on
  length-bucketed batches (:class:`rnnkit.data.seq2seq_batching.Seq2SeqLoader`);
* scores, on validation (and test when the set has one), from beam search
  (:mod:`rnnkit.text.beam`) and greedy decoding: corpus BLEU and chrF (sacrebleu) for
  translation beside the copy-the-source baseline, ROUGE-1/2/L F1 (rouge-score, best
  reference) for summaries beside the lead baseline, WER/PER for CMUdict, and exact match.

``rnnkit evaluate RUN [--data ... --target-data ...] [--beam-size N] --json`` prints ``bleu``
and ``chrf`` (``rouge1``/``rouge2``/``rougeL`` for summaries) at the top level; ``rnnkit
predict RUN input.txt -o out.txt`` writes one output line per input line
(``--attention-plot FILE.png``: heatmaps of the first examples).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from rnnkit.data.bucketing import pad_sequences
from rnnkit.data.folds import Fold, fold_indices
from rnnkit.data.parallel import (
    PARALLEL_DATASETS,
    ParallelCorpus,
    ParallelSplits,
    read_parallel,
    read_text,
)
from rnnkit.data.seq2seq_batching import Seq2SeqLoader
from rnnkit.data.text import UNK_ID
from rnnkit.io.artifact import Artifact
from rnnkit.models.seq2seq import Seq2Seq, sampling_probability
from rnnkit.tasks.pipeline import TEST_DATA_KEY, Prepared, Say, Scores, Task, training_line
from rnnkit.tasks.pipeline import run as run_task
from rnnkit.tasks.seq2seq_config import (
    DATASET_TRAINING,
    SEQ2SEQ_TRAINING_DEFAULTS,
    Seq2SeqConfig,
    SummarizeConfig,
)
from rnnkit.text.beam import Hypothesis, beam_search, greedy_search
from rnnkit.text.tokenizers import Tokenizer, fit_tokenizer, tokenizer_from_json
from rnnkit.train import TrainConfig
from rnnkit.train.callbacks import Callback

#: Sources decoded together.
DECODE_BATCH = 64
#: Examples shown in an attention plot.
PLOT_EXAMPLES = 4
ATTENTION_FILE = "attention.png"
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")


# --------------------------------------------------------------------------------------------
# Preprocessing: the tokenisers and the special ids
# --------------------------------------------------------------------------------------------


@dataclass
class Seq2SeqPreprocessing:
    """The fitted tokenisers and how text becomes ids.

    Target ids: the target tokenizer's ids (0 padding, 1 unknown), then ``<bos>`` =
    len(tokenizer) and ``<eos>`` = len(tokenizer) + 1. With a shared vocabulary the source side
    uses the same tokenizer and the same id range.
    """

    source_tokenizer: Tokenizer
    target_tokenizer: Tokenizer
    shared: bool
    lowercase: bool
    max_source_length: int | None
    max_target_length: int | None

    @property
    def bos_id(self) -> int:
        return len(self.target_tokenizer)

    @property
    def eos_id(self) -> int:
        return len(self.target_tokenizer) + 1

    @property
    def target_vocab(self) -> int:
        return len(self.target_tokenizer) + 2

    @property
    def source_vocab(self) -> int:
        return self.target_vocab if self.shared else len(self.source_tokenizer)

    def clean(self, text: str) -> str:
        return text.lower() if self.lowercase else text

    def encode_source(self, text: str) -> list[int]:
        """Source ids (cut to max_source_length; a text without tokens is one unknown id)."""
        ids = self.source_tokenizer.encode(self.clean(text))
        if self.max_source_length is not None:
            ids = ids[: self.max_source_length]
        return ids or [UNK_ID]

    def encode_target(self, text: str) -> list[int]:
        """Target ids without ``<bos>``/``<eos>`` (cut to max_target_length)."""
        ids = self.target_tokenizer.encode(self.clean(text))
        if self.max_target_length is not None:
            ids = ids[: self.max_target_length]
        return ids

    def decode_target(self, ids: Sequence[int], oovs: Sequence[str] = ()) -> str:
        """The text of target ids (``<bos>``/``<eos>`` dropped); a copy model's extended ids
        (>= target_vocab) are the source's out-of-vocabulary words ``oovs``."""
        V = self.target_vocab
        if not oovs or all(i < V for i in ids):
            return self.target_tokenizer.decode([i for i in ids if i < self.bos_id])
        tok = self.target_tokenizer  # only word/char tokenisers have extended ids
        known = tok.vocabulary.tokens
        return tok.join([oovs[i - V] if i >= V else known[i] for i in ids
                         if i >= V or i < self.bos_id])

    # ---- the copy model's extended vocabulary -----------------------------------------------

    def extend_source(self, text: str) -> tuple[list[int], list[str]]:
        """A copy model's source ids in the extended target vocabulary, and the source's
        out-of-vocabulary words (extended id ``target_vocab + j`` is ``oovs[j]``).

        With word or character tokens, a source token absent from the target vocabulary
        gets an extended id (the same one wherever it recurs). Byte-level BPE has no unknown
        pieces: with a shared vocabulary the ids are the source ids; with separate ones a
        source piece maps to the target piece with the same bytes, or to ``<unk>`` when the
        target vocabulary lacks it (copying works over in-vocabulary ids only).
        """
        ids = self.encode_source(text)
        target = self.target_tokenizer
        if target.kind == "bpe":
            if self.shared:
                return ids, []
            source = self.source_tokenizer
            found = [target.token_to_id(source.id_to_token(i) or "") for i in ids]
            return [UNK_ID if i is None else i for i in found], []
        tokens = self.source_tokenizer.tokens(self.clean(text))
        if self.max_source_length is not None:
            tokens = tokens[: self.max_source_length]
        if not tokens:
            return ids, []
        oovs: list[str] = []
        out = []
        for token in tokens:
            if token in target.vocabulary:
                out.append(target.vocabulary.encode([token])[0])
                continue
            if token not in oovs:
                oovs.append(token)
            out.append(self.target_vocab + oovs.index(token))
        return out, oovs

    def encode_target_extended(self, text: str, oovs: Sequence[str]) -> list[int]:
        """Target ids where a word outside the target vocabulary that the source holds has
        its extended id (other unknown words stay ``<unk>``)."""
        ids = self.encode_target(text)
        if not oovs or self.target_tokenizer.kind == "bpe":
            return ids
        tokens = self.target_tokenizer.tokens(self.clean(text))[: len(ids)]
        return [self.target_vocab + oovs.index(t) if i == UNK_ID and t in oovs else i
                for i, t in zip(ids, tokens, strict=True)]

    def to_json(self) -> dict[str, Any]:
        return {
            "source_tokenizer": None if self.shared else self.source_tokenizer.to_json(),
            "target_tokenizer": self.target_tokenizer.to_json(),
            "shared": self.shared, "lowercase": self.lowercase,
            "max_source_length": self.max_source_length,
            "max_target_length": self.max_target_length,
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> Seq2SeqPreprocessing:
        target = tokenizer_from_json(state["target_tokenizer"])
        shared = bool(state["shared"])
        source = target if shared else tokenizer_from_json(state["source_tokenizer"])
        return cls(source, target, shared, bool(state["lowercase"]),
                   state["max_source_length"], state["max_target_length"])


@dataclass
class LoadedSeq2Seq:
    """A sequence-to-sequence model rebuilt from its artifact."""

    model: Seq2Seq
    preprocessing: Seq2SeqPreprocessing
    config: Seq2SeqConfig
    test_data: dict[str, Any] | None = None


class LoadedTranslator(LoadedSeq2Seq):
    """A translation model rebuilt from its artifact (what ``rnnkit.load`` returns)."""


class LoadedSummarizer(LoadedSeq2Seq):
    """A summarisation model rebuilt from its artifact (what ``rnnkit.load`` returns)."""


def _lower(corpus: ParallelCorpus) -> ParallelCorpus:
    return ParallelCorpus([s.lower() for s in corpus.sources],
                          [tuple(r.lower() for r in refs) for refs in corpus.targets],
                          corpus.source)


def _lowered(splits: ParallelSplits, lowercase: bool) -> ParallelSplits:
    if not lowercase:
        return splits
    return ParallelSplits(_lower(splits.train), _lower(splits.val),
                          None if splits.test is None else _lower(splits.test))


def fit_preprocessing(config: Seq2SeqConfig, train: ParallelCorpus) -> Seq2SeqPreprocessing:
    """Tokenisers fitted on the training pairs only (the first reference of each)."""
    kind = config.resolved_tokenizer()
    sources = "\n".join(train.sources)
    targets = "\n".join(refs[0] for refs in train.targets)
    options = {"min_freq": config.min_freq, "vocab_size": config.vocab_size}
    if config.shared_vocab:
        target = fit_tokenizer(kind, sources + "\n" + targets, **options)
        source = target
    else:
        source = fit_tokenizer(kind, sources, **options)
        target = fit_tokenizer(kind, targets, **options)
    # The text is already lower-cased here when config.lowercase (see prepare).
    return Seq2SeqPreprocessing(source, target, config.shared_vocab, config.lowercase,
                                config.max_source_length, config.max_target_length)


class ScheduledSampling(Callback):
    """Sets the model's ``sampling_probability`` from the optimiser updates done so far
    (:func:`rnnkit.models.seq2seq.sampling_probability`), before every batch; back to 0 when
    training ends. A resumed run continues the schedule from its update count."""

    def __init__(self, final: float, updates: int, schedule: str) -> None:
        sampling_probability(0, final, updates, schedule)  # checks the options
        self.final, self.updates, self.schedule = final, updates, schedule

    def _set(self, trainer: Any) -> None:
        trainer.model.sampling_probability = sampling_probability(
            trainer.step, self.final, self.updates, self.schedule)

    def on_fit_start(self, trainer: Any) -> None:
        self._set(trainer)

    def on_batch_end(self, trainer: Any) -> None:
        self._set(trainer)

    def on_fit_end(self, trainer: Any) -> None:
        trainer.model.sampling_probability = 0.0


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


@dataclass
class Decoded:
    """Outputs of a list of sources, in their order."""

    texts: list[str]
    hypotheses: list[Hypothesis]
    source_ids: list[list[int]]
    seconds: float
    oovs: list[list[str]] | None = None

    @property
    def tokens(self) -> int:
        return sum(len(h.tokens) for h in self.hypotheses)


@torch.no_grad()
def decode(model: Seq2Seq, pre: Seq2SeqPreprocessing, config: Seq2SeqConfig,
           sources: Sequence[str], *, beam_size: int | None = None) -> Decoded:
    """Translate / summarise ``sources`` with beam search (``beam_size`` 1: greedy), in
    batches of similar length."""
    k = config.beam_size if beam_size is None else beam_size
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"beam_size must be an int >= 1, got {k!r}")
    model.eval()
    ids = [pre.encode_source(s) for s in sources]
    copy = getattr(model, "copy", False)
    extended = [pre.extend_source(s) for s in sources] if copy else []
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    hyps: list[Hypothesis | None] = [None] * len(ids)
    options = {"bos_id": pre.bos_id, "eos_id": pre.eos_id, "max_ratio": config.max_ratio,
               "max_extra": config.max_extra, "no_repeat_ngram": config.no_repeat_ngram}
    started = time.perf_counter()
    for start in range(0, len(order), DECODE_BATCH):
        chunk = order[start:start + DECODE_BATCH]
        source, lengths = pad_sequences([ids[i] for i in chunk], dtype=torch.int64)
        source_ext = (pad_sequences([extended[i][0] for i in chunk], dtype=torch.int64)[0]
                      if copy else None)
        encoded = model.encode(source, lengths, source_ext)
        if k == 1:
            found = greedy_search(model, encoded, lengths, **options)
        else:
            found = [r[0] for r in beam_search(model, encoded, lengths, beam_size=k,
                                               alpha=config.length_alpha,
                                               beta=config.coverage_beta, **options)]
        for i, h in zip(chunk, found, strict=True):
            hyps[i] = h
    seconds = time.perf_counter() - started
    done = [h for h in hyps if h is not None]
    oovs = [e[1] for e in extended] if copy else [[] for _ in done]
    texts = [pre.decode_target(h.tokens, o) for h, o in zip(done, oovs, strict=True)]
    return Decoded(texts, done, ids, seconds, oovs)


# --------------------------------------------------------------------------------------------
# The task
# --------------------------------------------------------------------------------------------


def pair_fold(splits: ParallelSplits, fold: Fold) -> ParallelSplits:
    """The cross-validation ``fold`` of the training pairs (``rnnkit tune``): its held-out
    pairs become the scored 'test' part; validation (early stopping) stays the run's own, and
    a real test split is never seen by a fold.

    Raises:
        ValueError: a group column (parallel text has no columns to group by), or fewer
            training pairs than folds.
    """
    if fold.group_column is not None:
        raise ValueError(
            f"group_column applies to tables with a column to group by (classification, "
            f"tagging), not to parallel text, got {fold.group_column!r}; leave it out"
        )
    train, held = fold_indices(len(splits.train), fold)
    return ParallelSplits(splits.train.subset(train), splits.val, splits.train.subset(held))


class Seq2SeqTask(Task):
    """Translation: source text -> target text, scored by BLEU and chrF."""

    name = "translate"
    artifact_kind = "translator"
    description = "sequence to sequence (translation): encoder-decoder with attention, beam search"
    config_class = Seq2SeqConfig
    loaded_class: Any = LoadedTranslator
    headline = ("bleu", True)
    training_base = SEQ2SEQ_TRAINING_DEFAULTS
    dataset_training = DATASET_TRAINING
    baseline_name = "copy_source"
    #: ``rnnkit evaluate/predict`` may pass --target-data, --beam-size, ... in a dict as data.
    decoding_options = True
    examples = (
        "rnnkit train --task translate --data multi30k-de-en --max-time 30m",
        "rnnkit train --task translate --data train.de --target-data train.en "
        "--val-data val.de --val-target-data val.en",
        "rnnkit train --task translate --data pairs.csv --source-column zh --target-column en",
        "rnnkit evaluate runs/NAME --data test.de --target-data test.en --beam-size 5 --json",
        "rnnkit predict runs/NAME input.txt -o output.txt --beam-size 5",
    )

    # ---- scores ------------------------------------------------------------------------------

    def text_scores(self, hyps: list[str], refs: list[tuple[str, ...]], config: Seq2SeqConfig
                    ) -> dict[str, float]:
        """The task's metrics of outputs against references (0–100)."""
        from rnnkit.eval.seq2seq_metrics import error_rates, translation_scores

        out = dict(translation_scores(hyps, refs, lowercase=config.lowercase))
        out["exact_match"] = 100.0 * sum(h in r for h, r in zip(hyps, refs, strict=True)) \
            / len(refs)
        if config.data == "cmudict":
            out.update(error_rates(hyps, refs))
        return out

    def baseline_outputs(self, corpus: ParallelCorpus, config: Seq2SeqConfig,
                         train: ParallelCorpus | None) -> list[str]:
        from rnnkit.eval.seq2seq_metrics import copy_source_baseline

        return copy_source_baseline(corpus.sources)

    def score_part(self, model: Seq2Seq, pre: Seq2SeqPreprocessing, config: Seq2SeqConfig,
                   corpus: ParallelCorpus, train: ParallelCorpus | None, *,
                   beam_size: int | None = None, greedy_too: bool = False) -> dict[str, Any]:
        """Metrics of one part: the model (beam), greedy, the baseline, decoding speed."""
        k = config.beam_size if beam_size is None else beam_size
        refs = list(corpus.targets)
        decoded = decode(model, pre, config, corpus.sources, beam_size=k)
        part: dict[str, Any] = {
            "model": self.text_scores(decoded.texts, refs, config),
            "beam_size": k,
            "examples": len(corpus),
            "decoding": {"seconds": decoded.seconds, "tokens": decoded.tokens,
                         "tokens_per_second": decoded.tokens / max(decoded.seconds, 1e-9)},
            "baselines": {self.baseline_name: self.text_scores(
                self.baseline_outputs(corpus, config, train), refs, config)},
            "samples": [{"source": s, "output": o, "reference": r[0]}
                        for s, o, r in zip(corpus.sources[:5], decoded.texts[:5], refs[:5],
                                           strict=False)],
        }
        if greedy_too and k > 1:
            greedy = decode(model, pre, config, corpus.sources, beam_size=1)
            part["greedy"] = self.text_scores(greedy.texts, refs, config)
        return part

    # ---- the pipeline -----------------------------------------------------------------------

    def read(self, config: Seq2SeqConfig, seed: int) -> ParallelSplits:
        splits = read_parallel(
            config.data, target_data=config.target_data, source_column=config.source_column,
            target_column=config.target_columns(), val_data=config.val_data,
            val_target_data=config.val_target_data, val_fraction=config.val_fraction,
            seed=seed, max_examples=config.max_examples,
        )
        return _lowered(splits, config.lowercase)

    def prepare(self, config: Seq2SeqConfig, training: TrainConfig, say: Say, *,
                fold: Fold | None = None) -> Prepared:
        if training.bptt != "full":
            raise ValueError(
                f"bptt must be 'full' for the {self.name} task (the decoder starts from the "
                f"encoder's final state, so a batch cannot be cut along time), got "
                f"{training.bptt!r}"
            )
        splits = self.read(config, training.seed)
        if fold is not None:
            splits = pair_fold(splits, fold)
        pre = fit_preprocessing(config, splits.train)

        def loader(corpus: ParallelCorpus, shuffle: bool) -> Seq2SeqLoader:
            sources = [pre.encode_source(s) for s in corpus.sources]
            if not config.copy:
                targets = [pre.encode_target(r[0]) for r in corpus.targets]
                extended = None
            else:  # targets in extended ids: copied words are learnt as copies
                pairs = [pre.extend_source(s) for s in corpus.sources]
                extended = [p[0] for p in pairs]
                targets = [pre.encode_target_extended(r[0], p[1])
                           for r, p in zip(corpus.targets, pairs, strict=True)]
            return Seq2SeqLoader(
                sources, targets, bos_id=pre.bos_id, eos_id=pre.eos_id,
                batch_size=config.batch_size, shuffle=shuffle, seed=training.seed,
                source_ext=extended,
            )

        train_batches = loader(splits.train, True)
        val_batches = loader(splits.val, False)
        vocab = (f"one shared {config.resolved_tokenizer()} vocabulary of "
                 f"{len(pre.target_tokenizer)}" if pre.shared else
                 f"{config.resolved_tokenizer()} vocabularies of {len(pre.source_tokenizer)} "
                 f"(source) and {len(pre.target_tokenizer)} (target)")
        say(f"data: {len(splits.train):,} training / {len(splits.val):,} validation pairs"
            + (f" / {len(splits.test):,} test" if splits.test is not None else "")
            + f" from {splits.train.source}; {vocab} ids")
        identity = {
            "seed": training.seed,
            "source": config.data if config.data in PARALLEL_DATASETS
            else str(Path(config.data).resolve()),
            "selection": {"val_sha256": splits.val.sha256,
                          "test_sha256": None if splits.test is None else splits.test.sha256},
        }
        return Prepared(config, train_batches, val_batches, pre, {"splits": splits}, identity)

    def build_model(self, prepared: Prepared) -> Seq2Seq:
        c, pre = prepared.config, prepared.preprocessing
        return Seq2Seq(
            pre.source_vocab, pre.target_vocab, embedding_dim=c.embedding_dim,
            hidden_size=c.hidden_size, cell=c.cell, encoder_layers=c.encoder_layers,
            decoder_layers=c.decoder_layers, bidirectional=c.bidirectional, dropout=c.dropout,
            attention=c.attention, share_embeddings=c.shared_vocab, tie_output=c.tie_output,
            label_smoothing=c.label_smoothing, bos_id=pre.bos_id, eos_id=pre.eos_id,
            copy=c.copy, coverage_weight=c.resolved_coverage_weight(),
        )

    def callbacks(self, prepared: Prepared, training: TrainConfig) -> list[Any]:
        c = prepared.config
        if not c.scheduled_sampling:
            return []
        return [ScheduledSampling(c.scheduled_sampling, c.sampling_updates, c.sampling_schedule)]

    def score(self, model: Seq2Seq, prepared: Prepared, seed: int) -> Scores:
        c, pre = prepared.config, prepared.preprocessing
        splits: ParallelSplits = prepared.parts["splits"]
        prepared.parts["model"] = model  # for the attention plot
        metrics: dict[str, Any] = {
            "data": {"source": splits.train.source, "train": len(splits.train),
                     "val": len(splits.val),
                     "test": None if splits.test is None else len(splits.test),
                     "tokenizer": c.resolved_tokenizer(), "shared_vocab": pre.shared,
                     "source_vocab": pre.source_vocab, "target_vocab": pre.target_vocab},
            "val": self.score_part(model, pre, c, splits.val, splits.train, greedy_too=True),
        }
        if splits.test is not None:
            metrics["test"] = self.score_part(model, pre, c, splits.test, splits.train)
        summary = {p: dict(metrics[p]["model"]) for p in ("val", "test") if p in metrics}
        return Scores(metrics, summary)

    def plots(self, scores: Scores, prepared: Prepared, run_dir: Path) -> list[Path]:
        splits: ParallelSplits = prepared.parts["splits"]
        model = prepared.parts.get("model")
        if model is None:
            return []
        sources = splits.val.sources[:PLOT_EXAMPLES]
        path = attention_plot(model, prepared.preprocessing, prepared.config, sources,
                              run_dir / ATTENTION_FILE)
        return [path]

    def table(self, part_metrics: dict[str, Any]) -> str:
        """Markdown table: the model (beam and greedy) beside the baseline."""
        model = part_metrics["model"]
        names = [n for n in self.table_metrics() if n in model]
        rows = [(f"rnnkit model (beam {part_metrics.get('beam_size', '?')})", model)]
        if "greedy" in part_metrics:
            rows.append(("rnnkit model (greedy)", part_metrics["greedy"]))
        rows += [(f"{name} baseline", v) for name, v in part_metrics.get("baselines", {}).items()]
        lines = ["| model | " + " | ".join(names) + " |",
                 "|---|" + "---:|" * len(names)]
        for label, values in rows:
            lines.append(f"| {label} | "
                         + " | ".join(f"{values.get(n, float('nan')):.2f}" for n in names)
                         + " |")
        return "\n".join(lines)

    def table_metrics(self) -> tuple[str, ...]:
        return ("bleu", "chrf", "exact_match", "wer", "per")

    def closing_lines(self, result: Any) -> list[str]:
        return ["", result.table("val")] if result.metrics.get("val") else []

    def summary(self, result: Any) -> str:
        m, c = result.metrics, result.config
        d = m["data"]
        lines = [
            f"{self.name.capitalize()} on {c.data!r}: {c.cell.upper()} encoder "
            f"({'bidirectional, ' if c.bidirectional else ''}{c.encoder_layers} layer(s)) and "
            f"decoder ({c.decoder_layers} layer(s)), {c.attention} attention, hidden "
            f"{c.hidden_size}; {d['tokenizer']} tokens, vocabularies {d['source_vocab']} / "
            f"{d['target_vocab']}.",
            "",
            f"Data: {d['train']:,} training / {d['val']:,} validation pairs.",
            f"Training: {training_line(m['training'])}.",
        ]
        for part in ("val", "test"):
            if m.get(part):
                title = "Validation" if part == "val" else "Test"
                lines += ["", f"{title}:", "", result.table(part)]
        return "\n".join(lines)

    # ---- artifacts, evaluation, prediction --------------------------------------------------

    def restore(self, artifact: Artifact) -> LoadedSeq2Seq:
        model = self.rebuild_model(Seq2Seq, artifact)
        task_config = dict(artifact.config["task"])
        # Saved before copying existed: such a model does not copy (summarize now defaults on).
        task_config.setdefault("copy", False)
        return self.loaded_class(model, Seq2SeqPreprocessing.from_json(artifact.preprocessing),
                                 self.config_class.from_dict(task_config),
                                 artifact.preprocessing.get(TEST_DATA_KEY))

    def evaluate(self, loaded: LoadedSeq2Seq, data: Any = None) -> dict[str, Any]:
        """Scores on ``data``: None (the model's own test split, else its validation split),
        a bundled name (its test split, else validation), a file, or a mapping with ``data``
        and any of ``target_data``, ``source_column``, ``target_column``, ``beam_size``.
        The task's metrics are at the top level (``bleu``, ``chrf``, ...), beside
        ``baselines``."""
        options = dict(data) if isinstance(data, Mapping) else {"data": data}
        beam_size = options.pop("beam_size", None)
        corpus, where = self._labelled(loaded, options)
        c, pre = loaded.config, loaded.preprocessing
        if c.lowercase:
            corpus = _lower(corpus)
        part = self.score_part(loaded.model, pre, c, corpus, None, beam_size=beam_size)
        return {**part["model"], "beam_size": part["beam_size"], "examples": part["examples"],
                "data": where, "baselines": part["baselines"], "decoding": part["decoding"]}

    def _labelled(self, loaded: LoadedSeq2Seq, options: dict[str, Any]
                  ) -> tuple[ParallelCorpus, str]:
        unknown = sorted(set(options) - {"data", "target_data", "source_column",
                                         "target_column"})
        if unknown:
            raise ValueError(f"data options must be among data, target_data, source_column, "
                             f"target_column and beam_size, got {unknown}")
        data = options.get("data")
        c = loaded.config
        if data is None:
            if any(options.get(k) is not None for k in ("target_data", "source_column",
                                                        "target_column")):
                raise ValueError("data must be given with target_data, source_column or "
                                 "target_column, got data=None")
            splits = read_parallel(
                c.data, target_data=c.target_data, source_column=c.source_column,
                target_column=c.target_columns(), val_data=c.val_data,
                val_target_data=c.val_target_data, val_fraction=c.val_fraction,
                seed=self._seed(loaded),
            )
            part = "test" if splits.test is not None else "val"
            corpus = splits.test if splits.test is not None else splits.val
            chosen = _lowered(ParallelSplits(corpus, corpus, None), c.lowercase).train
            expected = (loaded.test_data or {}).get("selection", {}).get(f"{part}_sha256")
            if expected is not None and chosen.sha256 != expected:
                raise ValueError(
                    f"data: the {part} split of {c.data!r} is no longer the one the model was "
                    "scored on (its SHA-256 differs); give the data to score"
                )
            return corpus, f"{c.data} ({part})"
        if isinstance(data, os.PathLike):
            data = os.fspath(data)
        if not isinstance(data, str):
            raise TypeError(f"data must be a file path or a dataset name, got "
                            f"{type(data).__name__}")
        if data in PARALLEL_DATASETS and not Path(data).exists():
            splits = read_parallel(data)
            corpus = splits.test if splits.test is not None else splits.val
            return corpus, f"{data} ({'test' if splits.test is not None else 'val'})"
        target = options.get("target_data")
        source_column = options.get("source_column", c.source_column)
        target_column = options.get("target_column", c.target_column)
        columns = None if target is not None else target_column
        if isinstance(columns, str):
            columns = [x.strip() for x in columns.split(",") if x.strip()]
        # The whole file is the validation part (read as val_data): every example, in order.
        splits = read_parallel(data, target_data=target,
                               source_column=None if target is not None else source_column,
                               target_column=columns, val_data=data, val_target_data=target)
        return splits.val, data

    @staticmethod
    def _seed(loaded: LoadedSeq2Seq) -> int:
        return 0 if loaded.test_data is None else int(loaded.test_data.get("seed", 0))

    def predict(self, loaded: LoadedSeq2Seq, data: Any) -> pd.DataFrame:
        """One output per source line (or table row): columns ``source``, ``output``,
        ``log_prob``. ``data``: a text file (one source per line, ``.gz`` read compressed), a
        CSV/TSV/JSONL table (its ``source_column``), a list of strings, or a mapping with
        ``data`` and any of ``beam_size``, ``source_column`` and ``attention_plot`` (a PNG
        path for heatmaps of the first examples)."""
        options = dict(data) if isinstance(data, Mapping) else {"data": data}
        unknown = sorted(set(options) - {"data", "beam_size", "source_column",
                                         "attention_plot"})
        if unknown:
            raise ValueError(f"predict options must be among data, beam_size, source_column "
                             f"and attention_plot, got {unknown}")
        sources = read_sources(options.get("data"),
                               options.get("source_column") or loaded.config.source_column)
        keep = [i for i, s in enumerate(sources) if s.strip()]
        decoded = decode(loaded.model, loaded.preprocessing, loaded.config,
                         [sources[i] for i in keep], beam_size=options.get("beam_size"))
        outputs = [""] * len(sources)
        log_probs = [float("nan")] * len(sources)
        for i, text, h in zip(keep, decoded.texts, decoded.hypotheses, strict=True):
            outputs[i], log_probs[i] = text, h.log_prob
        if options.get("attention_plot"):
            attention_plot(loaded.model, loaded.preprocessing, loaded.config,
                           [sources[i] for i in keep[:PLOT_EXAMPLES]],
                           options["attention_plot"], beam_size=options.get("beam_size"))
        return pd.DataFrame({"source": sources, "output": outputs, "log_prob": log_probs})


class SummarizeTask(Seq2SeqTask):
    """Summarisation: a long text -> a short one, scored by ROUGE beside the lead baseline."""

    name = "summarize"
    artifact_kind = "summarizer"
    description = "sequence to sequence (summaries): encoder-decoder with attention, ROUGE"
    config_class = SummarizeConfig
    loaded_class = LoadedSummarizer
    headline = ("rougeL", True)
    baseline_name = "lead"
    examples = (
        "rnnkit train --task summarize --data aeslc --max-time 30m",
        "rnnkit train --task summarize --data mails.csv --source-column body "
        "--target-column subject",
        "rnnkit evaluate runs/NAME --beam-size 4 --json",
    )

    def text_scores(self, hyps: list[str], refs: list[tuple[str, ...]], config: Seq2SeqConfig
                    ) -> dict[str, float]:
        from rnnkit.eval.seq2seq_metrics import summary_scores

        out = dict(summary_scores(hyps, refs))
        out["exact_match"] = 100.0 * sum(h in r for h, r in zip(hyps, refs, strict=True)) \
            / len(refs)
        return out

    def baseline_outputs(self, corpus: ParallelCorpus, config: Seq2SeqConfig,
                         train: ParallelCorpus | None) -> list[str]:
        from rnnkit.eval.seq2seq_metrics import lead_baseline

        n = config.lead_words
        if n is None:
            pool = train if train is not None else corpus
            words = [len(r[0].split()) for r in pool.targets]
            n = max(1, round(sum(words) / max(len(words), 1)))
        return lead_baseline(corpus.sources, n)

    def table_metrics(self) -> tuple[str, ...]:
        return ("rouge1", "rouge2", "rougeL", "exact_match")


# --------------------------------------------------------------------------------------------
# Reading sources, attention plots
# --------------------------------------------------------------------------------------------


def read_sources(data: Any, source_column: str | None) -> list[str]:
    """The source texts of ``data``: a list of strings, a text file (one per line) or a
    CSV/TSV/JSONL table's ``source_column``."""
    if isinstance(data, (list, tuple)):
        if not all(isinstance(s, str) for s in data):
            raise TypeError("data must be a list of strings, got a list with "
                            + ", ".join(sorted({type(s).__name__ for s in data})))
        return list(data)
    if isinstance(data, os.PathLike):
        data = os.fspath(data)
    if not isinstance(data, str):
        raise TypeError(f"data must be a text or table file, or a list of strings, got "
                        f"{type(data).__name__}")
    name = data.lower()[:-3] if data.lower().endswith(".gz") else data.lower()
    suffix = next((s for s in TABLE_SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        lines = read_text(data, "data").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return [line.rstrip("\r") for line in lines]
    if source_column is None:
        raise ValueError(f"source_column must name the source column of the table {data!r}, "
                         "got None")
    if suffix == ".jsonl":
        frame = pd.read_json(data, lines=True, dtype=False)
    else:
        frame = pd.read_csv(data, sep="\t" if suffix == ".tsv" else ",", dtype=str,
                            keep_default_na=False)
    if source_column not in frame.columns:
        from rnnkit.core.suggest import did_you_mean

        raise ValueError(f"source_column must be a column of {data!r} "
                         f"({list(frame.columns)}), got {source_column!r}"
                         f"{did_you_mean(source_column, [str(c) for c in frame.columns])}")
    return ["" if pd.isna(v) else str(v) for v in frame[source_column].tolist()]


def attention_plot(model: Seq2Seq, pre: Seq2SeqPreprocessing, config: Seq2SeqConfig,
                   sources: Sequence[str], path: str | os.PathLike[str], *,
                   beam_size: int | None = None) -> Path:
    """A PNG with one heatmap per source: the attention weights of each output token (rows)
    over the source tokens (columns)."""
    from rnnkit.core import plotting

    if not sources:
        raise ValueError("attention_plot: need at least one non-empty source, got none")
    decoded = decode(model, pre, config, sources, beam_size=beam_size)
    n = len(sources)
    fig, axes = plotting.new_figure(n, 1, size=(7.0, 3.2 * n), purpose="attention plots")
    for k in range(n):
        ax = axes[k, 0]
        h = decoded.hypotheses[k]
        weights = h.attention.numpy()
        src = [pre.source_tokenizer.decode([i]) for i in decoded.source_ids[k]]
        oovs = decoded.oovs[k] if decoded.oovs else []
        out = ["<eos>" if i == pre.eos_id else pre.decode_target([i], oovs) for i in h.tokens]
        ax.imshow(weights, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(src)))
        ax.set_xticklabels(src, rotation=90, fontsize=7)
        ax.set_yticks(range(len(out)))
        ax.set_yticklabels(out, fontsize=7)
        ax.set_title(f"example {k + 1}: attention (rows: output, columns: source)", fontsize=8)
    # Scripts the default font lacks (Chinese, ...) render as boxes: say nothing about it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from font")
        warnings.filterwarnings("ignore", message=r".*missing from font.*")
        return plotting.save_figure(fig, path)


TASK = Seq2SeqTask()
SUMMARIZE_TASK = SummarizeTask()


# --------------------------------------------------------------------------------------------
# The one-call API
# --------------------------------------------------------------------------------------------


def train(config: Seq2SeqConfig, run_dir: str | os.PathLike[str], *,
          training: TrainConfig | None = None, quiet: bool = False) -> Any:
    """Train, score and save a translation model (a :class:`SummarizeConfig`: a summariser)."""
    task = SUMMARIZE_TASK if isinstance(config, SummarizeConfig) else TASK
    return run_task(task, config, run_dir, training=training, quiet=quiet)


def load_seq2seq(path: str | os.PathLike[str] | Artifact) -> LoadedSeq2Seq:
    """Rebuild a translator or summariser saved by :func:`train` (no code is executed)."""
    from rnnkit.io.artifact import load_artifact

    artifact = path if isinstance(path, Artifact) else load_artifact(path)
    task = SUMMARIZE_TASK if artifact.kind == SUMMARIZE_TASK.artifact_kind else TASK
    return task.load(artifact)


def evaluate(artifact: str | os.PathLike[str] | LoadedSeq2Seq, data: Any = None) -> dict:
    """Scores of a saved model on ``data`` (see :meth:`Seq2SeqTask.evaluate`)."""
    loaded = artifact if isinstance(artifact, LoadedSeq2Seq) else load_seq2seq(artifact)
    task = SUMMARIZE_TASK if isinstance(loaded, LoadedSummarizer) else TASK
    return task.evaluate(loaded, data)


def predict(artifact: str | os.PathLike[str] | LoadedSeq2Seq, data: Any) -> pd.DataFrame:
    """Outputs of a saved model for ``data`` (see :meth:`Seq2SeqTask.predict`)."""
    loaded = artifact if isinstance(artifact, LoadedSeq2Seq) else load_seq2seq(artifact)
    task = SUMMARIZE_TASK if isinstance(loaded, LoadedSummarizer) else TASK
    return task.predict(loaded, data)

