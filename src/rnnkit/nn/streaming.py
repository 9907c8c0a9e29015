"""Streaming: advance a layer one time step at a time, for online inference.

Two APIs, on every layer and cell (``RNN``, ``LSTM``, ``GRU``, the cells, ``ElmanRNN``):

``y_t, state = layer.step(x_t, state)``
    Functional. What it returns is exactly what the full-sequence call returns at that step:

    * ``RNN``/``LSTM``/``GRU``: ``y_t`` equals ``output[t]`` of ``layer`` run over the sequence so
      far and ``state`` its final state. ``x_t`` is (B, F) or unbatched (F,); ``state`` is ``hx``
      as :meth:`forward` takes and returns it — (L, B, H_out), for LSTM a tuple ``(h, c)`` with
      c (L, B, H); (L, ·) unbatched — or None for zeros. Every layer of the stack advances by one
      step (layer l reads layer l − 1's new output). ``y_t`` is (B, H_out) or (H_out,).
    * ``RNNCell``/``LSTMCell``/``GRUCell``: ``cell(x_t, state)`` with the output first:
      ``(h', h')``, for LSTMCell ``(h', (h', c'))``.
    * ``ElmanRNN``: ``(o_t, h_t)`` — the network's output layer applied to the new state.

    The state passed in is never modified; new tensors are returned.

``stream = layer.stream(batch=None, state=None)``, then ``y_t = stream.step(x_t)``
    Stateful, for the lowest latency: the state lives in buffers inside the stream and nothing is
    allocated per step. ``y_t`` is a buffer the next step overwrites (clone it to keep it);
    ``stream.state`` returns a copy of the state in ``step``'s format; ``stream.reset(state)``
    starts again. A stream is inference only: it computes as under ``torch.no_grad()``.

Bidirectional layers cannot stream (their backward direction reads the future): ``ValueError``.

The fast path — one compiled call for the whole stack, weights kept in a step-friendly layout
until a parameter changes (in place, replaced, or converted) — is a *step runner* served by a
backend (:func:`rnnkit.kernels.select_step_backend`; today the numba backend's
:mod:`rnnkit.kernels.cpu.step`, on the CPU in float32/float64 for cells with a kernel). It runs
when no gradient is needed (inside ``torch.no_grad()`` or ``torch.inference_mode()``, or with
parameters that do not require grad), dropout is inactive and a backend serves one: with
'auto' the first that does; a backend named by ``backend=`` that streams but declines the call
raises :class:`rnnkit.errors.BackendUnavailableError` with its reason. Otherwise ``step`` runs the
ordinary forward on a length-1 sequence, which gives the same values and supports autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.functional import LayerWeights, get_cell
from rnnkit.kernels import LayerCall, select_step_backend

_CACHE = "_rnnkit_step_runner"  # instance attribute holding the compiled-step state


class _Runner:
    """A backend's compiled step for one module, and the parameters its layout was copied from.

    ``run`` is the backend runner's own ``run`` (no extra Python frame per step).
    """

    __slots__ = ("checks", "dtype", "hidden", "in_size", "layers", "num_states", "out_size",
                 "plans", "run")

    def __init__(self, module: torch.nn.Module, backend, cell, weights, names) -> None:
        step = backend.step_runner(cell, weights)
        self.run = step.run
        # What the layout was copied from: (name, parameter object, data pointer, version).
        # One flat tuple per parameter, because ``current`` runs on every streamed step.
        self.checks = tuple(
            (name, p, p.data_ptr(), p._version)
            for name, p in ((name, module._parameters[name]) for name in names)
        )
        self.dtype = step.dtype
        self.in_size, self.out_size = step.input_size, step.out_size
        self.hidden, self.layers = step.hidden_size, step.num_layers
        self.num_states = step.num_states
        # x_t's shape -> (B, h shape, c shape or None, y shape or None) for ``step``; filled by
        # _Streaming._step_plan so that a step does no shape arithmetic in Python.
        self.plans: dict[tuple[int, ...], tuple | None] = {}

    def current(self, module: torch.nn.Module) -> bool:
        """Whether the module's parameters are still the ones (and values) the layout copies."""
        params = module._parameters
        for name, p, ptr, version in self.checks:
            if params[name] is not p or p._version != version or p.data_ptr() != ptr:
                return False
        return True


def _needs_grad(module: torch.nn.Module, x_t: object, parts: tuple) -> bool:
    """Whether autograd must see this step (then only the ordinary forward will do)."""
    if not torch.is_grad_enabled():
        return False
    return (
        any(p is not None and p.requires_grad for p in module._parameters.values())
        or any(isinstance(t, Tensor) and t.requires_grad for t in (x_t, *parts))
    )


