"""What each task model exports as: its ONNX inputs and outputs, example inputs for tracing and
for verification, and the values rnnkit itself computes for them.

One :class:`ModelGraph` per artifact kind, listed in :data:`GRAPHS`; a new task model (seq2seq)
is one more subclass and one more entry. Two graphs per model:

* **sequence** — the whole sequence at once; batch B and time T are dynamic axes:

  - classifier: x (B, T, F) or token ids (B, T), lengths (B,), h0 [, c0] (L·D, B, H)
    → probabilities (B, C), h_n [, c_n];
  - tagger: the same inputs → probabilities (B, T, C) (past a length: the head of a zero output,
    as in rnnkit), h_n [, c_n];
  - forecaster: a normalised window x (B, T + h, F) (windows start from a zero state, or with
    static covariates from the static initial state of ``static`` (B, Ns) standardised numbers
    and ``static_codes`` (B, Kc) int64 category numbers) → point (B, h, C), quantiles
    (B, h, C, Q) in normalised units, h_n [, c_n] of the encoder;
  - language model: token ids x (B, T), h0 [, c0] (L, B, H) → logits (B, T, V), h_n [, c_n].

* **streaming** — one step, state in and state out, for a caller's loop (unidirectional
  models): x_t (B, F) or token ids (B,), h [, c] (L, B, H) → the step's result and h_n [, c_n].
  The classifier's result is the probabilities of the sequence read so far (pooling 'last'),
  the tagger's the step's tag probabilities, the forecaster's the horizon forecast from the
  state so far given the horizon's known features ``known`` (B, h, K) (with static covariates
  also ``static``, ``static_codes`` and ``start`` (B,): 1 where a series starts from its static
  initial state).

Shape legend: B batch, T steps, F features, H hidden, L layers, D directions, C classes / tags /
targets, h horizon, K known-future features, Ns numeric and Kc categorical static covariates,
Q quantile levels, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.export.recurrent import ExportError, exportable_copy


@dataclass
class Graph:
    """One exportable graph: the module to trace and how to feed it."""

    module: nn.Module
    input_names: list[str]
    output_names: list[str]
    #: name -> {axis: (symbol, minimum)}; every other axis is fixed.
    dynamic: dict[str, dict[int, tuple[str, int]]]
    #: Makes named inputs for a batch size and sequence length (torch tensors, seeded).
    make_inputs: Any
    #: Named inputs -> named outputs as rnnkit computes them (numpy), for verification.
    reference: Any
    #: How many leading inputs are named parameters of ``module.forward``; the rest are its
    #: ``*states`` (None: all are named).
    fixed: int | None = None


def _num_states(encoder_layer: nn.Module) -> int:
    return len(encoder_layer._recurrence.state_names)


def _state_names(n: int, prefix: tuple[str, str]) -> list[str]:
    return [prefix[0], prefix[1]][:n]


def _np(t: Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _states_of(final: Any) -> list[Tensor]:
    return list(final) if isinstance(final, tuple) else [final]


class ModelGraph:
    """How one task model exports; subclasses fill in :meth:`sequence` and :meth:`streaming`."""

    kind: str = ""

    def sequence(self, loaded: Any) -> Graph:
        raise NotImplementedError

    def streaming(self, loaded: Any) -> Graph:
        raise NotImplementedError


# -- classifier and tagger (SequenceEncoder models) --------------------------------------------


def _encoder_inputs(model: nn.Module, B: int, T: int, g: torch.Generator, *, step: bool) -> Tensor:
    """Random inputs of the model's input stage: features, token ids or frames."""
    enc = model.encoder
    shape = (B,) if step else (B, T)
    if enc.embedding is not None:
        return torch.randint(2, enc.embedding.num_embeddings, shape, generator=g)
    if enc.frames is not None:
        return torch.randn(*shape, *model.config["frame_shape"], generator=g)
    return torch.randn(*shape, enc.rnn.input_size, generator=g)


def _states(layer: nn.Module, B: int, g: torch.Generator, rows: int | None = None) -> list[Tensor]:
    rows = rows if rows is not None else layer.num_layers * (2 if layer.bidirectional else 1)
    return [
        0.5 * torch.randn(rows, B, layer.hidden_size, generator=g)
        for _ in range(_num_states(layer))
    ]


def _lengths(B: int, T: int, g: torch.Generator) -> Tensor:
    """Lengths in [1, T] with the full length first, so that padding is always exercised."""
    lens = torch.randint(1, T + 1, (B,), generator=g)
    lens[0] = T
    return lens


