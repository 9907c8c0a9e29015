"""Multi-step forecasting over a recurrent backbone, with probabilistic output.

Legend: B windows, T observed steps, h horizon, S = T + h window steps, C targets, P past
covariates, K known-future features, F = C + P + K input features, H hidden size, D directions,
L layers, Q quantile levels, n distribution parameters per target.

A window is one (B, S, F) tensor, aligned on time as the training engine's task-model protocol
wants (layout in :mod:`rnnkit.data.forecast_inputs`): rows 0 … T−1 are observed (normalised
targets z, past covariates, calendar features k_t), rows T … S−1 are the horizon, whose calendar
features are known. The output is, per row, the predictive distribution of that row's targets
in the same units: parameters (B, S, C, n) with n = 2 (Gaussian μ, σ), Q (quantile levels) or 1
(point); the horizon is rows T … S−1, and the loss is taken where the batch's mask says.

Two decoders:

* **direct** (the default): one pass of the encoder, then the whole horizon at once,

  .. math::
      s = h^{(L)}_T \\in \\mathbb{R}^{D H}, \\qquad
      \\theta_{1..h} = W_2\\,\\mathrm{GELU}(W_1 [s;\\, k_{T+1}; \\dots; k_{T+h}] + b_1) + b_2

  (for a bidirectional encoder s joins the forward state at T and the backward state at 1).
  Past covariates are allowed because nothing is fed back.
* **autoregressive**: the encoder is also the decoder; each step predicts the next one from the
  state and the next step's known features, and the prediction is fed back as the next input:

  .. math::
      \\theta_{t+1} = \\mathrm{head}([o_t;\\, k_{t+1}]), \\qquad
      o_{t+1} = \\mathrm{RNN}([\\hat z_{t+1};\\, k_{t+1}],\\ \\text{state}_t)

  trained with teacher forcing (in training mode the true z of the horizon rows are fed back)
  on every one-step prediction in the window (S − 1 of them), and in eval mode decoded by
  feeding back the mean/median, or by sampling paths for Gaussian intervals (Monte Carlo,
  seeded so that a prediction is reproducible). Past covariates are refused (their future
  is unknown), and so is a bidirectional encoder.

With horizon 1 and the same weights both decoders compute the same function.

**Static covariates** (per-series attributes, W = Ns + Kc input columns after the known
features, the same on every row): the Ns numbers and an embedding of each of the Kc category
numbers (0: unknown) are joined into e ∈ R^E, which sets the encoder's initial state and joins
the head's input,

.. math::
    e = [x_{\\text{num}};\\, E_1[c_1]; \\dots;\\, E_{K_c}[c_{K_c}]], \\qquad
    \\text{state}_0 = \\tanh(W_s e + b_s) \\ \\text{(every layer, direction and state tensor)},

    \\theta = \\mathrm{head}([\\dots;\\, e]),

so a series' attributes shape both what the encoder remembers and how the head reads it.
Without static covariates the model is exactly the one above (zero initial state).

Likelihoods and their losses (averaged over windows, steps and targets):

* 'gaussian': σ = softplus(·) + σ_min, loss = log σ + (z − μ)² / (2σ²) + ½ log 2π (negative
  log-likelihood); quantiles μ + σ Φ⁻¹(q).
* 'quantile': one output per level q, loss = mean_q max(q (z − ẑ_q), (q − 1)(z − ẑ_q))
  (pinball); predicted quantiles are sorted so they never cross.
* 'point': mean squared error; no intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.backbone import model_cells, recurrent_layer

if TYPE_CHECKING:
    from rnnkit.data.batching import SequenceBatch

DECODERS = ("direct", "autoregressive")
LIKELIHOODS = ("gaussian", "quantile", "point")
_SIGMA_MIN = 1e-3  # floor on σ (normalised units) so the likelihood cannot blow up


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Forecaster: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"Forecaster: {name} must be an integer >= {low}, got {value}")
    return value


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"Forecaster: {name} must be one of {list(allowed)}, got {value!r}")
    return str(value)


def interval_quantiles(level: float) -> tuple[float, float, float]:
    """(α/2, 0.5, 1 − α/2) for a central interval of coverage ``level`` = 1 − α."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"interval level must be in (0, 1), got {level!r}")
    a = (1.0 - level) / 2.0
    return (round(a, 10), 0.5, round(1.0 - a, 10))


