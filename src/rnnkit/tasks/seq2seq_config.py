"""The options of a sequence-to-sequence run (``translate``, ``summarize``) and their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rnnkit.core.checks import choice_problems, int_problems, number_problem
from rnnkit.models.backbone import model_cells
from rnnkit.models.seq2seq import ATTENTIONS, SAMPLING_SCHEDULES
from rnnkit.tasks.pipeline import TaskConfig

#: Training options that suit an encoder–decoder: full BPTT (the decoder starts from the
#: encoder's state, so a batch cannot be cut along time), Adam, clipping, the learning rate
#: halved when the validation loss stalls, early stopping on it.
SEQ2SEQ_TRAINING_DEFAULTS: dict[str, Any] = {
    "bptt": "full",
    "epochs": 20,
    "optimizer": "adam",
    "lr": 1e-3,
    "clip_norm": 1.0,
    "plateau_patience": 1,
    "plateau_factor": 0.5,
    "early_stopping": 3,
    "monitor": "val_loss",
}
#: The synthetic sets are small and exact: a higher learning rate, more epochs.
SYNTHETIC_TRAINING: dict[str, Any] = {"lr": 3e-3, "epochs": 40, "early_stopping": 5}
DATASET_TRAINING: dict[str, dict[str, Any]] = {
    "reversal": SYNTHETIC_TRAINING, "addition": SYNTHETIC_TRAINING, "dates": SYNTHETIC_TRAINING,
    "cmudict": {"lr": 2e-3, "epochs": 30},
}
#: Bundled sets whose text is best cut into characters, or into white-space tokens.
CHARACTER_DATASETS = ("reversal", "addition", "dates")
WORD_DATASETS = ("cmudict",)
TOKENIZERS = ("auto", "bpe", "word", "char")


@dataclass
class Seq2SeqConfig(TaskConfig):
    """Options of a translation (or summarisation) run; training options live in
    :class:`rnnkit.train.TrainConfig`.

    data: a bundled set ('multi30k-de-en', 'multi30k-en-de', 'aeslc', 'cmudict', 'reversal',
        'addition', 'dates'), a CSV/TSV/JSONL file with source_column and target_column, or a
        text file of source lines with target_data.
    target_data: the line-aligned text file of targets (when data is a text file).
    source_column: the source column of a table.
    target_column: the target column(s) of a table; several, separated by commas, are several
        references (the first is trained on).
    val_data: a validation file in the form of data (else val_fraction of data validates).
    val_target_data: its targets, when val_data is a text file.
    val_fraction: the share of data held out for validation without val_data.
    max_examples: train on the first N training pairs only (quick runs; None: all).
    lowercase: lower-case both sides before training, and score case-insensitively.
    tokenizer: 'bpe' (byte-level BPE learnt on the training split; any script, Chinese
        included), 'word' (white-space words), 'char' (characters) or 'auto' ('char' for the
        synthetic sets, 'word' for cmudict, else 'bpe').
    vocab_size: ids of each 'bpe' tokenizer (of the one shared tokenizer with shared_vocab).
    min_freq: a 'word' needs this many occurrences in training for its own id.
    shared_vocab: one tokenizer and vocabulary for both sides (then the embeddings are shared).
    max_source_length: cut longer sources to this many tokens (None: keep all).
    max_target_length: cut longer training targets to this many tokens (None: keep all).
    cell: recurrent cell of encoder and decoder: 'gru', 'lstm', 'rnn' or another table cell.
    embedding_dim: size of the token embeddings.
    hidden_size: the decoder's units and the encoder's memory width (a bidirectional encoder
        has half per direction).
    encoder_layers: stacked encoder layers.
    decoder_layers: stacked decoder layers.
    bidirectional: a bidirectional encoder.
    attention: 'general' or 'dot' (Luong: after the recurrent step, the decoder is one fused
        layer call) or 'bahdanau' (additive, a per-step loop with the context fed in).
    dropout: on embeddings, between layers and before the output layer.
    tie_output: the output layer reuses the target embedding.
    label_smoothing: epsilon of the training loss.
    batch_size: pairs per batch (length-bucketed).
    beam_size: beams when scoring and predicting (1: greedy).
    length_alpha: length normalisation of beam search, ((5 + |Y|) / 6)^alpha.
    coverage_beta: coverage penalty of beam search (0: none).
    max_ratio: the longest output is max_ratio times the source length plus max_extra.
    max_extra: see max_ratio.
    no_repeat_ngram: forbid repeating an n-gram in an output (0: off).
    lead_words: words of the lead baseline for summaries (None: the mean training target).
    copy: the pointer-generator (See et al. 2017): outputs may copy source words, also words
        outside the target vocabulary (word or char tokens; with bpe, copying works over
        in-vocabulary pieces only).
    coverage_weight: lambda of the coverage loss, and coverage in the attention when > 0
        (None: 1.0 with copy, 0 without; needs copy).
    scheduled_sampling: the final probability of feeding the model's own previous token
        instead of the true one while training (Bengio et al. 2015; 0: teacher forcing only).
    sampling_schedule: how that probability rises over the updates: 'inverse_sigmoid' or
        'linear'.
    sampling_updates: the updates over which it rises (linear: reaches the final value there;
        inverse_sigmoid: half of it at half this many).
    """

    data: str = "multi30k-de-en"
    target_data: str | None = None
    source_column: str | None = None
    target_column: str | None = None
    val_data: str | None = None
    val_target_data: str | None = None
    val_fraction: float = 0.1
    max_examples: int | None = None
    lowercase: bool = False
    tokenizer: Literal["auto", "bpe", "word", "char"] = "auto"
    vocab_size: int = 8000
    min_freq: int = 1
    shared_vocab: bool = False
    max_source_length: int | None = None
    max_target_length: int | None = None
    cell: str = "gru"
    embedding_dim: int = 256
    hidden_size: int = 512
    encoder_layers: int = 1
    decoder_layers: int = 1
    bidirectional: bool = True
    attention: Literal["general", "dot", "bahdanau"] = "general"
    dropout: float = 0.3
    tie_output: bool = True
    label_smoothing: float = 0.1
    batch_size: int = 64
    beam_size: int = 5
    length_alpha: float = 0.6
    coverage_beta: float = 0.0
    max_ratio: float = 1.5
    max_extra: int = 10
    no_repeat_ngram: int = 0
    lead_words: int | None = None
    copy: bool = False
    coverage_weight: float | None = None
    scheduled_sampling: float = 0.0
    sampling_schedule: Literal["inverse_sigmoid", "linear"] = "inverse_sigmoid"
    sampling_updates: int = 2000

    def problems(self) -> list[str]:
        problems = choice_problems(self, (("tokenizer", TOKENIZERS), ("cell", model_cells()),
                                          ("attention", ATTENTIONS),
                                          ("sampling_schedule", SAMPLING_SCHEDULES)))
        problems += int_problems(self, (
            ("max_examples", 1, True), ("vocab_size", 260, False), ("min_freq", 1, False),
            ("max_source_length", 1, True), ("max_target_length", 1, True),
            ("embedding_dim", 1, False), ("hidden_size", 1, False),
            ("encoder_layers", 1, False), ("decoder_layers", 1, False),
            ("batch_size", 1, False), ("beam_size", 1, False), ("max_extra", 0, False),
            ("no_repeat_ngram", 0, False), ("lead_words", 1, True),
            ("sampling_updates", 1, False),
        ))
        for name, low, high, low_open, high_open in (
            ("val_fraction", 0.0, 1.0, True, True), ("dropout", 0.0, 1.0, False, True),
            ("label_smoothing", 0.0, 1.0, False, True), ("length_alpha", 0.0, 10.0, False, False),
            ("coverage_beta", 0.0, 10.0, False, False), ("max_ratio", 0.0, 100.0, True, False),
            ("scheduled_sampling", 0.0, 1.0, False, False),
        ):
            p = number_problem(name, getattr(self, name), low, high, low_open=low_open,
                               high_open=high_open)
            if p:
                problems.append(p)
        if self.coverage_weight is not None:
            p = number_problem("coverage_weight", self.coverage_weight, 0.0, 100.0,
                               low_open=False, high_open=False)
            if p:
                problems.append(p)
            elif self.coverage_weight > 0 and self.copy is False:
                problems.append(f"coverage_weight > 0 needs copy=true (coverage is part of the "
                                f"pointer-generator), got coverage_weight={self.coverage_weight}")
        for name in ("lowercase", "shared_vocab", "bidirectional", "tie_output", "copy"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be a bool, got {getattr(self, name)!r}")
        if not isinstance(self.data, str) or not self.data:
            problems.append(f"data must be a dataset name or a file, got {self.data!r}")
        for name in ("target_data", "source_column", "target_column", "val_data",
                     "val_target_data"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                problems.append(f"{name} must be a string, got {value!r}")
        if (self.bidirectional and isinstance(self.hidden_size, int)
                and self.hidden_size % 2):
            problems.append(f"hidden_size must be even with bidirectional=true (half per "
                            f"direction), got {self.hidden_size}")
        return problems

    def resolved_coverage_weight(self) -> float:
        """coverage_weight, None resolved: 1.0 with copy, 0 without."""
        if self.coverage_weight is None:
            return 1.0 if self.copy else 0.0
        return float(self.coverage_weight)

    def resolved_tokenizer(self) -> str:
        """The tokenizer, 'auto' resolved for the data."""
        if self.tokenizer != "auto":
            return self.tokenizer
        if self.data in CHARACTER_DATASETS:
            return "char"
        return "word" if self.data in WORD_DATASETS else "bpe"

    def target_columns(self) -> list[str] | None:
        """target_column split at commas (several references)."""
        if self.target_column is None:
            return None
        return [c.strip() for c in self.target_column.split(",") if c.strip()]


@dataclass
class SummarizeConfig(Seq2SeqConfig):
    """Options of a summarisation run: those of translation with defaults for long sources and
    short outputs (AESLC: an email body to its subject line).

    data: a bundled set ('aeslc', ...), a CSV/TSV/JSONL file with source_column and
        target_column, or a text file of source lines with target_data.
    max_source_length: cut longer sources to this many tokens.
    max_target_length: cut longer training targets to this many tokens.
    max_ratio: the longest output is max_ratio times the source length plus max_extra.
    no_repeat_ngram: forbid repeating an n-gram in an output (0: off).
    shared_vocab: one tokenizer and vocabulary for both sides (then the embeddings are shared).
    copy: the pointer-generator with coverage (on for summaries: on AESLC it beat the same
        model without copying, see docs/seq2seq.md).
    """

    data: str = "aeslc"
    shared_vocab: bool = True
    max_source_length: int | None = 200
    max_target_length: int | None = 30
    max_ratio: float = 0.1
    max_extra: int = 15
    no_repeat_ngram: int = 3
    copy: bool = True
