"""The options of a language-model run (:class:`LMConfig`) and its training defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rnnkit.core.checks import choice_problems, int_problems, number_problem
from rnnkit.models.backbone import model_cells
from rnnkit.tasks.pipeline import TaskConfig

#: Training options that suit a language model: stateful truncated BPTT (the state carried
#: across chunks, detached at each; one update per chunk), Adam with the learning rate halved
#: when the validation loss stops improving, clipping as in char-rnn / AWD-LSTM.
LM_TRAINING_DEFAULTS: dict[str, Any] = {
    "bptt": "stateful",
    "epochs": 30,
    "optimizer": "adam",
    "lr": 2e-3,
    "clip_norm": 1.0,
    "plateau_patience": 1,
    "plateau_factor": 0.5,
    "early_stopping": 4,
    "monitor": "val_loss",
}
#: Per bundled dataset: training options laid over the defaults.
DATASET_TRAINING: dict[str, dict[str, Any]] = {}


@dataclass
class LMConfig(TaskConfig):
    """Options of a language-model run (training options live in
    :class:`rnnkit.train.TrainConfig`).

    data: a UTF-8 text file, 'tinyshakespeare' (shipped; the standard 90/10 cut) or
        'wikitext2' (its validation text, read from $RNNKIT_DATA or ../shared/data; 90/10 by
        lines).
    val_data: a separate validation text file (then all of data trains).
    val_fraction: the last share of the characters of a data file that validates (0: none).
    tokenizer: 'char' (one token per character), 'word' (white-space words, a line end as
        <eos>) or 'bpe' (byte-level BPE learnt on the training text; needs rnnkit[text]).
    vocab_size: ids of the 'bpe' tokenizer.
    min_freq: a 'word' needs this many occurrences in training to get its own id.
    max_vocab: at most this many 'word' or 'char' ids (None: all).
    cell: recurrent cell, 'lstm', 'gru', 'rnn' (Elman) or another cell of the cell table.
    hidden_size: units per recurrent layer.
    num_layers: stacked recurrent layers.
    embedding_dim: size of token embeddings (None: 64 for 'char', else hidden_size, so that
        the output layer can be tied to the embedding).
    proj_size: a projection of the last layer's output to this size before the output layer
        (0: none); with proj_size = embedding_dim the output layer is tied.
    tie_weights: share the embedding with the output layer when the sizes allow.
    dropout: locked (variational) dropout on the last layer's output.
    locked_dropout: locked dropout between recurrent layers.
    embedding_dropout: drop whole embedding rows (token types) per batch.
    input_dropout: locked dropout on the embeddings.
    weight_drop: DropConnect on the recurrent weights W_hh (a fresh mask every batch).
    ar: activation regularisation α (on the last layer's output).
    tar: temporal activation regularisation β.
    batch_size: B, parallel contiguous streams of the training text.
    chunk_len: steps per batch (truncated BPTT length; k1/k2 of the training options cut a
        chunk further).
    variable_chunks: draw the chunk lengths per epoch around chunk_len (AWD-LSTM).
    val_streams: validation streams of the per-epoch check during training (the state
        carried within each; 1: over the whole validation text). The final scores always carry
        it over the whole text, as one stream; more streams make the per-epoch check faster.
    sample_length: tokens sampled after every epoch into samples.txt (0: none).
    sample_prompt: the prompt of those samples (None: a line break).
    sample_temperature: their sampling temperature.
    """

    data: str = "tinyshakespeare"
    val_data: str | None = None
    val_fraction: float = 0.1
    tokenizer: Literal["char", "word", "bpe"] = "char"
    vocab_size: int = 2000
    min_freq: int = 1
    max_vocab: int | None = None
    cell: str = "lstm"
    hidden_size: int = 512
    num_layers: int = 1
    embedding_dim: int | None = None
    proj_size: int = 0
    tie_weights: bool = True
    dropout: float = 0.1
    locked_dropout: float = 0.1
    embedding_dropout: float = 0.0
    input_dropout: float = 0.0
    weight_drop: float = 0.1
    ar: float = 0.0
    tar: float = 0.0
    batch_size: int = 32
    chunk_len: int = 128
    variable_chunks: bool = False
    val_streams: int = 8
    sample_length: int = 300
    sample_prompt: str | None = None
    sample_temperature: float = 0.8

    def problems(self) -> list[str]:
        problems = choice_problems(
            self, (("tokenizer", ("char", "word", "bpe")), ("cell", model_cells()))
        )
        problems += int_problems(
            self,
            (
                ("vocab_size", 260, False),
                ("min_freq", 1, False),
                ("max_vocab", 3, True),
                ("hidden_size", 1, False),
                ("num_layers", 1, False),
                ("embedding_dim", 1, True),
                ("proj_size", 0, False),
                ("batch_size", 1, False),
                ("chunk_len", 2, False),
                ("val_streams", 1, False),
                ("sample_length", 0, False),
            ),
        )
        for name in ("val_fraction", "dropout", "locked_dropout", "embedding_dropout",
                     "input_dropout", "weight_drop"):
            p = number_problem(name, getattr(self, name), 0.0, 1.0, high_open=True)
            if p:
                problems.append(p)
        for name in ("ar", "tar", "sample_temperature"):
            p = number_problem(name, getattr(self, name), 0.0)
            if p:
                problems.append(p)
        for name in ("tie_weights", "variable_chunks"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be a bool, got {getattr(self, name)!r}")
        for name in ("data", "val_data", "sample_prompt"):
            value = getattr(self, name)
            if not (value is None and name != "data") and not isinstance(value, str):
                problems.append(f"{name} must be a string, got {value!r}")
        return problems

    def resolved_embedding_dim(self) -> int:
        """embedding_dim, or its default for the tokenizer."""
        if self.embedding_dim is not None:
            return self.embedding_dim
        return 64 if self.tokenizer == "char" else (self.proj_size or self.hidden_size)