def _state_ok(t: object, shape: tuple[int, ...], dtype: torch.dtype) -> bool:
    return (
        type(t) is Tensor and t.dtype == dtype and t.is_cpu and t.shape == shape
        and t.is_contiguous()
    )


def _parts(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


class _Streaming:
    """What every streaming module shares. Each subclass provides:

    * ``_stream_spec()`` -> (mode, one :class:`LayerWeights` per layer, their parameter names);
    * ``_stream_result(y, h, c)`` -> what ``step`` returns, from the new output and state;
    * ``_step_by_forward(x_t, state)`` -> the same result through the module's forward;
    * optionally ``_stream_check()`` (raise if it cannot stream at all) and
      ``_stream_fast_allowed()`` (False while the compiled step must not replace forward).
    """

    _STATE_HAS_LAYERS = True  # states (L, B, ·) for layers; (B, ·) for cells and ElmanRNN
    # Whether Stream.step returns the output buffer itself (False: ElmanRNN's output layer).
    _STREAM_RETURNS_BUFFER = True

    def _stream_check(self) -> None:
        """Cells and ElmanRNN can always stream."""

    def _stream_fast_allowed(self) -> bool:
        return True

    # ---- shared machinery ----------------------------------------------------------------
    def _stream_runner(self) -> _Runner | None:
        """The up-to-date compiled step of this module, or None where it cannot run."""
        runner = self.__dict__.get(_CACHE)
        if runner is not None and runner.current(self):
            return runner
        mode, weights, names = self._stream_spec()
        first = weights[0]
        call = LayerCall(mode=mode, device_type=first.w_ih.device.type, dtype=first.w_ih.dtype,
                         has_bias=first.b_ih is not None or first.b_hh is not None,
                         has_proj=first.w_hr is not None, has_lengths=False, reverse=False,
                         requires_grad=False)
        # The backend serves a compiled step or declines; None means step() runs forward.
        backend = select_step_backend(call, getattr(self, "backend", "auto"))
        if backend is None:
            return None
        runner = _Runner(self, backend, get_cell(mode), weights, names)
        self.__dict__[_CACHE] = runner
        return runner

    def _state_shapes_for(self, runner: _Runner, batch: int | None) -> tuple[tuple, tuple]:
        lead = (runner.layers,) if self._STATE_HAS_LAYERS else ()
        rows = () if batch is None else (batch,)
        return (*lead, *rows, runner.out_size), (*lead, *rows, runner.hidden)

    def _step_plan(self, runner: _Runner, x_shape: tuple[int, ...]) -> tuple | None:
        """(B, h shape, c shape or None, y shape or None) for inputs of ``x_shape``, or None
        when the compiled step cannot take them (the ordinary path then raises its error)."""
        if len(x_shape) == 1 and x_shape[0] == runner.in_size:
            batch, rows = 1, None
        elif len(x_shape) == 2 and x_shape[1] == runner.in_size:
            batch = rows = x_shape[0]
        else:
            return None
        h_shape, c_shape = self._state_shapes_for(runner, rows)
        y_shape = h_shape[1:] if self._STATE_HAS_LAYERS else None  # a cell's output is h
        return batch, h_shape, c_shape if runner.num_states == 2 else None, y_shape

    def _fast_step(self, x_t, state):
        """The compiled step, or None when this call must take the ordinary path."""
        runner = self._stream_runner()
        if runner is None or type(x_t) is not Tensor:
            return None
        dtype = runner.dtype
        if x_t.dtype != dtype or not x_t.is_cpu or not x_t.is_contiguous():
            return None
        x_shape = x_t.shape
        plan = runner.plans.get(x_shape, False)
        if plan is False:
            plan = runner.plans[x_shape] = self._step_plan(runner, x_shape)
        if plan is None:
            return None
        batch, h_shape, c_shape, y_shape = plan
        h_addr = c_addr = 0
        if state is not None:
            h, c = state if c_shape is not None and isinstance(state, tuple) else (state, None)
            if not _state_ok(h, h_shape, dtype):
                return None
            h_addr = h.data_ptr()
            if c_shape is not None:
                if not _state_ok(c, c_shape, dtype):
                    return None
                c_addr = c.data_ptr()
        # Varargs shapes: torch.empty parses them faster than a tuple (~0.4 µs per call here).
        h_new = torch.empty(*h_shape, dtype=dtype)
        c_new = None if c_shape is None else torch.empty(*c_shape, dtype=dtype)
        y = h_new if y_shape is None else torch.empty(*y_shape, dtype=dtype)
        runner.run(batch, x_t.data_ptr(), h_addr, c_addr, y.data_ptr(), h_new.data_ptr(),
                   0 if c_new is None else c_new.data_ptr())
        return self._stream_result(y, h_new, c_new)

    def step(self, x_t: Tensor, state=None):
        """Advance by one time step: ``(y_t, state)``; see :mod:`rnnkit.nn.streaming`.

        Args:
            x_t: (B, F) or unbatched (F,).
            state: None (zeros) or the state this module's forward takes: (L, B, H_out) for
                RNN/GRU, ``(h, c)`` for LSTM, (B, H) (or ``(h, c)``) for cells and ElmanRNN;
                without the B axis when unbatched.

        Returns:
            ``(y_t, new_state)``: y_t (B, H_out) or (H_out,) (ElmanRNN: o_t (B, O)), and the
            new state in the format of ``state``.
        """
        self._stream_check()
        if self._stream_fast_allowed() and not _needs_grad(self, x_t, _parts(state)):
            result = self._fast_step(x_t, state)
            if result is not None:
                return result
        return self._step_by_forward(x_t, state)

    def stream(self, batch: int | None = None, state=None) -> Stream:
        """A stateful stream over this module for the lowest per-step latency.

        Args:
            batch: B for (B, F) inputs, or None for unbatched (F,) inputs.
            state: the initial state (as :meth:`step` takes it) or None for zeros.
        """
        self._stream_check()
        return Stream(self, batch, state)


class Stream:
    """Streaming inference with the state kept inside: ``y_t = stream.step(x_t)``.

    Built by ``module.stream(batch, state)``. Per step it checks the input, runs the compiled
    step from one internal state buffer into the other and returns the output buffer, which the
    next step overwrites. When the compiled step cannot serve the module (CUDA, numba missing,
    ``backend='reference'``, dropout in training mode) it runs ``module.step`` instead — same
    values, more time. Computes as under ``torch.no_grad()``.
    """

    def __init__(self, module: _Streaming, batch: int | None, state=None) -> None:
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int)
                                  or batch < 1):
            raise ValueError(f"stream: batch must be a positive int or None, got {batch!r}")
        self.module = module
        self.batch = batch
        self.reset(state)

    def reset(self, state=None) -> None:
        """Start again from ``state`` (the format :meth:`step` takes) or zeros."""
        module = self.module
        with torch.no_grad():
            self._runner = module._stream_runner() if module._stream_fast_allowed() else None
            if self._runner is None:
                self._state = None if state is None else tuple(s.clone() for s in _parts(state))
                return
            runner = self._runner
            h_shape, c_shape = module._state_shapes_for(runner, self.batch)
            shapes = (h_shape, c_shape) if runner.num_states == 2 else (h_shape,)
            self._buffers = [[torch.zeros(s, dtype=runner.dtype) for s in shapes]
                             for _ in range(2)]
            if state is not None:
                parts = _parts(state)
                if len(parts) != len(shapes):
                    raise TypeError(f"stream: state must have {len(shapes)} tensor(s), got "
                                    f"{len(parts)}")
                for buf, part, shape in zip(self._buffers[0], parts, shapes, strict=True):
                    if not isinstance(part, Tensor) or tuple(part.shape) != shape:
                        got = tuple(part.shape) if isinstance(part, Tensor) else type(part)
                        raise ValueError(f"stream: state must have shape {shape}, got {got}")
                    buf.copy_(part)
            rows = () if self.batch is None else (self.batch,)
            self._x_shape = (*rows, runner.in_size)
            self._y = (self._buffers[0][0].new_empty((*rows, runner.out_size))
                       if module._STATE_HAS_LAYERS else None)
            self._flip = 0
            # The buffers never move, so each step's addresses are fixed now, per flip: (old h,
            # old c, y, new h, new c), the output buffer and the new state (~1 µs less a step).
            self._calls = []
            for flip in (0, 1):
                old, new = self._buffers[flip], self._buffers[1 - flip]
                y = self._y if self._y is not None else new[0]
                addresses = (old[0].data_ptr(), old[1].data_ptr() if len(old) == 2 else 0,
                             y.data_ptr(), new[0].data_ptr(),
                             new[1].data_ptr() if len(new) == 2 else 0)
                self._calls.append((addresses, y, new))
            self._rows = self.batch or 1

    @property
    def state(self):
        """A copy of the current state, in the format of ``module.step``."""
        if self._runner is None:
            if self._state is None:
                return None
            return self._state if len(self._state) == 2 else self._state[0]
        parts = tuple(t.clone() for t in self._buffers[self._flip])
        return parts if len(parts) == 2 else parts[0]

    def step(self, x_t: Tensor) -> Tensor:
        """Advance by one step and return y_t (a buffer: the next step overwrites it)."""
        runner = self._runner
        if runner is None or not runner.current(self.module):
            return self._slow_step(x_t)
        if (type(x_t) is not Tensor or x_t.dtype != runner.dtype or not x_t.is_cpu
                or x_t.shape != self._x_shape or not x_t.is_contiguous()):
            raise ValueError(
                f"stream.step: x_t must be a contiguous CPU {runner.dtype} tensor of shape "
                f"{self._x_shape}, got "
                + (f"{x_t.dtype} {x_t.device} {tuple(x_t.shape)}" if isinstance(x_t, Tensor)
                   else type(x_t).__name__)
            )
        addresses, y, new = self._calls[self._flip]
        runner.run(self._rows, x_t.data_ptr(), *addresses)
        self._flip = 1 - self._flip
        if self.module._STREAM_RETURNS_BUFFER:
            return y
        return self.module._stream_result(y, new[0], new[1] if len(new) == 2 else None)[0]

    __call__ = step

    def _slow_step(self, x_t: Tensor) -> Tensor:
        if self._runner is not None:  # parameters changed: carry the state over and rebuild
            self.reset(self.state)
            if self._runner is not None:
                return self.step(x_t)
        with torch.no_grad():
            state = None if self._state is None else (
                self._state if len(self._state) == 2 else self._state[0])
            y, new_state = self.module.step(x_t, state)
        self._state = _parts(new_state)
        return y


