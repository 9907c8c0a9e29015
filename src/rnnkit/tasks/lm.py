"""Language modelling and text generation: the :class:`LMTask` of the task pipeline, its
one-call API and :func:`generate`.

``train(config, run_dir)`` reads a UTF-8 text (a file, the shipped 'tinyshakespeare' or
'wikitext2' from the data directory, see :mod:`rnnkit.data.lm_corpus`), cuts off its
validation text, fits a tokeniser on the training text only (:mod:`rnnkit.text.tokenizers`),
and trains a :class:`~rnnkit.models.language_model.LanguageModel` over B parallel contiguous
streams of the training text with stateful truncated BPTT: the state is carried from chunk to
chunk and detached at each (:class:`rnnkit.train.bptt.StatefulBPTT`, ``k1``/``k2`` cut a chunk
further). After every epoch it samples a short text into ``samples.txt``.

Metrics (``metrics.json``, ``rnnkit evaluate``): ``loss`` (mean cross-entropy, nats per
token), ``perplexity`` = exp(loss), ``bits_per_token`` = loss / ln 2 and, for character
models, ``bpc`` (bits per character, the same number). The final scores carry the state over
the whole validation text (one stream); beside them, a unigram baseline (token frequencies of
the training text, add-one smoothed) says what a model that ignores context scores.
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from rnnkit.core import files
from rnnkit.data.folds import Fold, text_block_fold
from rnnkit.data.lm_corpus import BUNDLED_TEXT, Corpus, TextStreams, read_corpus, read_text_file
from rnnkit.io.artifact import Artifact
from rnnkit.models.language_model import LanguageModel
from rnnkit.tasks.lm_config import DATASET_TRAINING, LM_TRAINING_DEFAULTS, LMConfig
from rnnkit.tasks.pipeline import (
    TEST_DATA_KEY,
    Prepared,
    Say,
    Scores,
    Task,
    TaskResult,
    training_line,
)
from rnnkit.tasks.pipeline import run as run_task
from rnnkit.text.decoding import Sampler
from rnnkit.text.tokenizers import Tokenizer, fit_tokenizer, tokenizer_from_json
from rnnkit.train import TrainConfig
from rnnkit.train.callbacks import Callback

ARTIFACT_KIND = "language-model"
SAMPLES_FILE = "samples.txt"
CURVE_FILE = "val_bpc.png"
#: Steps per forward call when scoring a text (memory only: the state crosses the calls).
SCORE_CHUNK = 512


@dataclass
class LMPreprocessing:
    """The fitted tokeniser and the identity of the validation text."""

    tokenizer: Tokenizer
    val_sha256: str
    val_tokens: int

    def to_json(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.to_json(), "val_sha256": self.val_sha256,
                "val_tokens": self.val_tokens}

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> LMPreprocessing:
        return cls(tokenizer_from_json(state["tokenizer"]), str(state["val_sha256"]),
                   int(state["val_tokens"]))


@dataclass
class LMResult(TaskResult):
    """What :func:`train` produced (see :class:`rnnkit.tasks.pipeline.TaskResult`); ``curve``
    holds the per-epoch losses behind ``val_bpc.png``."""

    curve: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LoadedLM:
    """A language model rebuilt from its artifact."""

    model: LanguageModel
    preprocessing: LMPreprocessing
    config: LMConfig
    test_data: dict[str, Any] | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        return self.preprocessing.tokenizer


def text_scores(model: LanguageModel, tokenizer: Tokenizer, ids: torch.Tensor,
                streams: int = 1) -> dict[str, Any]:
    """loss (nats per token), perplexity, bits_per_token and, for characters, bpc of ``ids``."""
    nll = model.token_nll(ids, streams=streams, chunk_len=SCORE_CHUNK)
    loss = float(nll.double().mean())
    out = {"loss": loss, "perplexity": math.exp(min(loss, 700.0)),
           "bits_per_token": loss / math.log(2), "tokens": int(nll.numel())}
    if tokenizer.kind == "char":
        out["bpc"] = out["bits_per_token"]
    return out


def unigram_scores(counts: Counter[int], vocab: int, ids: torch.Tensor, kind: str
                   ) -> dict[str, Any]:
    """The same metrics for p(token) = (count + 1) / (N + V) from the training counts."""
    total = sum(counts.values())
    targets = ids[1:].tolist()
    loss = -sum(math.log((counts.get(t, 0) + 1) / (total + vocab)) for t in targets) / len(targets)
    out = {"loss": loss, "perplexity": math.exp(min(loss, 700.0)),
           "bits_per_token": loss / math.log(2), "tokens": len(targets)}
    if kind == "char":
        out["bpc"] = out["bits_per_token"]
    return out


def _encode(tokenizer: Tokenizer, text: str, argument: str) -> torch.Tensor:
    ids = tokenizer.encode(text)
    if len(ids) < 2:
        raise ValueError(f"{argument} must hold at least 2 tokens to score, got {len(ids)}")
    return torch.tensor(ids, dtype=torch.int64)


def _prompt_ids(tokenizer: Tokenizer, prompt: str | None) -> list[int]:
    ids = tokenizer.encode("\n" if prompt is None or prompt == "" else prompt)
    if not ids:
        raise ValueError(f"prompt must encode to at least one token, got {prompt!r}")
    return ids


class SampleEveryEpoch(Callback):
    """After every epoch: a sampled text into ``samples.txt`` and the epoch's losses into
    ``curve`` (kept in checkpoints, so a resumed run continues both)."""

    def __init__(self, tokenizer: Tokenizer, config: LMConfig, out_dir: str | None,
                 seed: int, curve: list[dict[str, Any]]) -> None:
        self.tokenizer, self.config, self.seed = tokenizer, config, seed
        self.path = None if out_dir is None else Path(out_dir) / SAMPLES_FILE
        self.curve = curve
        self.text = ""

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        self.curve.append({k: row.get(k) for k in ("epoch", "train_loss", "val_loss")})
        c = self.config
        if c.sample_length == 0 or self.path is None or not trainer.is_main:
            return
        prompt = _prompt_ids(self.tokenizer, c.sample_prompt)
        sampler = Sampler(c.sample_temperature, seed=self.seed + row["epoch"])
        ids = trainer.model.generate(prompt, c.sample_length, sampler)
        head = f"=== epoch {row['epoch'] + 1}"
        if row.get("val_loss") is not None:
            head += f", val loss {row['val_loss']:.4f} nats/token"
        self.text += f"{head} ===\n{self.tokenizer.decode(prompt + ids)}\n\n"
        files.atomic_write_text(self.path, self.text)

    def state_dict(self) -> dict[str, Any]:
        return {"curve": list(self.curve), "text": self.text}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.curve[:] = state.get("curve", [])
        self.text = state.get("text", "")


class LMTask(Task):
    """Next-token prediction on one long text; sampling from the trained model."""

    name = "lm"
    artifact_kind = ARTIFACT_KIND
    description = "language model on a text: next-token prediction, perplexity, generation"
    config_class = LMConfig
    result_class = LMResult
    loaded_class = LoadedLM
    headline = ("loss", False)
    training_base = LM_TRAINING_DEFAULTS
    dataset_training = DATASET_TRAINING
    examples = (
        "rnnkit train --task lm --data tinyshakespeare --max-time 3m",
        "rnnkit train --task lm --data my_text.txt --tokenizer word --hidden-size 256",
        'rnnkit generate runs/NAME --prompt "ROMEO:" --length 500 --temperature 0.8',
    )

    def prepare(self, config: LMConfig, training: TrainConfig, say: Say, *,
                fold: Fold | None = None) -> Prepared:
        corpus = read_corpus(config.data, config.val_data, config.val_fraction)
        held_text = None
        if fold is not None:  # contiguous blocks of the training text; its val text stays out
            train, val, held_text = text_block_fold(corpus.train, fold, config.val_fraction)
            corpus = Corpus(train, val, f"{corpus.source} (fold {fold.index + 1} of {fold.k})")
        tokenizer = fit_tokenizer(config.tokenizer, corpus.train, min_freq=config.min_freq,
                                  max_size=config.max_vocab, vocab_size=config.vocab_size)
        train_ids = _encode(tokenizer, corpus.train, "the training text")
        val_ids = _encode(tokenizer, corpus.val, "the validation text") if corpus.val else None
        say(f"data: {len(corpus.train):,} training / {len(corpus.val):,} validation characters; "
            f"{config.tokenizer} tokenizer, {len(tokenizer)} ids; {train_ids.numel():,} "
            f"training tokens in {config.batch_size} streams of {config.chunk_len}-step chunks")
        train_batches = TextStreams(train_ids, batch_size=config.batch_size,
                                    chunk_len=config.chunk_len, variable=config.variable_chunks,
                                    seed=training.seed)
        val_batches = None
        if val_ids is not None:
            if val_ids.numel() - 1 < config.val_streams:
                raise ValueError(
                    f"val_streams must be at most the validation tokens ({val_ids.numel() - 1})"
                    f", got {config.val_streams}"
                )
            val_batches = TextStreams(val_ids, batch_size=config.val_streams,
                                      chunk_len=SCORE_CHUNK)
        pre = LMPreprocessing(tokenizer, corpus.val_sha256,
                              0 if val_ids is None else val_ids.numel())
        held_ids = None if held_text is None else _encode(tokenizer, held_text,
                                                          "the fold's held-out text")
        parts = {"corpus": corpus, "train_ids": train_ids, "val_ids": val_ids,
                 "held_ids": held_ids, "curve": []}
        identity = {"source": _source(config.data), "val_data": _source(config.val_data),
                    "selection": {"val_sha256": corpus.val_sha256}}
        return Prepared(config, train_batches, val_batches, pre, parts, identity)

    def build_model(self, prepared: Prepared) -> LanguageModel:
        c = prepared.config
        return LanguageModel(
            len(prepared.preprocessing.tokenizer),
            embedding_dim=c.resolved_embedding_dim(),
            cell=c.cell,
            hidden_size=c.hidden_size,
            num_layers=c.num_layers,
            proj_size=c.proj_size,
            tie_weights=c.tie_weights,
            dropout=c.dropout,
            locked_dropout=c.locked_dropout,
            embedding_dropout=c.embedding_dropout,
            input_dropout=c.input_dropout,
            weight_drop=c.weight_drop,
            ar=c.ar,
            tar=c.tar,
        )

    def callbacks(self, prepared: Prepared, training: TrainConfig) -> list[Any]:
        return [SampleEveryEpoch(prepared.preprocessing.tokenizer, prepared.config,
                                 training.out_dir, training.seed, prepared.parts["curve"])]

    def score(self, model: LanguageModel, prepared: Prepared, seed: int) -> Scores:
        tok, parts = prepared.preprocessing.tokenizer, prepared.parts
        corpus: Corpus = parts["corpus"]
        metrics: dict[str, Any] = {
            "data": {"source": corpus.source, "tokenizer": tok.kind, "vocabulary": len(tok),
                     "train_characters": len(corpus.train), "val_characters": len(corpus.val),
                     "train_tokens": int(parts["train_ids"].numel())},
        }
        counts = Counter(parts["train_ids"].tolist())
        # 'test' only under cross-validation: the fold's held-out block (what tune scores)
        for part, key in (("val", "val_ids"), ("test", "held_ids")):
            if parts.get(key) is not None:
                metrics[part] = {
                    "model": text_scores(model, tok, parts[key]),
                    "baselines": {"unigram": unigram_scores(counts, len(tok), parts[key],
                                                            tok.kind)},
                }
        summary = {"val": dict(metrics["val"]["model"])} if "val" in metrics else {}
        return Scores(metrics, summary, {"curve": parts["curve"]})

    def plots(self, scores: Scores, prepared: Prepared, run_dir: Path) -> list[Path]:
        curve = [r for r in prepared.parts["curve"] if r.get("train_loss") is not None]
        if not curve:
            return []
        from rnnkit.core import plotting

        unit = "bits per character" if prepared.preprocessing.tokenizer.kind == "char" else \
            "bits per token"
        fig, axes = plotting.new_figure(1, 1, size=(6.4, 4.0), purpose="the learning curve")
        ax = axes[0, 0]
        epochs = [r["epoch"] + 1 for r in curve]
        ax.plot(epochs, [r["train_loss"] / math.log(2) for r in curve], "o-",
                label="training (with dropout)")
        val = [(e, r["val_loss"] / math.log(2)) for e, r in zip(epochs, curve, strict=True)
               if r.get("val_loss") is not None]
        if val:
            ax.plot(*zip(*val, strict=True), "o-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(unit)
        ax.set_title(f"{prepared.config.data}: {unit}")
        ax.grid(alpha=0.3)
        ax.legend()
        return [plotting.save_figure(fig, run_dir / CURVE_FILE)]

    def table(self, part_metrics: dict[str, Any]) -> str:
        """Markdown table: loss, perplexity and bits of the model and the unigram baseline."""
        rows = [("rnnkit model", part_metrics["model"]), *part_metrics.get("baselines", {}).items()]
        bpc = "bpc" in part_metrics["model"]
        bits_head = "bpc |" if bpc else "bits/token |"
        lines = ["| model | loss (nats/token) | perplexity | " + bits_head,
                 "|---|---:|---:|---:|"]
        for name, r in rows:
            bits = r["bpc"] if bpc else r["bits_per_token"]
            lines.append(f"| {name} | {r['loss']:.4f} | {r['perplexity']:.3f} | {bits:.4f} |")
        return "\n".join(lines)

    def closing_lines(self, result: TaskResult) -> list[str]:
        return ["", result.table("val")] if result.metrics.get("val") else []

    def summary(self, result: TaskResult) -> str:
        m, c = result.metrics, result.config
        d = m["data"]
        lines = [
            f"Language model on {c.data!r} ({d['tokenizer']} tokens, vocabulary "
            f"{d['vocabulary']}): {c.cell.upper()} {c.num_layers}×{c.hidden_size}.",
            "",
            f"Data: {d['train_characters']:,} training / {d['val_characters']:,} validation "
            "characters.",
            f"Training: {training_line(m['training'])}.",
        ]
        if m.get("val"):
            lines += ["", "Validation (state carried over the whole text):", "",
                      result.table("val")]
        return "\n".join(lines)

    def restore(self, artifact: Artifact) -> LoadedLM:
        model = self.rebuild_model(LanguageModel, artifact)
        return LoadedLM(model, LMPreprocessing.from_json(artifact.preprocessing),
                        LMConfig.from_dict(artifact.config["task"]),
                        artifact.preprocessing.get(TEST_DATA_KEY))

    def evaluate(self, loaded: LoadedLM, data: Any = None) -> dict[str, Any]:
        text = self._text_of(loaded, data)
        ids = _encode(loaded.tokenizer, text, "data")
        scores = text_scores(loaded.model, loaded.tokenizer, ids)
        scores["unknown_tokens"] = int((ids[1:] == loaded.tokenizer.unk_id).sum())
        return scores

    def _text_of(self, loaded: LoadedLM, data: Any) -> str:
        """The text to score: the model's own validation text (None), a bundled text's
        validation part, or a whole file."""
        if data is None:
            c = loaded.config
            text = read_corpus(c.data, c.val_data, c.val_fraction).val
            if not text:
                raise ValueError("data must be given: the model was trained without validation "
                                 "text (val_fraction 0)")
            from rnnkit.data.lm_corpus import text_sha256

            if text_sha256(text) != loaded.preprocessing.val_sha256:
                raise ValueError(
                    f"data: the validation text of {c.data!r} is no longer the one the model "
                    "was scored on (its SHA-256 differs); give the text to score as data"
                )
            return text
        if isinstance(data, str) and data in BUNDLED_TEXT:
            return read_corpus(data).val
        if isinstance(data, (str, os.PathLike)):
            return read_text_file(data)
        raise TypeError(f"data must be a text file path or one of {list(BUNDLED_TEXT)}, "
                        f"got {type(data).__name__}")

    def predict(self, loaded: LoadedLM, data: Any) -> pd.DataFrame:
        """Per token of the text: its position, the token, and its surprisal (nats and bits)
        given everything before it."""
        ids = _encode(loaded.tokenizer, self._text_of(loaded, data), "data")
        nll = loaded.model.token_nll(ids, chunk_len=SCORE_CHUNK).double().numpy()
        tokens = [loaded.tokenizer.decode([i]) for i in ids[1:].tolist()]
        return pd.DataFrame({"position": range(1, ids.numel()), "token": tokens,
                             "nats": nll, "bits": nll / math.log(2)})


def _source(data: str | None) -> str | None:
    if data is None or data in BUNDLED_TEXT:
        return data
    return str(Path(data).resolve())


TASK = LMTask()


# --------------------------------------------------------------------------------------------
# The one-call API
# --------------------------------------------------------------------------------------------


def train(config: LMConfig, run_dir: str | os.PathLike[str], *,
          training: TrainConfig | None = None, quiet: bool = False) -> LMResult:
    """Train, score and save a language model (see the module docstring)."""
    return run_task(TASK, config, run_dir, training=training, quiet=quiet)


def load_language_model(path: str | os.PathLike[str] | Artifact) -> LoadedLM:
    """Rebuild a language model saved by :func:`train` (never executes code from the file)."""
    return TASK.load(path)


def evaluate(artifact: str | os.PathLike[str] | LoadedLM, data: Any = None) -> dict[str, Any]:
    """loss, perplexity, bits_per_token (and bpc) of a saved model on a text (None: its own
    validation text)."""
    return TASK.evaluate(TASK.loaded(artifact, LoadedLM), data)


def generate(
    artifact: str | os.PathLike[str] | LoadedLM,
    prompt: str | None = None,
    length: int = 500,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    on_text: Callable[[str], None] | None = None,
) -> str:
    """Text sampled from a saved language model after ``prompt`` (the prompt not included).

    Args:
        prompt: the text to continue (None: a line break).
        length: new tokens to sample.
        temperature, top_k, top_p: see :class:`rnnkit.text.Sampler` (temperature 0: greedy).
        seed: the same seed gives the same text (None: a fresh random draw).
        on_text: called with each new piece of text as soon as it is sampled (e.g. to print
            it while the rest is generated).
    """
    loaded = TASK.loaded(artifact, LoadedLM)
    tokenizer = loaded.tokenizer
    sampler = Sampler(temperature, top_k, top_p, seed)
    ids = _prompt_ids(tokenizer, prompt)
    # A token's text can depend on its neighbours (BPE bytes of one character): emit the new
    # part of the decoded text so far, holding back an incomplete UTF-8 character.
    produced: list[int] = []
    shown = [0]

    def emit(token: int) -> None:
        produced.append(token)
        if on_text is None:
            return
        text = tokenizer.decode(produced)
        if text.endswith("\ufffd") and tokenizer.kind == "bpe":
            return
        if len(text) > shown[0]:
            on_text(text[shown[0]:])
            shown[0] = len(text)

    loaded.model.generate(ids, length, sampler, emit)
    text = tokenizer.decode(produced)
    if on_text is not None and len(text) > shown[0]:
        on_text(text[shown[0]:])
    return text


def print_stream(piece: str) -> None:
    """Write ``piece`` to standard output at once (for :func:`generate`'s ``on_text``)."""
    sys.stdout.write(piece)
    sys.stdout.flush()