def _pack_state(states: list[Tensor]) -> Any:
    return tuple(states) if len(states) > 1 else states[0]


def _x_dynamic(model: nn.Module, *, step: bool) -> dict[int, tuple[str, int]]:
    return {0: ("batch", 1)} if step else {0: ("batch", 1), 1: ("time", 1)}


class _SequenceClassifierGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = exportable_copy(model)

    def forward(self, x: Tensor, lengths: Tensor, *states: Tensor):
        summary, final = self.model.summarize(x, lengths, _pack_state(list(states)))
        return (torch.softmax(self.model.head(summary), dim=-1), *_states_of(final))


class _StreamingClassifierGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = exportable_copy(model)

    def forward(self, x_t: Tensor, *states: Tensor):
        x = x_t.unsqueeze(1)  # one step: (B, 1, ...)
        ones = torch.ones(x.shape[0], dtype=torch.int64)
        summary, final = self.model.summarize(x, ones, _pack_state(list(states)))
        return (torch.softmax(self.model.head(summary), dim=-1), *_states_of(final))


class _SequenceTaggerGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = exportable_copy(model)

    def forward(self, x: Tensor, lengths: Tensor, *states: Tensor):
        logits, final = self.model(x, _pack_state(list(states)), lengths=lengths)
        return (torch.softmax(logits, dim=-1), *_states_of(final))


class _StreamingTaggerGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = exportable_copy(model)

    def forward(self, x_t: Tensor, *states: Tensor):
        x = x_t.unsqueeze(1)
        ones = torch.ones(x.shape[0], dtype=torch.int64)
        logits, final = self.model(x, _pack_state(list(states)), lengths=ones)
        return (torch.softmax(logits[:, 0], dim=-1), *_states_of(final))


def _refuse_bidirectional(model: nn.Module, what: str) -> None:
    if model.config.get("bidirectional"):
        raise ExportError(
            f"--streaming needs a unidirectional model (a step cannot see the future), got a "
            f"bidirectional {what}; export the sequence model instead (without --streaming)"
        )


def _refuse_recurrent_frames(model: nn.Module) -> None:
    """A ConvLSTM/ConvGRU frame encoder loops over time in Python: tracing would fix T."""
    if model.config.get("frame_encoder", "cnn") != "cnn":
        raise ExportError(
            f"export does not support frame_encoder={model.config['frame_encoder']!r} yet (its "
            f"convolutional recurrence would be traced for one fixed number of frames); train "
            f"with frame_encoder='cnn' to export, or use the run with rnnkit predict"
        )


class ClassifierGraph(ModelGraph):
    kind = "sequence-classifier"

    def sequence(self, loaded: Any) -> Graph:
        model = loaded.model.eval()
        _refuse_recurrent_frames(model)

        def probabilities(x: Tensor, lengths: Tensor, state: Any) -> tuple[Tensor, Any]:
            summary, final = model.summarize(x, lengths, state)
            return torch.softmax(model.head(summary), dim=-1), final

        return _probabilities_graph(_SequenceClassifierGraph(model), model, probabilities)

    def streaming(self, loaded: Any) -> Graph:
        model = loaded.model.eval()
        _refuse_bidirectional(model, "classifier")
        _refuse_recurrent_frames(model)
        if model.config["pooling"] != "last" or model.config.get("conv_branch"):
            raise ExportError(
                "--streaming needs a classifier whose summary is the last state (pooling='last' "
                f"and no conv branch), got pooling={model.config['pooling']!r}, conv_branch="
                f"{model.config.get('conv_branch')}; export the sequence model instead"
            )
        return _streaming_graph(model, _StreamingClassifierGraph(model), classifier=True)


class TaggerGraph(ModelGraph):
    kind = "sequence-tagger"

    def sequence(self, loaded: Any) -> Graph:
        model = loaded.model.eval()

        def probabilities(x: Tensor, lengths: Tensor, state: Any) -> tuple[Tensor, Any]:
            logits, final = model(x, state, lengths=lengths)
            return torch.softmax(logits, dim=-1), final

        return _probabilities_graph(_SequenceTaggerGraph(model), model, probabilities)

    def streaming(self, loaded: Any) -> Graph:
        model = loaded.model.eval()
        _refuse_bidirectional(model, "tagger")
        return _streaming_graph(model, _StreamingTaggerGraph(model), classifier=False)