class LayerStreaming(_Streaming):
    """Streaming for :class:`rnnkit.nn.RNN`, :class:`~rnnkit.nn.LSTM`, :class:`~rnnkit.nn.GRU`."""

    def _stream_check(self) -> None:
        if self.bidirectional:
            raise ValueError(
                f"{type(self).__name__}.step: a bidirectional layer cannot stream (its backward "
                "direction reads future steps); got bidirectional=True — run forward() over the "
                "whole sequence, or use a unidirectional layer"
            )

    def _stream_fast_allowed(self) -> bool:
        # A compiled step knows neither dropout masks nor zoneout's expectation.
        dropping = self.dropout > 0 or self.recurrent_dropout > 0
        return not (self.training and dropping) and not self.zoneout

    def _stream_spec(self):
        return self.mode, self._layer_weights(), list(sum(self._weight_names, ()))

    def _stream_result(self, y, h, c):
        return y, ((h, c) if c is not None else h)

    def _step_by_forward(self, x_t, state):
        if isinstance(x_t, Tensor) and x_t.dim() == 2 and self.batch_first:
            out, new = self.forward(x_t.unsqueeze(1), state)  # (B, 1, H_out)
            return out[:, 0], new
        out, new = self.forward(x_t.unsqueeze(0) if isinstance(x_t, Tensor) else x_t, state)
        return out[0], new  # (1, [B,] H_out) -> ([B,] H_out)