class Forecaster(nn.Module):
    """Recurrent multi-step forecaster (equations in the module docstring).

    Args:
        n_targets: C ≥ 1 target series forecast jointly (multivariate output).
        horizon: h ≥ 1 steps forecast per window.
        n_covariates: P ≥ 0 past covariates (direct decoder only).
        n_known: K ≥ 0 known-future features (calendar), given for past and horizon steps.
        cell: 'lstm', 'gru' or 'rnn' (tanh Elman), from :mod:`rnnkit.nn`.
        hidden_size: H.
        num_layers: L stacked recurrent layers.
        dropout: between recurrent layers (needs L > 1) and before the head.
        bidirectional: two-direction encoder (direct decoder only).
        decoder: 'direct' or 'autoregressive'.
        likelihood: 'gaussian', 'quantile' or 'point'.
        quantiles: increasing levels in (0, 1) used for intervals and, with 'quantile', trained.
        n_samples: Monte Carlo paths for autoregressive Gaussian intervals (0: per-step
            Gaussian quantiles around the mean-fed path, which understate the spread).
        n_static: Ns numeric static covariates.
        static_categories: per categorical static covariate, its number of categories with
            the unknown one (Kc entries); embedded with
            :func:`rnnkit.data.static_inputs.embedding_size` units each.

    Shapes: ``forward(inputs (B, T + h, F))`` → (parameters (B, T + h, C, n), state);
    ``predict(inputs)`` → point (B, h, C) and quantiles (B, h, C, Q).

    Example:
        >>> model = Forecaster(n_targets=1, horizon=7, n_known=2, hidden_size=16)
        >>> params, state = model(torch.randn(4, 28 + 7, 3))
        >>> params.shape, model.predict(torch.randn(4, 28 + 7, 3))["quantiles"].shape
        (torch.Size([4, 35, 1, 2]), torch.Size([4, 7, 1, 3]))
    """

    def __init__(
        self,
        n_targets: int,
        horizon: int,
        *,
        n_covariates: int = 0,
        n_known: int = 0,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        decoder: str = "direct",
        likelihood: str = "gaussian",
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        n_samples: int = 200,
        n_static: int = 0,
        static_categories: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.n_targets = _check_int("n_targets", n_targets, 1)
        self.horizon = _check_int("horizon", horizon, 1)
        self.n_covariates = _check_int("n_covariates", n_covariates, 0)
        self.n_known = _check_int("n_known", n_known, 0)
        self.cell = _check_choice("cell", cell, list(model_cells()))
        self.hidden_size = _check_int("hidden_size", hidden_size, 1)
        self.num_layers = _check_int("num_layers", num_layers, 1)
        self.decoder = _check_choice("decoder", decoder, DECODERS)
        self.likelihood = _check_choice("likelihood", likelihood, LIKELIHOODS)
        self.n_samples = _check_int("n_samples", n_samples, 0)
        self.n_static = _check_int("n_static", n_static, 0)
        self.static_categories = tuple(
            _check_int("static_categories[]", int(k) if not isinstance(k, bool) else k, 2)
            for k in static_categories
        )
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"Forecaster: dropout must be a float in [0, 1), got {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Forecaster: dropout must be in [0, 1), got {dropout}")
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        q = [float(x) for x in quantiles]
        if not q or any(not 0.0 < x < 1.0 for x in q) or sorted(set(q)) != q:
            raise ValueError(
                f"Forecaster: quantiles must be distinct increasing levels in (0, 1), got {q}"
            )
        self.quantiles = tuple(q)
        if self.decoder == "autoregressive":
            if self.n_covariates:
                raise ValueError(
                    f"Forecaster: decoder='autoregressive' feeds its own predictions back and "
                    f"cannot know the future of past covariates; got n_covariates="
                    f"{self.n_covariates} (use decoder='direct' or drop the covariates)"
                )
            if self.bidirectional:
                raise ValueError(
                    "Forecaster: a bidirectional encoder needs decoder='direct' (an "
                    "autoregressive decoder runs forward in time), got bidirectional=True"
                )

        self.n_params = {"gaussian": 2, "quantile": len(self.quantiles), "point": 1}[
            self.likelihood
        ]
        directions = 2 if self.bidirectional else 1
        self.encoder = recurrent_layer(
            self.cell,
            self.n_targets + self.n_covariates + self.n_known,
            self.hidden_size,
            num_layers=self.num_layers,
            batch_first=True,
            dropout=self.dropout if self.num_layers > 1 else 0.0,
            bidirectional=self.bidirectional,
        )
        steps = self.horizon if self.decoder == "direct" else 1
        static_width = self.n_static
        if self.static_width:
            from rnnkit.data.static_inputs import embedding_size
            from rnnkit.functional.cell_table import get_cell

            self.static_embeddings = nn.ModuleList(
                nn.Embedding(k, embedding_size(k - 1)) for k in self.static_categories
            )
            static_width += sum(e.embedding_dim for e in self.static_embeddings)
            self._n_states = get_cell(self.encoder.mode).num_states
            self.static_init = nn.Linear(
                static_width,
                self._n_states * self.num_layers * directions * self.hidden_size,
            )
        self.head = nn.Sequential(
            nn.Dropout(self.dropout),
            nn.Linear(
                directions * self.hidden_size + steps * self.n_known + static_width,
                self.hidden_size,
            ),
            nn.GELU(),
            nn.Linear(self.hidden_size, steps * self.n_targets * self.n_params),
        )

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON), enough to rebuild the model for an artifact."""
        return {
            "n_targets": self.n_targets,
            "horizon": self.horizon,
            "n_covariates": self.n_covariates,
            "n_known": self.n_known,
            "cell": self.cell,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
            "decoder": self.decoder,
            "likelihood": self.likelihood,
            "quantiles": list(self.quantiles),
            "n_samples": self.n_samples,
            # only when used, so that older readers of a plain model's config are unaffected
            **(
                {"n_static": self.n_static, "static_categories": list(self.static_categories)}
                if self.static_width
                else {}
            ),
        }

    @property
    def static_width(self) -> int:
        """W = Ns + Kc, the static input columns."""
        return self.n_static + len(self.static_categories)

    def _static(self, inputs: Tensor) -> Tensor | None:
        """e (B, E) from the static columns of row 0 (module docstring), or None."""
        if not self.static_width:
            return None
        row = inputs[:, 0, inputs.shape[2] - self.static_width :]
        parts = [row[:, : self.n_static]]
        for j, emb in enumerate(self.static_embeddings):
            index = row[:, self.n_static + j].round().long().clamp(0, emb.num_embeddings - 1)
            parts.append(emb(index))
        return torch.cat(parts, dim=1)

    def _initial_state(self, e: Tensor | None) -> Tensor | tuple[Tensor, ...] | None:
        """The encoder's initial state from e: (L·D, B, H) per state tensor; None: zeros."""
        if e is None:
            return None
        B = e.shape[0]
        z = torch.tanh(self.static_init(e)).view(B, self._n_states, -1, self.hidden_size)
        states = tuple(z[:, i].transpose(0, 1).contiguous() for i in range(self._n_states))
        return states if len(states) > 1 else states[0]

    def _encode(
        self, x: Tensor, e: Tensor | None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
        """The encoder over rows x (B, t, C + P + K) from the static initial state."""
        return self.encoder(x, self._initial_state(e))

    # -- shapes and parameters -----------------------------------------------------------------

    def _split_inputs(
        self, inputs: Tensor, state: object, lengths: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """(B, T + h, F) window → past rows (B, T, F) and horizon known features (B, h, K)."""
        F_rec = self.n_targets + self.n_covariates + self.n_known
        F_in = F_rec + self.static_width
        if not isinstance(inputs, Tensor) or inputs.dim() != 3 or inputs.shape[2] != F_in:
            shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
            static = " + static covariates" if self.static_width else ""
            raise ValueError(
                f"Forecaster: inputs must be (B, T + h, {F_in}) = (windows, input steps + "
                f"horizon, targets + covariates + known features{static}), got {shape}"
            )
        if inputs.shape[1] <= self.horizon:
            raise ValueError(
                f"Forecaster: inputs must have more than horizon={self.horizon} steps (at least "
                f"one observed step before the horizon), got {inputs.shape[1]}"
            )
        if state is not None:
            raise ValueError(
                "Forecaster: every window starts from a zero state, got a carried state; train "
                "forecasters with full BPTT over whole windows"
            )
        if lengths is not None and bool((lengths != inputs.shape[1]).any()):
            raise ValueError(
                f"Forecaster: windows must all have {inputs.shape[1]} steps, got lengths "
                f"{lengths.tolist()}"
            )
        T = inputs.shape[1] - self.horizon
        return inputs[:, :T, :F_rec], inputs[:, T:, self.n_targets + self.n_covariates : F_rec]

    def _constrain(self, raw: Tensor) -> Tensor:
        """Raw head outputs (..., n) → distribution parameters (σ > 0 for the Gaussian)."""
        if self.likelihood == "gaussian":
            sigma = F.softplus(raw[..., 1]) + _SIGMA_MIN
            return torch.stack([raw[..., 0], sigma], dim=-1)
        return raw

    def _blank(self, like: Tensor, B: int, steps: int) -> Tensor:
        """Parameters (B, steps, C, n) of rows with no prediction: zeros, and σ = 1 for the
        Gaussian so that a loss over them stays finite (the batch mask excludes them)."""
        blank = like.new_zeros(B, steps, self.n_targets, self.n_params)
        if self.likelihood == "gaussian":
            blank[..., 1] = 1.0
        return blank

    def _summary(self, state: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        """Top layer's final hidden state(s): (L·D, B, H) → (B, D·H)."""
        h_n = state[0] if isinstance(state, tuple) else state
        directions = 2 if self.bidirectional else 1
        top = h_n[-directions:]  # (D, B, H)
        return top.transpose(0, 1).reshape(h_n.shape[1], directions * self.hidden_size)

    def _step_head(self, out: Tensor, next_known: Tensor, e: Tensor | None = None) -> Tensor:
        """One-step parameters from outputs (..., H), next known features (..., K) and the
        static e (B, E) (broadcast over the steps of ``out`` (B, t, H))."""
        parts = [out, next_known]
        if e is not None:
            parts.append(e if out.dim() == 2 else e[:, None].expand(-1, out.shape[1], -1))
        raw = self.head(torch.cat(parts, dim=-1))
        return self._constrain(raw.unflatten(-1, (self.n_targets, self.n_params)))

    # -- forward (the task-model protocol) -----------------------------------------------------

    def forward(
        self, inputs: Tensor, state: object = None, *, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """Distribution parameters at every step of the window, in normalised units.

        Args:
            inputs: (B, S, F) window of S = T + h rows (layout in
                :mod:`rnnkit.data.forecast_inputs`): T observed rows, then h horizon rows
                whose known features are read; their target slots are read only by
                autoregressive teacher forcing in training mode.
            state: must be None (windows are independent).
            lengths: None, or all equal to S.

        Returns:
            ``(params, state)``: params (B, S, C, n) where rows T … S−1 forecast the horizon
            and, for the autoregressive decoder, row t ≥ 1 of the observed part holds the
            one-step prediction of row t (zeros where nothing is predicted); state is the
            encoder's final state over the observed rows.
        """
        past, known = self._split_inputs(inputs, state, lengths)
        e = self._static(inputs)
        B, T = past.shape[:2]
        C, n = self.n_targets, self.n_params
        F_rec = past.shape[2]
        if self.decoder == "direct":
            _, state = self._encode(past, e)
            x = torch.cat([self._summary(state), known.flatten(1), *([] if e is None else [e])], 1)
            future = self._constrain(self.head(x).view(B, self.horizon, C, n))
            return torch.cat([self._blank(future, B, T), future], dim=1), state
        if self.training:
            # Teacher forcing: rows 0 … S−2 in, row r's output predicts row r + 1.
            out, state = self._encode(inputs[:, :-1, :F_rec], e)
            params = self._step_head(out, inputs[:, 1:, C:F_rec], e)
            return torch.cat([self._blank(params, B, 1), params], dim=1), state
        out, state = self._encode(past, e)
        observed = self._step_head(out[:, :-1], past[:, 1:, C:], e)  # one-step, rows 1 … T−1
        future = self._decode_from(out[:, -1], state, known, sample=None, e=e)
        return torch.cat([self._blank(future, B, 1), observed, future], dim=1), state

    def forecast(self, inputs: Tensor) -> Tensor:
        """Horizon parameters (B, h, C, n) of windows (B, T + h, F), decoding freely (no
        teacher forcing, whatever the mode)."""
        past, known = self._split_inputs(inputs, None, None)
        if self.decoder == "direct":
            return self(inputs)[0][:, -self.horizon :]
        e = self._static(inputs)
        out, state = self._encode(past, e)
        return self._decode_from(out[:, -1], state, known, sample=None, e=e)

    def _decode_from(
        self,
        o: Tensor,
        state: Tensor | tuple[Tensor, Tensor],
        known: Tensor,
        sample: torch.Generator | None,
        e: Tensor | None = None,
    ) -> Tensor:
        """Autoregressive roll-out from the last output o (B, H) and its state: parameters
        (B, h, C, n). With ``sample`` the fed-back value is drawn from N(μ, σ²)."""
        steps = []
        for k in range(self.horizon):
            params = self._step_head(o, known[:, k], e)  # (B, C, n)
            steps.append(params)
            if k + 1 == self.horizon:
                break
            if sample is not None:
                mu, sigma = params[..., 0], params[..., 1]
                noise = torch.randn(mu.shape, generator=sample, dtype=mu.dtype)
                value = mu + sigma * noise.to(mu.device)
            else:
                value = self._point(params)
            row = torch.cat([value, known[:, k]], dim=1).unsqueeze(1)  # (B, 1, C + K)
            out, state = self.encoder(row, state)
            o = out[:, -1]
        return torch.stack(steps, dim=1)

    def _point(self, params: Tensor) -> Tensor:
        """Point forecast from parameters (..., n): μ, the median level, or the point."""
        if self.likelihood == "quantile":
            ordered = params.sort(dim=-1).values
            return ordered[..., self._median_index()]
        return params[..., 0]

    def check_levels(self, levels: Sequence[float] | None) -> tuple[float, ...]:
        """``levels`` as a checked tuple (None: ``self.quantiles``).

        Raises:
            ValueError: levels not increasing in (0, 1), any level for a 'point' model, or a
                level a 'quantile' model was not trained on (it names the trained ones).
        """
        if levels is None:
            return self.quantiles
        q = [float(x) for x in levels]
        if not q or any(not 0.0 < x < 1.0 for x in q) or sorted(set(q)) != q:
            raise ValueError(
                f"quantiles must be distinct increasing levels in (0, 1), got {list(levels)}"
            )
        if self.likelihood == "point":
            raise ValueError(
                f"quantiles need a model with intervals, but this one was trained with "
                f"likelihood='point'; got quantiles {q}"
            )
        if self.likelihood == "quantile":
            trained = [round(x, 10) for x in self.quantiles]
            other = [x for x in q if round(x, 10) not in trained]
            if other:
                raise ValueError(
                    f"quantiles of a likelihood='quantile' model must be levels it was trained "
                    f"on ({trained}), got {other}"
                )
            return tuple(self.quantiles[trained.index(round(x, 10))] for x in q)
        return tuple(q)

    def _median_index(self) -> int:
        return min(range(len(self.quantiles)), key=lambda i: abs(self.quantiles[i] - 0.5))

    # -- losses --------------------------------------------------------------------------------

    def elementwise_loss(self, params: Tensor, target: Tensor) -> Tensor:
        """Loss of parameters (..., C, n) against targets (..., C), per element (..., C)."""
        if self.likelihood == "gaussian":
            mu, sigma = params[..., 0], params[..., 1]
            return (
                torch.log(sigma) + 0.5 * ((target - mu) / sigma) ** 2 + 0.5 * math.log(2 * math.pi)
            )
        if self.likelihood == "quantile":
            q = torch.tensor(self.quantiles, dtype=params.dtype, device=params.device)
            err = target.unsqueeze(-1) - params
            return torch.maximum(q * err, (q - 1) * err).mean(dim=-1)
        return (params[..., 0] - target) ** 2

    def loss(self, outputs: Tensor, batch: SequenceBatch) -> Tensor:
        """Mean loss over the (window, step) pairs where ``batch.mask`` is True (targets
        averaged). Shapes: outputs (B, S, C, n), batch.targets (B, S, C), mask (B, S)."""
        mask = batch.mask
        # Masked targets may be NaN (unknown future): zero them so no NaN reaches a gradient.
        target = torch.where(mask.unsqueeze(-1), batch.targets, torch.zeros_like(batch.targets))
        per_step = self.elementwise_loss(outputs, target).mean(dim=-1)  # (B, S)
        return torch.where(mask, per_step, 0.0).sum() / mask.sum().clamp(min=1)

    def metrics(self, outputs: Tensor, batch: SequenceBatch) -> dict[str, tuple[Tensor, int]]:
        """MAE of the point forecast in normalised units over masked steps, as (sum, count)."""
        mask = batch.mask.unsqueeze(-1).expand_as(batch.targets)
        err = (self._point(outputs) - batch.targets).abs()
        return {"mae_scaled": (torch.where(mask, err, 0.0).sum().detach(), int(mask.sum()))}

    # -- prediction ----------------------------------------------------------------------------

    @torch.no_grad()
    def predict(
        self, inputs: Tensor, *, seed: int = 0, levels: Sequence[float] | None = None
    ) -> dict[str, Tensor]:
        """Point forecast and quantiles of the horizon in normalised units (eval mode).

        Args:
            inputs: (B, T + h, F) windows; the horizon's target slots are ignored.
            seed: seeds the Monte Carlo paths of the autoregressive Gaussian decoder, so that
                the same inputs always give the same result.
            levels: quantile levels Q to return (None: ``self.quantiles``); a Gaussian model
                gives any level in (0, 1), a quantile model only the levels it was trained on.

        Returns:
            ``{'point': (B, h, C), 'quantiles': (B, h, C, Q)}`` at ``levels``; for likelihood
            'point' the quantiles are empty (Q = 0).
        """
        self.eval()
        wanted = self.check_levels(levels)
        params = self.forecast(inputs)
        point = self._point(params)
        B, h, C = point.shape
        if self.likelihood == "point":
            return {"point": point, "quantiles": point.new_zeros(B, h, C, 0)}
        if self.likelihood == "quantile":
            ordered = params.sort(dim=-1).values
            pick = [self.quantiles.index(q) for q in wanted]
            return {"point": point, "quantiles": ordered[..., pick]}
        levels = torch.tensor(wanted, dtype=params.dtype, device=params.device)
        if self.decoder == "autoregressive" and self.n_samples > 0 and h > 1:
            generator = torch.Generator().manual_seed(seed)
            S = self.n_samples
            repeated = inputs.repeat_interleave(S, dim=0)
            past, known = self._split_inputs(repeated, None, None)
            e = self._static(repeated)
            out, state = self._encode(past, e)
            paths = self._decode_from(out[:, -1], state, known, generator, e)  # (B·S, h, C, 2)
            mu, sigma = paths[..., 0], paths[..., 1]
            noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
            draws = mu + sigma * noise.to(mu.device)
            draws = draws.view(B, S, h, C)
            quantiles = torch.quantile(draws, levels, dim=1).permute(1, 2, 3, 0)
            return {"point": point, "quantiles": quantiles}
        z = torch.distributions.Normal(0.0, 1.0).icdf(levels)  # Φ⁻¹(q), (Q,)
        return {"point": point, "quantiles": params[..., :1] + params[..., 1:2] * z}