def _probabilities_graph(module: nn.Module, model: nn.Module, probabilities: Any) -> Graph:
    """The sequence graph of a classifier or tagger: inputs x, lengths and the initial states;
    outputs the class probabilities and the final states; batch (and time) dynamic. Its
    reference is ``probabilities(x, lengths, state) -> (probabilities, final state)``, the
    model's own computation."""
    n = _num_states(model.encoder.rnn)
    states = _state_names(n, ("h0", "c0"))
    finals = _state_names(n, ("h_n", "c_n"))

    def make(B: int, T: int, seed: int) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(seed)
        named = {"x": _encoder_inputs(model, B, T, g, step=False), "lengths": _lengths(B, T, g)}
        named.update(zip(states, _states(model.encoder.rnn, B, g), strict=True))
        return named

    @torch.no_grad()
    def reference(named: dict[str, Tensor]) -> dict[str, np.ndarray]:
        probs, final = probabilities(
            named["x"], named["lengths"], _pack_state([named[s] for s in states])
        )
        outs = {"probabilities": _np(probs)}
        outs.update(zip(finals, map(_np, _states_of(final)), strict=True))
        return outs

    return Graph(
        module=module,
        input_names=["x", "lengths", *states],
        output_names=["probabilities", *finals],
        dynamic={
            "x": _x_dynamic(model, step=False),
            "lengths": {0: ("batch", 1)},
            **{s: {1: ("batch", 1)} for s in states},
        },
        make_inputs=make,
        reference=reference,
        fixed=2,
    )


def _streaming_graph(model: nn.Module, module: nn.Module, *, classifier: bool) -> Graph:
    """The step graph of a classifier or tagger, verified against the sequence model: steps
    run one by one from random states must give the sequence's result and final state."""
    layer = model.encoder.rnn
    n = _num_states(layer)
    states = _state_names(n, ("h", "c"))

    def make(B: int, T: int, seed: int) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(seed)
        named = {"x": _encoder_inputs(model, B, T, g, step=False)}
        named.update(zip(states, _states(layer, B, g), strict=True))
        return named

    @torch.no_grad()
    def reference(named: dict[str, Tensor]) -> dict[str, np.ndarray]:
        x = named["x"]
        B, T = x.shape[:2]
        full = torch.full((B,), T, dtype=torch.int64)
        state = _pack_state([named[s] for s in states])
        if classifier:
            summary, final = model.summarize(x, full, state)
            probs = torch.softmax(model.head(summary), dim=-1)  # (B, C) after the last step
        else:
            logits, final = model(x, state, lengths=full)
            probs = torch.softmax(logits, dim=-1)  # (B, T, C): one row per step
        outs = {"probabilities": _np(probs)}
        finals = map(_np, _states_of(final))
        outs.update(zip(_state_names(n, ("h_n", "c_n")), finals, strict=True))
        return outs

    def step_inputs(named: dict[str, Tensor], t: int, carried: list[Any]) -> dict[str, Any]:
        feeds = {"x_t": named["x"][:, t]}
        feeds.update(zip(states, carried, strict=True))
        return feeds

    graph = Graph(
        module=module,
        input_names=["x_t", *states],
        output_names=["probabilities", *_state_names(n, ("h_n", "c_n"))],
        dynamic={"x_t": {0: ("batch", 1)}, **{s: {1: ("batch", 1)} for s in states}},
        make_inputs=make,
        reference=reference,
        fixed=1,
    )
    graph.step_inputs = step_inputs  # type: ignore[attr-defined]
    graph.per_step = not classifier  # type: ignore[attr-defined]
    return graph


# -- forecaster ----------------------------------------------------------------------------------


def _check_forecaster(model: nn.Module) -> None:
    if (
        model.decoder == "autoregressive"
        and model.likelihood == "gaussian"
        and model.n_samples > 0
        and model.horizon > 1
    ):
        raise ExportError(
            f"this forecaster draws n_samples={model.n_samples} Monte Carlo paths for its "
            "intervals (autoregressive decoder, Gaussian likelihood), which a deterministic "
            "graph cannot reproduce; export needs n_samples=0 (per-step Gaussian quantiles), "
            "the direct decoder, or likelihood 'quantile'/'point'"
        )


