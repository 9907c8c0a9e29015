r"""A recurrent language model with the regularisers of AWD-LSTM, and text generation.

Shape legend: B batch, T time, V vocabulary, E embedding size, H hidden size, P projection
size, L layers.

::

    ids (B, T) ─ embedding (V, E), embedding dropout ─┐
        layer 1 (any cell, W_hh weight-dropped) ─ locked dropout ─ … ─ layer L
        ─ locked dropout ─ [projection H → P] ─ output layer ─ logits (B, T, V)

The output layer is tied to the embedding (Press & Wolf 2017: logits = x Eᵀ + b) when the size
entering it equals E. Four regularisers (Merity, Keskar & Socher 2017, "Regularizing and
Optimizing LSTM Language Models"), all off at evaluation:

* embedding dropout: whole rows of the embedding (word types) are dropped for a batch, and the
  rest scaled by 1 / (1 − p);
* locked (variational) dropout: one mask per sequence and unit, the same at every step (a mask
  (B, 1, H)), on every layer's output;
* weight drop (DropConnect on W_hh): a fresh mask on the recurrent matrix at every forward
  (every batch), applied to the *weight* before the layer runs, so the layer still takes its
  fused kernel (the numba BPTT) with the dropped matrix as an ordinary input;
* activation regularisation: AR = α · mean(m ⊙ h_L)², TAR = β · mean(h_L,t − h_L,t−1)² on the
  last layer's output h_L (m its dropout mask), added to the loss.

Each layer is its own single-layer :class:`rnnkit.nn.Recurrent` (``layers.0``, ``layers.1``,
…), so that dropout and weight drop can act between and inside them. The recurrent state is a
tuple with one entry per layer, each as the layer takes it (for LSTM ``(h, c)``, each
(1, B, H)), batch on dimension 1 as the trainer's stateful BPTT expects.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from rnnkit.models.backbone import model_cells, recurrent_layer

#: Any recurrent state: a tensor or a (nested) tuple of tensors.
LayerState = Any


def _probability(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"LanguageModel: {name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _size(name: str, value: object, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"LanguageModel: {name} must be an int >= {low}, got {value!r}")
    return value


class LanguageModel(nn.Module):
    """Next-token model over ids: embedding → recurrent layers → (projection) → vocabulary.

    Args:
        vocab_size: V.
        embedding_dim: E (None: H, so that the output layer can be tied without projection).
        cell: 'lstm', 'gru', 'rnn' or another cell of the cell table.
        hidden_size: H, units per layer.
        num_layers: L.
        proj_size: P > 0 adds a linear projection H → P before the output layer (tied when
            P = E); 0: none.
        tie_weights: share the embedding matrix with the output layer when the sizes allow
            (the size entering the output layer equals E); the model's ``tied`` says whether
            it did.
        dropout: locked dropout on the last layer's output.
        locked_dropout: locked dropout between layers (on each layer's output but the last).
        embedding_dropout: probability of dropping a whole embedding row for a batch.
        input_dropout: locked dropout on the embeddings entering layer 1.
        weight_drop: DropConnect probability on every layer's W_hh.
        ar, tar: α and β of activation and temporal activation regularisation (0: off).
        backend: the layers' kernel backend ('auto': numba on the CPU when it serves).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int | None = None,
        cell: str = "lstm",
        hidden_size: int = 512,
        num_layers: int = 1,
        proj_size: int = 0,
        tie_weights: bool = True,
        dropout: float = 0.0,
        locked_dropout: float = 0.0,
        embedding_dropout: float = 0.0,
        input_dropout: float = 0.0,
        weight_drop: float = 0.0,
        ar: float = 0.0,
        tar: float = 0.0,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self.vocab_size = _size("vocab_size", vocab_size, 2)
        self.hidden_size = _size("hidden_size", hidden_size)
        self.num_layers = _size("num_layers", num_layers)
        self.embedding_dim = (
            self.hidden_size if embedding_dim is None else _size("embedding_dim", embedding_dim)
        )
        self.proj_size = _size("proj_size", proj_size, 0)
        if cell not in model_cells():
            raise ValueError(f"LanguageModel: cell must be one of {list(model_cells())}, "
                             f"got {cell!r}")
        self.cell = cell
        self.dropout = _probability("dropout", dropout)
        self.locked_dropout = _probability("locked_dropout", locked_dropout)
        self.embedding_dropout = _probability("embedding_dropout", embedding_dropout)
        self.input_dropout = _probability("input_dropout", input_dropout)
        self.weight_drop = _probability("weight_drop", weight_drop)
        for name, value in (("ar", ar), ("tar", tar)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"LanguageModel: {name} must be a number >= 0, got {value!r}")
        self.ar, self.tar = float(ar), float(tar)
        self.backend = backend

        self.embedding = nn.Embedding(self.vocab_size, self.embedding_dim)
        self.layers = nn.ModuleList(
            recurrent_layer(cell, self.embedding_dim if k == 0 else self.hidden_size,
                            self.hidden_size, batch_first=True, backend=backend)
            for k in range(self.num_layers)
        )
        self.projection = nn.Linear(self.hidden_size, self.proj_size) if self.proj_size else None
        top = self.proj_size or self.hidden_size
        self.tie_weights = bool(tie_weights)
        self.tied = self.tie_weights and top == self.embedding_dim
        # Tied: logits = x Eᵀ + b with the embedding's own matrix (no second copy to save).
        self.decoder = None if self.tied else nn.Linear(top, self.vocab_size, bias=False)
        self.decoder_bias = nn.Parameter(torch.zeros(self.vocab_size))
        if self.tied:
            # The matrix is also the output layer: small, so that the first logits are near
            # uniform (AWD-LSTM's U(−0.1, 0.1)); untied it keeps torch's N(0, 1), whose larger
            # inputs make a small character embedding learn much faster.
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        self._penalty: Tensor | None = None  # AR + TAR of the last training forward

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments, as JSON."""
        return {
            "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
            "cell": self.cell, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
            "proj_size": self.proj_size, "tie_weights": self.tie_weights,
            "dropout": self.dropout, "locked_dropout": self.locked_dropout,
            "embedding_dropout": self.embedding_dropout, "input_dropout": self.input_dropout,
            "weight_drop": self.weight_drop, "ar": self.ar, "tar": self.tar,
            "backend": self.backend,
        }

    # ---- pieces ----------------------------------------------------------------------------

    def _embed(self, ids: Tensor) -> Tensor:
        """(B, T) ids -> (B, T, E), with embedding dropout in training."""
        weight = self.embedding.weight
        if self.training and self.embedding_dropout > 0:
            keep = 1 - self.embedding_dropout
            rows = weight.new_empty(weight.shape[0], 1).bernoulli_(keep) / keep  # (V, 1)
            weight = weight * rows
        return F.embedding(ids, weight)

    def _locked(self, x: Tensor, p: float) -> Tensor:
        """Locked dropout: one mask (B, 1, F) for every step of the sequence."""
        if not self.training or p == 0:
            return x
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)
        return x * mask

    def _run_layer(self, k: int, x: Tensor, state: LayerState | None,
                   lengths: Tensor | None) -> tuple[Tensor, LayerState]:
        layer = self.layers[k]
        if not (self.training and self.weight_drop > 0):
            return layer(x, state, lengths=lengths)
        # DropConnect: a new mask on W_hh for this forward, substituted for the parameter
        # during this call only; the layer's backend sees an ordinary weight tensor, so the
        # fused kernel (and its hand-written backward) still runs, and the gradient reaches
        # the parameter through the mask.
        name = "weight_hh_l0"
        dropped = F.dropout(getattr(layer, name), self.weight_drop, training=True)
        return functional_call(layer, {name: dropped}, (x, state), {"lengths": lengths})

    def _head(self, h: Tensor) -> Tensor:
        """(…, H) last-layer output -> (…, V) logits."""
        if self.projection is not None:
            h = self.projection(h)
        weight = self.embedding.weight if self.tied else self.decoder.weight
        return F.linear(h, weight, self.decoder_bias)

    # ---- the task-model protocol -----------------------------------------------------------

    def forward(self, inputs: Tensor, state: tuple | None = None, *,
                lengths: Tensor | None = None) -> tuple[Tensor, tuple]:
        """Logits of the next token at every step.

        Args:
            inputs: (B, T) int64 ids.
            state: None (zeros) or the state a previous call returned.
            lengths: (B,) real steps per row, or None.

        Returns:
            logits (B, T, V) and the final state (one entry per layer).
        """
        if not isinstance(inputs, Tensor) or inputs.dim() != 2 or inputs.is_floating_point():
            raise ValueError(
                "LanguageModel: inputs must be a (B, T) integer tensor of token ids, got "
                + (f"{inputs.dtype} {tuple(inputs.shape)}" if isinstance(inputs, Tensor)
                   else type(inputs).__name__)
            )
        if state is not None and (not isinstance(state, tuple) or len(state) != self.num_layers):
            raise ValueError(
                f"LanguageModel: state must be None or a tuple of {self.num_layers} layer "
                f"states, got {type(state).__name__}"
                + (f" of length {len(state)}" if isinstance(state, tuple) else "")
            )
        x = self._locked(self._embed(inputs), self.input_dropout)
        finals = []
        raw = x
        for k in range(self.num_layers):
            raw, final = self._run_layer(k, x, None if state is None else state[k], lengths)
            finals.append(final)
            last = k == self.num_layers - 1
            x = self._locked(raw, self.dropout if last else self.locked_dropout)
        self._penalty = None
        if self.training and (self.ar > 0 or self.tar > 0):
            penalty = x.new_zeros(())
            if self.ar > 0:
                penalty = penalty + self.ar * x.pow(2).mean()
            if self.tar > 0 and raw.shape[1] > 1:
                penalty = penalty + self.tar * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
            self._penalty = penalty
        return self._head(x), tuple(finals)

    def loss(self, outputs: Tensor, batch: Any) -> Tensor:
        """Mean cross-entropy (nats per token) over the batch's masked targets, plus AR/TAR in
        training."""
        mask = batch.mask
        ce = F.cross_entropy(outputs[mask], batch.targets[mask])
        if self.training and self._penalty is not None:
            return ce + self._penalty
        return ce

    def metrics(self, outputs: Tensor, batch: Any) -> dict[str, tuple[float, int]]:
        """Bits per token, as (sum, count) for exact epoch means."""
        mask = batch.mask
        nll = F.cross_entropy(outputs[mask].detach().float(), batch.targets[mask],
                              reduction="sum")
        return {"bits": (float(nll) / math.log(2), int(mask.sum()))}

    # ---- scoring and generation ------------------------------------------------------------

    @torch.no_grad()
    def token_nll(self, ids: Tensor, *, streams: int = 1, chunk_len: int = 512) -> Tensor:
        """Negative log-likelihood in nats of every token of ``ids`` but the first, given all
        tokens before it in its stream, the state carried across chunks.

        Args:
            ids: (N + 1,) int64.
            streams: cut the text into this many contiguous streams run side by side (1: the
                whole text is one history; more: faster, with ``streams − 1`` fresh starts).
            chunk_len: steps per forward call (memory only; the state crosses chunks).

        Returns:
            (streams · (N // streams),) nats per predicted token, in text order (the last
            N mod streams tokens are not scored when streams > 1).
        """
        was = self.training
        self.eval()
        try:
            n = (ids.numel() - 1) // streams
            if n < 1:
                raise ValueError(f"token_nll: need at least {streams + 1} tokens, "
                                 f"got {ids.numel()}")
            x = ids[: streams * n].view(streams, n)
            y = ids[1 : streams * n + 1].view(streams, n)
            out = []
            state = None
            for start in range(0, n, chunk_len):
                logits, state = self(x[:, start:start + chunk_len], state)
                out.append(F.cross_entropy(logits.transpose(1, 2), y[:, start:start + chunk_len],
                                           reduction="none"))  # (streams, t)
            return torch.cat(out, dim=1).reshape(-1)
        finally:
            self.train(was)

    @torch.no_grad()
    def generate(
        self,
        prompt: list[int],
        length: int,
        sample: Callable[[Tensor], Tensor],
        on_token: Callable[[int], None] | None = None,
    ) -> list[int]:
        """``length`` new token ids after ``prompt``, one at a time.

        The prompt runs as one sequence; then each new token advances every layer by one step
        through the layers' streaming API (``layer.stream``: the compiled one-step kernel,
        nothing allocated per step), and ``sample(logits (1, V)) -> id`` picks the next.
        ``on_token(id)`` is called as each token is chosen (to print it at once).
        """
        if not prompt:
            raise ValueError("generate: prompt must hold at least one token, got none")
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"generate: length must be an int >= 0, got {length!r}")
        was = self.training
        self.eval()
        try:
            ids = torch.tensor([prompt], dtype=torch.int64)
            _, state = self(ids[:, :-1], None) if len(prompt) > 1 else (None, None)
            streams = [
                layer.stream(1, None if state is None else state[k])
                for k, layer in enumerate(self.layers)
            ]
            token = prompt[-1]
            out: list[int] = []
            weight = self.embedding.weight
            for _ in range(length):
                x = weight[token].unsqueeze(0).contiguous()  # (1, E)
                for s in streams:
                    x = s.step(x)  # (1, H): a buffer the next step overwrites
                token = int(sample(self._head(x)))
                out.append(token)
                if on_token is not None:
                    on_token(token)
            return out
        finally:
            self.train(was)