class CellStreaming(_Streaming):
    """Streaming for :class:`rnnkit.nn.RNNCell`, :class:`~rnnkit.nn.LSTMCell`,
    :class:`~rnnkit.nn.GRUCell`: the cell's forward with the output repeated first."""

    _STATE_HAS_LAYERS = False

    def _stream_spec(self):
        weights = [LayerWeights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)]
        names = [n for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                 if self._parameters.get(n) is not None]
        return self.mode, weights, names

    def _stream_result(self, y, h, c):
        return h, ((h, c) if c is not None else h)

    def _step_by_forward(self, x_t, state):
        new = self.forward(x_t, state)
        return (new[0], new) if isinstance(new, tuple) else (new, new)


class ElmanStreaming(_Streaming):
    """Streaming for :class:`rnnkit.nn.ElmanRNN`: ``o_t, h_t = net.step(x_t, h)``."""

    _STATE_HAS_LAYERS = False
    _STREAM_RETURNS_BUFFER = False

    def _stream_spec(self):
        return (self._recurrence.name, [LayerWeights(self.W, self.U, self.b, None)],
                ["W", "U", "b"])

    def _stream_result(self, y, h, c):
        return self.output_layer(h), h

    def _step_by_forward(self, x_t, state):
        if isinstance(x_t, Tensor) and x_t.dim() == 2 and self.batch_first:
            o, h_t = self.forward(x_t.unsqueeze(1), state)  # (B, 1, O)
            return o[:, 0], h_t
        o, h_t = self.forward(x_t.unsqueeze(0) if isinstance(x_t, Tensor) else x_t, state)
        return o[0], h_t