class _ForecastHead(nn.Module):
    """Horizon parameters (B, h, C, n) → point (B, h, C) and quantiles (B, h, C, Q), as
    :meth:`rnnkit.models.forecaster.Forecaster.predict` computes them without sampling."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        z = [NormalDist().inv_cdf(q) for q in model.quantiles]  # Φ⁻¹(q)
        self.register_buffer("z", torch.tensor(z, dtype=torch.float32))

    def forward(self, params: Tensor) -> tuple[Tensor, Tensor]:
        m = self.model
        point = m._point(params)
        if m.likelihood == "point":
            return point, point.unsqueeze(-1)[..., :0]
        if m.likelihood == "quantile":
            return point, params.sort(dim=-1).values
        return point, params[..., :1] + params[..., 1:2] * self.z


def _static_names(model: nn.Module) -> list[str]:
    """The graph inputs of a forecaster's static covariates: ``static`` (B, Ns) standardised
    numbers and ``static_codes`` (B, Kc) int64 category numbers (0: unknown), where present."""
    n_static = getattr(model, "n_static", 0)
    codes = len(getattr(model, "static_categories", ()))
    return [*(["static"] if n_static else []), *(["static_codes"] if codes else [])]


def _with_static(model: nn.Module, x: Tensor, static: list[Tensor]) -> Tensor:
    """The model's window (B, S, F + W): ``x`` (B, S, F) with the static numbers and codes on
    every row, the layout :class:`rnnkit.models.forecaster.Forecaster` reads."""
    if not static:
        return x
    B, S = x.shape[0], x.shape[1]
    columns = [v.to(x.dtype)[:, None, :].expand(B, S, v.shape[1]) for v in static]
    return torch.cat([x, *columns], dim=2)


class _SequenceForecasterGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = exportable_copy(model)
        self.out = _ForecastHead(self.model)

    def forward(self, x: Tensor, *static: Tensor):
        params, final = self.model(_with_static(self.model, x, list(static)))
        point, quantiles = self.out(params[:, -self.model.horizon :])
        return (point, quantiles, *_states_of(final))


class _StreamingForecasterGraph(nn.Module):
    """One step. With static covariates the inputs also hold the static numbers and codes, and
    ``start`` (B,): 1 where a series starts (its state becomes the static initial state
    tanh(W e + b), the given state is ignored), 0 where the given state is carried on."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = exportable_copy(model)
        self.out = _ForecastHead(self.model)
        self.n_static_inputs = len(_static_names(model))

    def forward(self, x_t: Tensor, *rest: Tensor):
        m = self.model
        rest = list(rest)
        known = rest.pop(0) if m.n_known else x_t.new_zeros(x_t.shape[0], m.horizon, 0)
        e = None
        if self.n_static_inputs:
            static = [rest.pop(0) for _ in range(self.n_static_inputs)]
            start = rest.pop(0)
            e = m._static(_with_static(m, x_t.unsqueeze(1), static))
            initial = _states_of(m._initial_state(e))
            keep = (1.0 - start)[None, :, None]  # (1, B, 1) over (L·D, B, H)
            rest = [i * start[None, :, None] + s * keep for i, s in zip(initial, rest,
                                                                        strict=True)]
        out, state = m.encoder(x_t.unsqueeze(1), _pack_state(rest))
        if m.decoder == "direct":
            parts = [m._summary(state), known.flatten(1), *([] if e is None else [e])]
            raw = m.head(torch.cat(parts, dim=1)).unflatten(1, (m.horizon, m.n_targets,
                                                                m.n_params))
            params = m._constrain(raw)
        else:
            params = m._decode_from(out[:, -1], state, known, sample=None, e=e)
        point, quantiles = self.out(params)
        return (point, quantiles, *_states_of(state))


def _forecaster_make_and_reference(model: Any, n: int) -> tuple[Any, Any]:
    """The forecaster's example inputs ``x`` (B, T + horizon, F) (and its static covariates,
    see :func:`_static_names`) and its torch reference (point, quantiles and the encoder's
    final states), which its sequence and streaming graphs share."""
    h = model.horizon
    F_in = model.n_targets + model.n_covariates + model.n_known
    names = _static_names(model)

    def make(B: int, T: int, seed: int) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(seed)
        named = {"x": torch.randn(B, T + h, F_in, generator=g)}
        if "static" in names:
            named["static"] = torch.randn(B, model.n_static, generator=g)
        if "static_codes" in names:
            # every category number, 0 (unknown) included
            named["static_codes"] = torch.stack(
                [torch.randint(0, k, (B,), generator=g) for k in model.static_categories], 1
            )
        return named

    @torch.no_grad()
    def reference(named: dict[str, Tensor]) -> dict[str, np.ndarray]:
        x = named["x"]
        full = _with_static(model, x, [named[k] for k in names])
        out = model.predict(full)
        _, final = model._encode(x[:, : x.shape[1] - h], model._static(full))
        outs = {"point": _np(out["point"]), "quantiles": _np(out["quantiles"])}
        finals = map(_np, _states_of(final))
        outs.update(zip(_state_names(n, ("h_n", "c_n")), finals, strict=True))
        return outs

    return make, reference


