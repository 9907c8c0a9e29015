r"""An encoder–decoder with attention for sequence-to-sequence tasks (translation, summaries).

Shape legend: B batch, S source steps, T target steps, E embedding size, H hidden size (the
decoder's, and the width of the encoder's memory), D encoder directions (1 or 2),
L_e / L_d encoder / decoder layers, V_s / V_t source / target vocabulary, N rows being
decoded (B, or B·K with K beams).

::

    source ids (B, S) ─ embedding ─ encoder (any cell, L_e layers, D directions of H / D units)
        ─ memory m (B, S, H)  ·  final states, directions concatenated ─ decoder initial state
    target ids shifted right (B, T) ─ embedding ─ decoder (any cell, L_d layers) ─ h (B, T, H)
        ─ attention over m (padding masked) ─ context c (B, T, H)
        ─ h̃ = tanh(W_c [h; c]) ─ output layer (tied to the target embedding) ─ logits (B, T, V_t)

Two attentions (Luong, Pham & Manning 2015; Bahdanau, Cho & Bengio 2015):

* ``'dot'`` / ``'general'`` (Luong): scores ``h_tᵀ m_s`` or ``h_tᵀ W_a m_s`` with the decoder's
  output h_t of the *current* step, so attention comes after the recurrent step and the
  teacher-forced decoder is ONE call of the recurrent layer over all T steps (rnnkit's fused
  kernels carry training); attention is then a batched matrix product.
* ``'bahdanau'`` (additive): ``e_{t,s} = vᵀ tanh(W_q s_{t−1} + W_k m_s)`` with the decoder's
  top-layer state *before* the step as the query, and the context fed into the recurrent input
  ``x_t = [embed(y_{t−1}); c_t]`` (input feeding: the decoder knows where it attended). Every
  step depends on the previous one through the attention, so it runs as a per-step loop.

In both, ``α_{t,s} = softmax_s(e_{t,s})`` over the real source positions only (padding gets
weight exactly 0), ``c_t = Σ_s α_{t,s} m_s``. The loss is the mean cross-entropy over the
real target tokens, with optional label smoothing (Szegedy et al. 2016); padding is masked out
of the loss and of the token accuracy.

Copying with coverage (``copy=True``; See, Liu & Manning 2017, "Get To The Point"): a
generation gate ``p_gen = σ(w_c·c_t + w_s·s_t + w_x·x_t + b)`` (c_t the context, s_t the decoder
output, x_t the embedded previous token) mixes generating and pointing,

    P(w) = p_gen P_vocab(w) + (1 − p_gen) Σ_{i: w_i = w} α_{t,i},

over an *extended vocabulary*: the V_t target ids, then the source's own out-of-vocabulary
words, ids V_t, V_t + 1, … per example (``source_ext`` (B, S): each source position's id in
that space; see :mod:`rnnkit.tasks.seq2seq`). An extended id fed back to the decoder becomes
``<unk>``. The mixture is computed in log space (``logaddexp`` of the two log terms), and a word
absent from the source gets no copy term at all (−inf, not a clamped log 0). With
``coverage_weight`` λ > 0 the coverage ``cov_t = Σ_{t'<t} α_{t'}`` (B, S) enters the
attention score — Bahdanau: ``vᵀ tanh(W_q s + W_k m_s + w_cov cov_{t,s})``; Luong:
``h_tᵀ (W_a m_s + w_cov cov_{t,s})`` — and the loss gains ``λ Σ_s min(α_{t,s}, cov_{t,s})``
per target token. Then the attention of step t depends on the steps before it, so it runs
as a loop over t (Luong's decoder is still one fused layer call; only the (B, S) attention
arithmetic loops). Padding of source and target is masked in all of it.

Scheduled sampling (Bengio et al. 2015): while training, with probability
``sampling_probability`` (an attribute the trainer's :class:`rnnkit.tasks.seq2seq.
ScheduledSampling` callback raises over the updates, see :func:`sampling_probability`; 0 at
construction and never saved) each step's input is a token drawn from the model's own
distribution of the step before instead of the true previous token. The decoder then runs step
by step (each input depends on the step before); with probability 0, and always in
evaluation, it is the teacher-forced pass above.

Decoding (:mod:`rnnkit.text.beam`) uses :meth:`Seq2Seq.encode`, :meth:`Seq2Seq.start` and
:meth:`Seq2Seq.step`, which give exactly the teacher-forced log-probabilities step by step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.backbone import model_cells, recurrent_layer

ATTENTIONS = ("dot", "general", "bahdanau")
#: Up to this many rows a decoding step uses the layers' streaming step (see _decoder_step).
STEP_ROWS = 8
#: The padding id of source and target (the data layer's ``Vocabulary`` convention).
PAD_ID = 0
#: The unknown id: what an extended (copied) id becomes when fed back to the decoder.
UNK_ID = 1
#: Copy probabilities below this are clamped before the log (float32 underflow of α only).
TINY = 1e-30


def _size(name: str, value: object, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"Seq2Seq: {name} must be an int >= {low}, got {value!r}")
    return value


def _ids(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor) or value.dim() != 2 or value.is_floating_point():
        raise ValueError(
            f"Seq2Seq: {name} must be a (B, T) integer tensor of token ids, got "
            + (f"{value.dtype} {tuple(value.shape)}" if isinstance(value, Tensor)
               else type(value).__name__)
        )
    return value


def _lengths(name: str, value: Tensor | None, ids: Tensor) -> Tensor:
    """(B,) int64 CPU lengths in [1, T] (None: every row is full)."""
    B, T = ids.shape
    if value is None:
        return torch.full((B,), T, dtype=torch.int64)
    if not isinstance(value, Tensor) or tuple(value.shape) != (B,) or value.is_floating_point():
        raise ValueError(
            f"Seq2Seq: {name} must be an integer tensor of shape ({B},), got "
            + (f"{value.dtype} {tuple(value.shape)}" if isinstance(value, Tensor)
               else type(value).__name__)
        )
    lengths = value.detach().to("cpu", torch.int64)
    if bool(((lengths < 1) | (lengths > T)).any()):
        raise ValueError(f"Seq2Seq: {name} must be in [1, {T}], got {lengths.tolist()}")
    return lengths


SAMPLING_SCHEDULES = ("linear", "inverse_sigmoid")


def sampling_probability(update: int, final: float, updates: int,
                         schedule: str = "inverse_sigmoid") -> float:
    """The probability of feeding the model's own token at optimiser update ``update``.

    ``final · (1 − ε_i)`` with ε_i the teacher-forcing probability of Bengio et al. (2015):
    'linear' ε_i = max(0, 1 − i / K); 'inverse_sigmoid' ε_i = k / (k + exp(i / k)) with k
    such that ε = 1/2 at i = K / 2 (k ln k = K / 2); K = ``updates``.
    """
    if schedule not in SAMPLING_SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SAMPLING_SCHEDULES)}, got {schedule!r}")
    if isinstance(updates, bool) or not isinstance(updates, int) or updates < 1:
        raise ValueError(f"updates must be an int >= 1, got {updates!r}")
    if isinstance(final, bool) or not isinstance(final, (int, float)) or not 0 <= final <= 1:
        raise ValueError(f"final must be a probability in [0, 1], got {final!r}")
    if schedule == "linear":
        teacher = max(0.0, 1.0 - update / updates)
    else:
        k = _inverse_sigmoid_k(updates)
        teacher = k / (k + math.exp(min(update / k, 700.0)))
    return float(final) * (1.0 - teacher)


def _inverse_sigmoid_k(updates: int) -> float:
    """k >= 1 with k ln k = K / 2 (bisection; k ln k grows monotonically for k >= 1)."""
    low, high = 1.0, max(2.0, float(updates))
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if mid * math.log(mid) < updates / 2 else (low, mid)
    return (low + high) / 2


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """softmax over the last axis where ``mask`` (broadcastable, True = real) holds; exact
    zeros elsewhere."""
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


@dataclass
class Encoded:
    """What the encoder leaves for the decoder.

    Attributes:
        memory: (N, S, H) encoder outputs, zero past each source length.
        mask: (N, S) bool, True at real source positions.
        keys: (N, S, A) the memory seen by the attention (W_a m for 'general', W_k m for
            'bahdanau', m itself for 'dot').
        state: the decoder's initial state (the encoder's final states, directions joined).
        source: (N, S) the source ids (for copying and plots).
        source_ext: (N, S) a copy model's source ids in the extended vocabulary (None
            without copy).
        extended: V_ext = V_t + the most source OOVs of any row (V_t without copy).
    """

    memory: Tensor
    mask: Tensor
    keys: Tensor
    state: Any
    source: Tensor
    source_ext: Tensor | None = None
    extended: int = 0

    def select(self, index: Tensor) -> Encoded:
        """Rows ``index`` (N',) of everything (e.g. each source repeated for K beams)."""
        ext = None if self.source_ext is None else self.source_ext.index_select(0, index)
        return Encoded(self.memory.index_select(0, index), self.mask.index_select(0, index),
                       self.keys.index_select(0, index), select_state(self.state, index),
                       self.source.index_select(0, index), ext, self.extended)


def select_state(state: Any, index: Tensor) -> Any:
    """Rows ``index`` of a recurrent state (tensors with the batch on dim 1, or tuples)."""
    if isinstance(state, Tensor):
        return state.index_select(1, index)
    return tuple(select_state(s, index) for s in state)


@dataclass
class Seq2SeqOutput:
    """The teacher-forced pass: logits (B, T, V_t), attention (B, T, S) and the decoder's
    final state. A copy model's ``logits`` are log-probabilities over the extended vocabulary
    (B, T, V_ext) (−inf for extended ids its row lacks; a log-softmax leaves them unchanged),
    with ``p_gen`` (B, T) and ``coverage_loss`` (B, T): Σ_s min(α_{t,s}, cov_{t,s}) (zeros
    without coverage)."""

    logits: Tensor
    attention: Tensor
    state: Any
    p_gen: Tensor | None = None
    coverage_loss: Tensor | None = None


class Seq2Seq(nn.Module):
    """Attention encoder–decoder over token ids (see the module docstring for the equations).

    Args:
        source_vocab: V_s, source ids (0 is padding).
        target_vocab: V_t, target ids (0 is padding; ``bos_id`` and ``eos_id`` among them).
        embedding_dim: E.
        hidden_size: H, the decoder's units and the memory width; a bidirectional encoder has
            H / 2 units per direction (H must then be even), so its final states, joined,
            start the decoder.
        cell: 'lstm', 'gru', 'rnn' or another cell of the cell table, for both sides.
        encoder_layers, decoder_layers: L_e, L_d. With L_e = L_d decoder layer k starts from
            encoder layer k's final state, else every decoder layer from the top one's.
        bidirectional: D = 2 for the encoder.
        dropout: on the embeddings, between stacked layers, and before the output layer.
        attention: 'dot', 'general' or 'bahdanau'.
        share_embeddings: one embedding for source and target (needs V_s = V_t: a shared
            vocabulary).
        tie_output: the output layer uses the target embedding matrix (Press & Wolf 2017);
            h̃ then has E units.
        label_smoothing: ε of the training loss (0: plain cross-entropy).
        bos_id, eos_id: the target's start and end tokens.
        backend: the recurrent layers' kernel backend ('auto': numba on the CPU when it serves).
        copy: the pointer-generator (see the module docstring); ``forward`` then takes
            ``source_ext`` and returns (B, T, V_ext + 1): the extended log-probabilities, then
            each step's coverage loss.
        coverage_weight: λ of the coverage loss; > 0 also feeds the coverage into the
            attention score (needs ``copy``).
    """

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        embedding_dim: int = 256,
        hidden_size: int = 256,
        cell: str = "gru",
        encoder_layers: int = 1,
        decoder_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.1,
        attention: str = "general",
        share_embeddings: bool = False,
        tie_output: bool = True,
        label_smoothing: float = 0.0,
        bos_id: int = 2,
        eos_id: int = 3,
        backend: str = "auto",
        copy: bool = False,
        coverage_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.source_vocab = _size("source_vocab", source_vocab, 2)
        self.target_vocab = _size("target_vocab", target_vocab, 2)
        self.embedding_dim = _size("embedding_dim", embedding_dim)
        self.hidden_size = _size("hidden_size", hidden_size)
        self.encoder_layers = _size("encoder_layers", encoder_layers)
        self.decoder_layers = _size("decoder_layers", decoder_layers)
        if cell not in model_cells():
            raise ValueError(f"Seq2Seq: cell must be one of {list(model_cells())}, got {cell!r}")
        if attention not in ATTENTIONS:
            raise ValueError(f"Seq2Seq: attention must be one of {list(ATTENTIONS)}, "
                             f"got {attention!r}")
        for name, value in (("bidirectional", bidirectional),
                            ("share_embeddings", share_embeddings), ("tie_output", tie_output),
                            ("copy", copy)):
            if not isinstance(value, bool):
                raise TypeError(f"Seq2Seq: {name} must be a bool, got {value!r}")
        self.directions = 2 if bidirectional else 1
        if hidden_size % self.directions:
            raise ValueError(f"Seq2Seq: hidden_size must be even with bidirectional=True (H / 2 "
                             f"units per direction), got {hidden_size}")
        for name, value in (("dropout", dropout), ("label_smoothing", label_smoothing)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"Seq2Seq: {name} must be a number in [0, 1), got {value!r}")
        if (isinstance(coverage_weight, bool) or not isinstance(coverage_weight, (int, float))
                or not 0 <= coverage_weight < float("inf")):
            raise ValueError(f"Seq2Seq: coverage_weight must be a finite number >= 0, got "
                             f"{coverage_weight!r}")
        if coverage_weight > 0 and not copy:
            raise ValueError(f"Seq2Seq: coverage_weight > 0 needs copy=True (coverage is part "
                             f"of the pointer-generator), got coverage_weight={coverage_weight}")
        if share_embeddings and source_vocab != target_vocab:
            raise ValueError(
                "Seq2Seq: share_embeddings=True needs one vocabulary for both sides, got "
                f"source_vocab={source_vocab} and target_vocab={target_vocab}"
            )
        for name, value in (("bos_id", bos_id), ("eos_id", eos_id)):
            if (isinstance(value, bool) or not isinstance(value, int)
                    or not 0 < value < target_vocab):
                raise ValueError(f"Seq2Seq: {name} must be an id in [1, {target_vocab}), "
                                 f"got {value!r}")
        self.cell, self.attention = cell, attention
        self.bidirectional, self.share_embeddings = bidirectional, share_embeddings
        self.tie_output = tie_output
        self.dropout, self.label_smoothing = float(dropout), float(label_smoothing)
        self.bos_id, self.eos_id, self.backend = bos_id, eos_id, backend
        self.copy, self.coverage_weight = copy, float(coverage_weight)
        self.coverage = self.coverage_weight > 0
        #: Scheduled sampling's current probability (training only; set by the trainer).
        self.sampling_probability = 0.0

        E, H = self.embedding_dim, self.hidden_size
        self.target_embedding = nn.Embedding(self.target_vocab, E, padding_idx=PAD_ID)
        # Shared: one module, saved once (a second name for it would store the matrix twice).
        self.own_source_embedding = (
            None if share_embeddings else nn.Embedding(self.source_vocab, E, padding_idx=PAD_ID)
        )
        self.encoder = recurrent_layer(
            cell, E, H // self.directions, num_layers=self.encoder_layers, batch_first=True,
            dropout=self.dropout if self.encoder_layers > 1 else 0.0,
            bidirectional=bidirectional, backend=backend,
        )
        feed = H if attention == "bahdanau" else 0  # the context enters the recurrent input
        self.decoder = recurrent_layer(
            cell, E + feed, H, num_layers=self.decoder_layers, batch_first=True,
            dropout=self.dropout if self.decoder_layers > 1 else 0.0, backend=backend,
        )
        if attention == "general":
            self.attention_weight = nn.Linear(H, H, bias=False)  # W_a
        elif attention == "bahdanau":
            self.query_weight = nn.Linear(H, H, bias=False)  # W_q
            self.key_weight = nn.Linear(H, H, bias=True)  # W_k (its bias is the tanh's)
            self.score_vector = nn.Linear(H, 1, bias=False)  # v
        out = E if tie_output else H
        self.combine = nn.Linear(2 * H, out, bias=False)  # W_c
        self.output = None if tie_output else nn.Linear(H, self.target_vocab, bias=False)
        self.output_bias = nn.Parameter(torch.zeros(self.target_vocab))
        if copy:
            self.generate_gate = nn.Linear(2 * H + E, 1)  # [w_c; w_s; w_x] and b of p_gen
        if self.coverage:
            self.coverage_vector = nn.Parameter(torch.zeros(H))  # w_cov
        if tie_output:
            # The target embedding is also the output layer: small so that the first logits
            # are near uniform.
            nn.init.uniform_(self.target_embedding.weight, -0.1, 0.1)
            with torch.no_grad():
                self.target_embedding.weight[PAD_ID].zero_()

    @property
    def source_embedding(self) -> nn.Embedding:
        """The source side's embedding (the target's when shared)."""
        own = self.own_source_embedding
        return self.target_embedding if own is None else own

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments, as JSON."""
        return {
            "source_vocab": self.source_vocab, "target_vocab": self.target_vocab,
            "embedding_dim": self.embedding_dim, "hidden_size": self.hidden_size,
            "cell": self.cell, "encoder_layers": self.encoder_layers,
            "decoder_layers": self.decoder_layers, "bidirectional": self.bidirectional,
            "dropout": self.dropout, "attention": self.attention,
            "share_embeddings": self.share_embeddings, "tie_output": self.tie_output,
            "label_smoothing": self.label_smoothing, "bos_id": self.bos_id,
            "eos_id": self.eos_id, "backend": self.backend, "copy": self.copy,
            "coverage_weight": self.coverage_weight,
        }

    # ---- encoder ---------------------------------------------------------------------------

    def encode(self, source: Tensor, source_lengths: Tensor | None = None,
               source_ext: Tensor | None = None) -> Encoded:
        """Run the encoder over ``source`` (B, S) with ``source_lengths`` (B,) (None: full).

        ``source_ext`` (B, S): a copy model's source ids in the extended vocabulary (ids below
        V_t are target ids, V_t + j the row's j-th out-of-vocabulary word). None: the source
        ids themselves, which needs a shared vocabulary (``share_embeddings``)."""
        source = _ids("source", source)
        lengths = _lengths("source_lengths", source_lengths, source)
        if int(source.max()) >= self.source_vocab or int(source.min()) < 0:
            raise ValueError(f"Seq2Seq: source ids must be in [0, {self.source_vocab}), got "
                             f"ids from {int(source.min())} to {int(source.max())}")
        x = F.dropout(self.source_embedding(source), self.dropout, self.training)  # (B, S, E)
        memory, final = self.encoder(x, None, lengths=lengths)  # (B, S, H)
        mask = torch.arange(source.shape[1]) < lengths[:, None]  # (B, S)
        mask = mask.to(memory.device)
        if self.attention == "general":
            keys = self.attention_weight(memory)
        elif self.attention == "bahdanau":
            keys = self.key_weight(memory)
        else:
            keys = memory
        ext, extended = self._source_ext(source, source_ext, mask) if self.copy else (None, 0)
        return Encoded(memory, mask, keys, self._bridge(final), source, ext, extended)

    def _source_ext(self, source: Tensor, source_ext: Tensor | None, mask: Tensor
                    ) -> tuple[Tensor, int]:
        """The checked (B, S) extended source ids (0 on padding) and V_ext."""
        if source_ext is None:
            if not self.share_embeddings:
                raise ValueError("Seq2Seq: a copy model with separate vocabularies needs "
                                 "source_ext (the source ids in the target's extended "
                                 "vocabulary), got None")
            source_ext = source
        source_ext = _ids("source_ext", source_ext)
        if tuple(source_ext.shape) != tuple(source.shape):
            raise ValueError(f"Seq2Seq: source_ext must have the source's shape "
                             f"{tuple(source.shape)}, got {tuple(source_ext.shape)}")
        source_ext = source_ext.masked_fill(~mask.to(source_ext.device), PAD_ID)
        if int(source_ext.min()) < 0:
            raise ValueError(f"Seq2Seq: source_ext ids must be >= 0, got "
                             f"{int(source_ext.min())}")
        return source_ext, max(self.target_vocab, int(source_ext.max()) + 1)

    def _bridge(self, final: Any) -> Any:
        """The encoder's final state (L_e·D, B, H/D) as the decoder's (L_d, B, H): the
        directions of each layer joined; layer by layer when L_e = L_d, else the top layer's
        for every decoder layer."""
        if not isinstance(final, Tensor):
            return tuple(self._bridge(s) for s in final)
        Le, D = self.encoder_layers, self.directions
        B, Hd = final.shape[1], final.shape[2]
        joined = final.view(Le, D, B, Hd).permute(0, 2, 1, 3).reshape(Le, B, D * Hd)
        if Le == self.decoder_layers:
            return joined.contiguous()
        return joined[-1:].expand(self.decoder_layers, B, D * Hd).contiguous()

    # ---- attention and output --------------------------------------------------------------

    def _attend(self, query: Tensor, encoded: Encoded) -> tuple[Tensor, Tensor]:
        """Luong attention of queries (N, T, H): weights (N, T, S) and contexts (N, T, H)."""
        scores = torch.bmm(query, encoded.keys.transpose(1, 2))  # (N, T, S)
        weights = masked_softmax(scores, encoded.mask[:, None, :])
        return weights, torch.bmm(weights, encoded.memory)

    def _attend_covered(self, query: Tensor, encoded: Encoded
                        ) -> tuple[Tensor, Tensor, Tensor]:
        """Luong attention with coverage of queries (N, T, H), step by step: weights
        (N, T, S), contexts (N, T, H) and the coverage losses (N, T)."""
        base = torch.bmm(query, encoded.keys.transpose(1, 2))  # (N, T, S): h_tᵀ W_a m_s
        gain = query @ self.coverage_vector  # (N, T): h_tᵀ w_cov
        coverage = torch.zeros_like(base[:, 0])  # (N, S)
        ws, losses = [], []
        for t in range(base.shape[1]):
            w = masked_softmax(base[:, t] + gain[:, t, None] * coverage, encoded.mask)
            losses.append(torch.minimum(w, coverage).sum(-1))
            coverage = coverage + w
            ws.append(w)
        weights = torch.stack(ws, 1)
        return weights, torch.bmm(weights, encoded.memory), torch.stack(losses, 1)

    def _attend_additive(self, query: Tensor, encoded: Encoded,
                         coverage: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Bahdanau attention of one query (N, H) (with the coverage (N, S) when the model has
        it): weights (N, S) and context (N, H)."""
        energy = encoded.keys + self.query_weight(query)[:, None, :]  # (N, S, H)
        if coverage is not None:
            energy = energy + coverage[..., None] * self.coverage_vector
        energy = torch.tanh(energy)
        scores = self.score_vector(energy).squeeze(-1)  # (N, S)
        weights = masked_softmax(scores, encoded.mask)
        return weights, torch.bmm(weights[:, None, :], encoded.memory).squeeze(1)

    def _logits(self, h: Tensor, context: Tensor) -> Tensor:
        """h̃ = tanh(W_c [h; c]), then the output layer: (…, H), (…, H) -> (…, V_t)."""
        attentional = torch.tanh(self.combine(torch.cat([h, context], dim=-1)))
        attentional = F.dropout(attentional, self.dropout, self.training)
        weight = self.target_embedding.weight if self.tie_output else self.output.weight
        return F.linear(attentional, weight, self.output_bias)

    def _mix(self, logits: Tensor, weights: Tensor, gate: Tensor, encoded: Encoded) -> Tensor:
        """The pointer-generator's log P(w) (…, V_ext) from the vocabulary logits (…, V_t),
        the attention (…, S) and the gate's pre-activation (…, 1), over rows (N, …)."""
        log_vocab = torch.log_softmax(logits.float(), dim=-1)
        weights = weights.float()
        lead = weights.shape[:-1]
        index = encoded.source_ext.view(lead[0], *([1] * (len(lead) - 1)), -1).expand_as(weights)
        copied = weights.new_zeros(*lead, encoded.extended).scatter_add_(-1, index, weights)
        # Which extended ids occur in the row's real source: the others get no copy term.
        present = torch.zeros(lead[0], encoded.extended, dtype=torch.bool,
                              device=weights.device)
        present.scatter_(1, encoded.source_ext, encoded.mask)
        present = present.view(lead[0], *([1] * (len(lead) - 1)), -1)
        log_copy = torch.where(present, copied.clamp_min(TINY).log(),
                               torch.full_like(copied, float("-inf")))
        gate = gate.float()
        log_gen, log_point = F.logsigmoid(gate), F.logsigmoid(-gate)  # log p_gen, log(1−p_gen)
        V = self.target_vocab
        in_vocab = torch.logaddexp(log_gen + log_vocab, log_point + log_copy[..., :V])
        return torch.cat([in_vocab, log_point + log_copy[..., V:]], dim=-1)

    def _gate(self, context: Tensor, h: Tensor, x: Tensor) -> Tensor:
        """The generation gate's pre-activation w_c·c + w_s·s + w_x·x + b: (…, 1)."""
        return self.generate_gate(torch.cat([context, h, x], dim=-1))

    # ---- teacher forcing (training) --------------------------------------------------------

    def teacher_forced(self, source: Tensor, source_lengths: Tensor | None, target_in: Tensor,
                       target_lengths: Tensor | None = None,
                       source_ext: Tensor | None = None) -> Seq2SeqOutput:
        """Logits of every target token given the source and the true previous tokens.

        Args:
            source: (B, S) ids; source_lengths (B,) or None.
            target_in: (B, T) the target shifted right (``bos_id`` first); target_lengths
                (B,) or None. A copy model reads extended ids in it as ``<unk>``.
            source_ext: (B, S) a copy model's extended source ids (see :meth:`encode`).
        """
        target_in = _ids("target_in", target_in)
        lengths = _lengths("target_lengths", target_lengths, target_in)
        if self.copy and int(target_in.min()) >= 0:
            target_in = target_in.masked_fill(target_in >= self.target_vocab, UNK_ID)
        if int(target_in.max()) >= self.target_vocab or int(target_in.min()) < 0:
            raise ValueError(f"Seq2Seq: target ids must be in [0, {self.target_vocab}), got "
                             f"ids from {int(target_in.min())} to {int(target_in.max())}")
        if source.shape[0] != target_in.shape[0]:
            raise ValueError(f"Seq2Seq: source and target_in must have the same batch size, "
                             f"got {source.shape[0]} and {target_in.shape[0]}")
        parts = self._teacher_parts(source, source_lengths, target_in, lengths, source_ext)
        logits, weights, gate, coverage_loss, final, step_mask, encoded = parts
        if not self.copy:
            weights = weights * step_mask[:, :, None]  # no attention at padded target steps
            return Seq2SeqOutput(logits, weights, final)
        # Mixed with every step's weights, so each row of P sums to 1, padded steps too.
        log_probs = self._mix(logits, weights, gate, encoded)
        weights = weights * step_mask[:, :, None]
        return Seq2SeqOutput(log_probs, weights, final, torch.sigmoid(gate[..., 0]),
                             coverage_loss)

    def _teacher_parts(self, source: Tensor, source_lengths: Tensor | None, target_in: Tensor,
                       lengths: Tensor, source_ext: Tensor | None) -> tuple[Any, ...]:
        """The teacher-forced pass before any mixing: vocabulary logits (B, T, V_t), attention
        (B, T, S) (also at padded target steps), the gate's pre-activation (B, T, 1) (None
        without copy), coverage losses (B, T) (zero at padded steps), the final state, the
        step mask (B, T) and the encoder's result."""
        if self.training and self.sampling_probability > 0:
            return self._sampled_parts(source, source_lengths, target_in, lengths, source_ext)
        encoded = self.encode(source, source_lengths, source_ext)
        y = F.dropout(self.target_embedding(target_in), self.dropout, self.training)  # (B,T,E)
        coverage_loss = None
        if self.attention != "bahdanau":
            # One fused recurrent call over all T steps, then attention as matrix products.
            h, final = self.decoder(y, encoded.state, lengths=lengths)  # (B, T, H)
            if self.coverage:
                weights, context, coverage_loss = self._attend_covered(h, encoded)
            else:
                weights, context = self._attend(h, encoded)
        else:
            h, weights, context, final, coverage_loss = self._bahdanau_loop(y, encoded, lengths)
        step_mask = (torch.arange(target_in.shape[1]) < lengths[:, None]).to(h.device)
        logits = self._logits(h, context)
        gate = self._gate(context, h, y) if self.copy else None  # (B, T, 1)
        if coverage_loss is None:
            coverage_loss = h.new_zeros(h.shape[:2])
        return (logits, weights, gate, coverage_loss * step_mask, final, step_mask, encoded)

    def _sampled_parts(self, source: Tensor, source_lengths: Tensor | None, target_in: Tensor,
                       lengths: Tensor, source_ext: Tensor | None) -> tuple[Any, ...]:
        """:meth:`_teacher_parts` with scheduled sampling: step by step, each row's input at
        step t > 0 is, with probability ``sampling_probability``, a token drawn from the
        model's distribution at step t − 1 (detached; an extended id is fed as ``<unk>``)."""
        encoded = self.encode(source, source_lengths, source_ext)
        B, T = target_in.shape
        state = final = encoded.state
        coverage = encoded.memory.new_zeros(encoded.mask.shape) if self.coverage else None
        outs: dict[str, list[Tensor]] = {"logits": [], "weights": [], "gate": [], "cov": []}
        previous = drawn = target_in[:, 0]
        for t in range(T):
            if t > 0:
                own = torch.rand(B, device=previous.device) < self.sampling_probability
                previous = torch.where(own, drawn, target_in[:, t])
            y = F.dropout(self.target_embedding(previous), self.dropout, self.training)
            if self.attention != "bahdanau":
                out, state = self.decoder(y[:, None, :], state)
                h = out[:, 0]
                scores = torch.bmm(h[:, None, :], encoded.keys.transpose(1, 2))[:, 0]
                if coverage is not None:
                    scores = scores + (h @ self.coverage_vector)[:, None] * coverage
                weights = masked_softmax(scores, encoded.mask)
                context = torch.bmm(weights[:, None, :], encoded.memory)[:, 0]
            else:
                weights, context = self._attend_additive(_top(state), encoded, coverage)
                out, state = self.decoder(torch.cat([y, context], -1)[:, None, :], state)
                h = out[:, 0]
            if coverage is not None:
                outs["cov"].append(torch.minimum(weights, coverage).sum(-1))
                coverage = coverage + weights
            logits = self._logits(h, context)
            gate = self._gate(context, h, y) if self.copy else None
            with torch.no_grad():
                log_probs = (self._mix(logits, weights, gate, encoded) if self.copy
                             else torch.log_softmax(logits.float(), -1))
                drawn = torch.multinomial(log_probs.exp(), 1)[:, 0]
                drawn = drawn.masked_fill(drawn >= self.target_vocab, UNK_ID)
            outs["logits"].append(logits)
            outs["weights"].append(weights)
            if gate is not None:
                outs["gate"].append(gate)
            done = (lengths == t + 1).to(h.device)
            final = state if t == 0 else _where_rows(done, state, final)
        step_mask = (torch.arange(T) < lengths[:, None]).to(encoded.memory.device)
        covered = (torch.stack(outs["cov"], 1) if outs["cov"]
                   else encoded.memory.new_zeros(B, T))
        gate = torch.stack(outs["gate"], 1) if outs["gate"] else None
        return (torch.stack(outs["logits"], 1), torch.stack(outs["weights"], 1), gate,
                covered * step_mask, final, step_mask, encoded)

    def _bahdanau_loop(self, y: Tensor, encoded: Encoded, lengths: Tensor
                       ) -> tuple[Tensor, Tensor, Tensor, Any, Tensor | None]:
        """The per-step decoder: (B, T, E) embeddings -> h, weights, contexts, final state
        and the coverage losses (B, T) (None without coverage)."""
        state = encoded.state
        hs, ws, cs, losses = [], [], [], []
        T = y.shape[1]
        final = state
        coverage = encoded.memory.new_zeros(encoded.mask.shape) if self.coverage else None
        for t in range(T):
            weights, context = self._attend_additive(_top(state), encoded, coverage)
            if coverage is not None:
                losses.append(torch.minimum(weights, coverage).sum(-1))
                coverage = coverage + weights
            x = torch.cat([y[:, t], context], dim=-1)[:, None, :]  # (B, 1, E + H)
            h, state = self.decoder(x, state)
            hs.append(h[:, 0])
            ws.append(weights)
            cs.append(context)
            # The final state of each row is the one after its last real step.
            done = (lengths == t + 1).to(h.device)
            final = state if t == 0 else _where_rows(done, state, final)
        covered = torch.stack(losses, 1) if losses else None
        return torch.stack(hs, 1), torch.stack(ws, 1), torch.stack(cs, 1), final, covered

    # ---- the task-model protocol -----------------------------------------------------------

    def forward(self, inputs: Tensor, state: Any = None, *, lengths: Tensor | None = None,
                source: Tensor | None = None, source_lengths: Tensor | None = None,
                source_ext: Tensor | None = None) -> tuple[Tensor, Any]:
        """The trainer's call: ``inputs`` is the shifted target (B, T), ``lengths`` its lengths;
        ``source``, ``source_lengths`` (and a copy model's ``source_ext``) come from the batch
        (:class:`rnnkit.data.seq2seq_batching.Seq2SeqBatch`). Returns logits (B, T, V_t) —
        a copy model: (B, T, V_t + 2 + S), per step the vocabulary logits, the gate's
        pre-activation, the coverage loss and the attention weights, from which :meth:`loss`
        mixes only the target's probability (the full (B, T, V_ext) mixture would cost
        several passes over the largest tensor of the step, forward and backward) — and the
        decoder's final state."""
        if state is not None:
            raise ValueError("Seq2Seq: state must be None (a sequence-to-sequence model is "
                             "trained with full BPTT from the encoder's state), got a state")
        if source is None:
            raise ValueError("Seq2Seq: source must be given (a (B, S) tensor of source ids), "
                             "got None; the batch must be a Seq2SeqBatch")
        if not self.copy:
            out = self.teacher_forced(source, source_lengths, inputs, lengths, source_ext)
            return out.logits, out.state
        inputs = _ids("inputs", inputs)
        lengths = _lengths("lengths", lengths, inputs)
        inputs = inputs.masked_fill(inputs >= self.target_vocab, UNK_ID)
        logits, weights, gate, covered, final, _, _ = self._teacher_parts(
            source, source_lengths, inputs, lengths, source_ext)
        packed = torch.cat([logits.float(), gate.float(), covered[..., None].float(),
                            weights.float()], -1)
        return packed, final

    def _copy_parts(self, outputs: Tensor, batch: Any
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """The real target tokens' (M rows) parts of a copy model's packed outputs: logits
        (M, V_t), gate pre-activation (M,), coverage loss (M,), attention (M, S), the
        extended source ids (M, S) and the targets (M,)."""
        V, mask = self.target_vocab, batch.mask
        rows = outputs[mask]
        ext = batch.source_ext if getattr(batch, "source_ext", None) is not None \
            else batch.source
        source = ext[:, None, :].expand(*mask.shape, ext.shape[1])[mask]  # (M, S)
        return (rows[:, :V], rows[:, V], rows[:, V + 1], rows[:, V + 2:], source,
                batch.targets[mask])

    def _target_log_prob(self, logits: Tensor, gate: Tensor, attention: Tensor,
                         source: Tensor, targets: Tensor) -> Tensor:
        """log P(y) (M,) of the targets under the mixture, without building it over V_ext:
        logaddexp(log p_gen + log P_vocab(y), log(1 − p_gen) + log Σ_{i: w_i = y} α_i)."""
        V = self.target_vocab
        in_vocab = targets < V
        lse = torch.logsumexp(logits, 1)
        picked = logits.gather(1, targets.clamp(max=V - 1)[:, None])[:, 0] - lse
        log_vocab = torch.where(in_vocab, picked, torch.full_like(picked, float("-inf")))
        hits = source == targets[:, None]  # (M, S); padding holds 0, never a target
        present = hits.any(1)
        if bool((~in_vocab & ~present).any()):
            raise ValueError("Seq2Seq: a target holds an extended id that its source lacks "
                             "(extended ids must come from the row's own source_ext)")
        copied = (attention * hits).sum(1)
        log_copy = torch.where(present, copied.clamp_min(TINY).log(),
                               torch.full_like(copied, float("-inf")))
        return torch.logaddexp(F.logsigmoid(gate) + log_vocab, F.logsigmoid(-gate) + log_copy)

    def loss(self, outputs: Tensor, batch: Any) -> Tensor:
        """Mean cross-entropy over the real target tokens (label-smoothed in training).

        A copy model: the mean over real target tokens (in extended ids) of
        ``(1 − ε) (−log P(y_t)) + ε mean_w (−log P_vocab(w)) + λ Σ_s min(α_{t,s}, cov_{t,s})``:
        the smoothing acts on the generator's vocabulary distribution."""
        mask = batch.mask
        smoothing = self.label_smoothing if self.training else 0.0
        if not self.copy:
            return F.cross_entropy(outputs[mask], batch.targets[mask],
                                   label_smoothing=smoothing)
        logits, gate, covered, attention, source, targets = self._copy_parts(outputs, batch)
        nll = -self._target_log_prob(logits, gate, attention, source, targets)
        if smoothing:
            uniform = torch.logsumexp(logits, 1) - logits.mean(1)  # mean_w −log P_vocab(w)
            nll = (1 - smoothing) * nll + smoothing * uniform
        return (nll + self.coverage_weight * covered).mean()

    def metrics(self, outputs: Tensor, batch: Any) -> dict[str, tuple[float, int]]:
        """Token accuracy and negative log-likelihood (nats) over the real target tokens (a
        copy model: also the mean coverage loss)."""
        mask = batch.mask
        if self.copy:
            with torch.no_grad():
                logits, gate, covered, attention, source, targets = self._copy_parts(
                    outputs.detach().float(), batch)
                n = int(mask.sum())
                nll = -float(self._target_log_prob(logits, gate, attention, source,
                                                   targets).sum())
                p_gen = torch.sigmoid(gate)[:, None]
                extended = max(self.target_vocab, int(source.max()) + 1)
                probs = F.pad(torch.softmax(logits, 1) * p_gen,
                              (0, extended - self.target_vocab))
                probs.scatter_add_(1, source, attention * (1 - p_gen))
                correct = float((probs.argmax(-1) == targets).sum())
            return {"token_accuracy": (correct, n), "nll": (nll, n),
                    "coverage": (float(covered.sum()), n)}
        logits, targets = outputs[mask].detach().float(), batch.targets[mask]
        n = int(mask.sum())
        nll = float(F.cross_entropy(logits, targets, reduction="sum"))
        correct = float((logits.argmax(-1) == targets).sum())
        return {"token_accuracy": (correct, n), "nll": (nll, n)}

    # ---- step-by-step decoding -------------------------------------------------------------

    def start(self, encoded: Encoded) -> Any:
        """The decoder state before the first target token (the bridged encoder state; with
        coverage, beside it the zero coverage (1, N, S), batch on dim 1 like every state)."""
        if self.coverage:
            return (encoded.state, encoded.memory.new_zeros(1, *encoded.mask.shape))
        return encoded.state

    def step(self, previous: Tensor, state: Any, encoded: Encoded
             ) -> tuple[Tensor, Any, Tensor]:
        """One decoder step: log-probabilities of the next token.

        Args:
            previous: (N,) the previous token of each row (``bos_id`` at the start).
            state: the decoder state (from :meth:`start` or the last step).
            encoded: the encoder's result for the same N rows.

        Returns:
            log_probs (N, V_t) — a copy model's (N, V_ext), where an extended ``previous`` is
            read as ``<unk>`` — the new state, attention weights (N, S).
        """
        if self.copy:
            previous = previous.masked_fill(previous >= self.target_vocab, UNK_ID)
        coverage = None
        if self.coverage:
            state, cov = state
            coverage = cov[0]  # (N, S)
        y = self.target_embedding(previous)  # (N, E)
        if self.attention != "bahdanau":
            h, state = self._decoder_step(y, state)  # (N, H)
            if coverage is None:
                weights, context = self._attend(h[:, None, :], encoded)
                weights, context = weights[:, 0], context[:, 0]
            else:
                scores = torch.bmm(h[:, None, :], encoded.keys.transpose(1, 2))[:, 0]
                scores = scores + (h @ self.coverage_vector)[:, None] * coverage
                weights = masked_softmax(scores, encoded.mask)
                context = torch.bmm(weights[:, None, :], encoded.memory)[:, 0]
        else:
            weights, context = self._attend_additive(_top(state), encoded, coverage)
            h, state = self._decoder_step(torch.cat([y, context], dim=-1), state)
        logits = self._logits(h, context)
        if not self.copy:
            return torch.log_softmax(logits.float(), dim=-1), state, weights
        log_probs = self._mix(logits, weights, self._gate(context, h, y), encoded)
        if coverage is not None:
            state = (state, (coverage + weights)[None])
        return log_probs, state, weights

    def _decoder_step(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One decoder step of x (N, F): the layers' compiled streaming step for a few rows,
        one layer call over a length-1 sequence for many (a batch of beams): same values, and
        the layer call's matrix products are faster there (GRU 256 -> 512 on one thread:
        45 vs 8 ms at N = 64, 220 vs 33 ms at N = 320; 1.2 vs 16 ms at N = 1)."""
        if x.shape[0] <= STEP_ROWS:
            return self.decoder.step(x, state)
        out, state = self.decoder(x[:, None, :], state)
        return out[:, 0], state

    def reorder_state(self, state: Any, index: Tensor) -> Any:
        """Rows ``index`` (N',) of a decoder state (to follow the beams of beam search)."""
        return select_state(state, index)

    def sequence_log_prob(self, source: Tensor, source_lengths: Tensor | None,
                          target: Tensor, source_ext: Tensor | None = None) -> Tensor:
        """log p(target | source) (B,) of complete targets (B, T) that end with ``eos_id``
        (padded with 0 after it; a copy model's may hold extended ids), by one teacher-forced
        pass."""
        lengths = (target != PAD_ID).sum(1)
        bos = torch.full((target.shape[0], 1), self.bos_id, dtype=target.dtype)
        target_in = torch.cat([bos, target[:, :-1]], dim=1).masked_fill(target == PAD_ID, 0)
        logits = self.teacher_forced(source, source_lengths, target_in, lengths,
                                     source_ext).logits
        logp = torch.log_softmax(logits.float(), -1).gather(-1, target[..., None])[..., 0]
        return (logp * (target != PAD_ID)).sum(1)


def _top(state: Any) -> Tensor:
    """The top layer's hidden state (N, H) of a decoder state ((L, N, H) or (h, c, ...))."""
    h = state if isinstance(state, Tensor) else state[0]
    return h[-1]


def _where_rows(rows: Tensor, new: Any, old: Any) -> Any:
    """``new`` where ``rows`` (N,) is True, else ``old`` (states with the batch on dim 1)."""
    if isinstance(new, Tensor):
        return torch.where(rows.view(1, -1, 1), new, old)
    return tuple(_where_rows(rows, n, o) for n, o in zip(new, old, strict=True))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (a shared embedding counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["ATTENTIONS", "PAD_ID", "SAMPLING_SCHEDULES", "UNK_ID", "Encoded", "Seq2Seq",
           "Seq2SeqOutput", "count_parameters", "masked_softmax", "sampling_probability",
           "select_state"]