class ForecasterGraph(ModelGraph):
    kind = "forecaster"

    def sequence(self, loaded: Any) -> Graph:
        model = loaded.model.eval()
        _check_forecaster(model)
        n = _num_states(model.encoder)
        h = model.horizon

        make, reference = _forecaster_make_and_reference(model, n)

        static = _static_names(model)
        return Graph(
            module=_SequenceForecasterGraph(model),
            input_names=["x", *static],
            output_names=["point", "quantiles", *_state_names(n, ("h_n", "c_n"))],
            # At least two observed steps (the autoregressive decoder reads one-step pairs).
            dynamic={"x": {0: ("batch", 1), 1: ("steps", h + 2)},
                     **{k: {0: ("batch", 1)} for k in static}},
            make_inputs=make,
            reference=reference,
            fixed=1 if static else None,  # the static inputs are forward's *static
        )

    def streaming(self, loaded: Any) -> Graph:
        model = loaded.model.eval()
        _check_forecaster(model)
        _refuse_bidirectional(model, "forecaster")
        layer = model.encoder
        n = _num_states(layer)
        states = _state_names(n, ("h", "c"))
        F_in = model.n_targets + model.n_covariates + model.n_known
        h, K = model.horizon, model.n_known

        make, reference = _forecaster_make_and_reference(model, n)

        static = _static_names(model)
        # With static covariates, ``start`` marks the first step (the static initial state).
        extra = [*static, "start"] if static else []

        def step_inputs(named: dict[str, Tensor], t: int, carried: list[Any]) -> dict[str, Any]:
            x = named["x"]
            feeds: dict[str, Any] = {"x_t": x[:, t]}
            if K:
                feeds["known"] = x[:, x.shape[1] - h :, F_in - K :]
            if static:
                feeds.update({k: named[k] for k in static})
                feeds["start"] = torch.full((x.shape[0],), 1.0 if t == 0 else 0.0)
            feeds.update(zip(states, carried, strict=True))
            return feeds

        def first_state(B: int) -> list[Tensor]:
            return [torch.zeros(layer.num_layers, B, layer.hidden_size) for _ in range(n)]

        known = ["known"] if K else []
        graph = Graph(
            module=_StreamingForecasterGraph(model),
            input_names=["x_t", *known, *extra, *states],
            output_names=["point", "quantiles", *_state_names(n, ("h_n", "c_n"))],
            dynamic={
                "x_t": {0: ("batch", 1)},
                **({"known": {0: ("batch", 1)}} if K else {}),
                **{k: {0: ("batch", 1)} for k in extra},
                **{s: {1: ("batch", 1)} for s in states},
            },
            make_inputs=make,
            reference=reference,
            fixed=1,
        )
        graph.step_inputs = step_inputs  # type: ignore[attr-defined]
        graph.per_step = False  # type: ignore[attr-defined]
        graph.first_state = first_state  # type: ignore[attr-defined]
        graph.steps_of = lambda named: named["x"].shape[1] - h  # type: ignore[attr-defined]
        return graph


# -- language model ------------------------------------------------------------------------------


def _lm_layer_states(model: nn.Module, states: list[Tensor]) -> tuple:
    """Graph states, each (L, B, H), → the model's state: one entry per layer, (h, c) or h,
    each (1, B, H)."""
    rows = [[s[k : k + 1] for s in states] for k in range(model.num_layers)]
    return tuple(_pack_state(r) for r in rows)


def _lm_graph_states(finals: tuple) -> list[Tensor]:
    """The model's per-layer final state → one tensor (L, B, H) per state name."""
    per_layer = [_states_of(f) for f in finals]
    return [torch.cat([layer[i] for layer in per_layer]) for i in range(len(per_layer[0]))]


class _SequenceLMGraph(nn.Module):
    """ids (B, T), states (L, B, H) each → logits (B, T, V), final states (L, B, H) each."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = exportable_copy(model)

    def forward(self, x: Tensor, *states: Tensor):
        logits, finals = self.model(x, _lm_layer_states(self.model, list(states)))
        return (logits, *_lm_graph_states(finals))


class _StreamingLMGraph(nn.Module):
    """One token per row, ids (B,), states (L, B, H) each → logits (B, V), new states."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = exportable_copy(model)

    def forward(self, x_t: Tensor, *states: Tensor):
        logits, finals = self.model(x_t.unsqueeze(1), _lm_layer_states(self.model, list(states)))
        return (logits[:, 0], *_lm_graph_states(finals))


class LanguageModelGraph(ModelGraph):
    """The language model (:class:`rnnkit.models.language_model.LanguageModel`) in eval mode:
    embedding, layer and weight dropout are training-only, so the graph has none of them.

    * sequence: ``x`` (B, T) int64 ids, ``h0`` [, ``c0``] (L, B, H) → ``logits`` (B, T, V),
      ``h_n`` [, ``c_n``] (L, B, H); row k of a state is layer k's;
    * streaming: ``x_t`` (B,) int64, ``h`` [, ``c``] (L, B, H) → ``logits`` (B, V) of the next
      token, ``h_n`` [, ``c_n``], for sampling one token at a time outside torch.
    """

    kind = "language-model"

    @staticmethod
    def _parts(loaded: Any) -> tuple[nn.Module, int]:
        model = loaded.model.eval()
        return model, _num_states(model.layers[0])

    @staticmethod
    def _make(model: nn.Module, states: list[str]) -> Any:
        def make(B: int, T: int, seed: int) -> dict[str, Tensor]:
            g = torch.Generator().manual_seed(seed)
            # Every id, padding and unknown included: both are ids a text can encode to.
            named = {"x": torch.randint(0, model.vocab_size, (B, T), generator=g)}
            rows = model.num_layers
            named.update(
                (s, 0.5 * torch.randn(rows, B, model.hidden_size, generator=g)) for s in states
            )
            return named

        return make

    @staticmethod
    def _reference(model: nn.Module, states: list[str], n: int) -> Any:
        @torch.no_grad()
        def reference(named: dict[str, Tensor]) -> dict[str, np.ndarray]:
            layered = _lm_layer_states(model, [named[s] for s in states])
            logits, finals = model(named["x"], layered)
            outs = {"logits": _np(logits)}  # (B, T, V)
            finals_np = map(_np, _lm_graph_states(finals))
            outs.update(zip(_state_names(n, ("h_n", "c_n")), finals_np, strict=True))
            return outs

        return reference

    def sequence(self, loaded: Any) -> Graph:
        model, n = self._parts(loaded)
        states = _state_names(n, ("h0", "c0"))
        return Graph(
            module=_SequenceLMGraph(model),
            input_names=["x", *states],
            output_names=["logits", *_state_names(n, ("h_n", "c_n"))],
            dynamic={"x": {0: ("batch", 1), 1: ("time", 1)},
                     **{s: {1: ("batch", 1)} for s in states}},
            make_inputs=self._make(model, states),
            reference=self._reference(model, states, n),
            fixed=1,
        )

    def streaming(self, loaded: Any) -> Graph:
        """Verified as the others: steps run one by one from random states must give the
        sequence model's logits at every step and its final state."""
        model, n = self._parts(loaded)
        states = _state_names(n, ("h", "c"))

        def step_inputs(named: dict[str, Tensor], t: int, carried: list[Any]) -> dict[str, Any]:
            feeds = {"x_t": named["x"][:, t]}
            feeds.update(zip(states, carried, strict=True))
            return feeds

        graph = Graph(
            module=_StreamingLMGraph(model),
            input_names=["x_t", *states],
            output_names=["logits", *_state_names(n, ("h_n", "c_n"))],
            dynamic={"x_t": {0: ("batch", 1)}, **{s: {1: ("batch", 1)} for s in states}},
            make_inputs=self._make(model, states),
            reference=self._reference(model, states, n),
            fixed=1,
        )
        graph.step_inputs = step_inputs  # type: ignore[attr-defined]
        graph.per_step = True  # type: ignore[attr-defined]
        return graph


#: Artifact kind -> how its model exports. Seq2seq models add entries here.
GRAPHS: dict[str, ModelGraph] = {
    g.kind: g
    for g in (ForecasterGraph(), ClassifierGraph(), TaggerGraph(), LanguageModelGraph())
}


def graph_for(kind: str) -> ModelGraph:
    if kind not in GRAPHS:
        raise ExportError(
            f"models of kind {kind!r} cannot be exported yet; exportable kinds are "
            f"{sorted(GRAPHS)}"
        )
    return GRAPHS[kind]
