"""MiniRocket: random convolutional features and a ridge classifier (Dempster et al. 2021), the
strong fast baseline of time-series classification, from sktime's transformers.

Each feature is the proportion of positive values (PPV) of one convolution of the sequence x
(T, C) with a kernel w of 9 weights in {−1, 2} (84 fixed kernels), a dilation d and a bias b
drawn from quantiles of the training convolutions:

.. math::
    z_t = \\sum_{c \\in S} \\sum_{k=0}^{8} w_k \\, x_{t + (k - 4) d,\\, c}, \\qquad
    \\mathrm{PPV} = \\frac{1}{T} \\sum_{t=1}^{T} [z_t > b],

over a random channel subset S (all of x when C = 1), with zero padding at the ends: 9,996
features per sequence (10,000 rounded down to a multiple of 84). The features, scaled by their
training standard deviation (not centred, as aeon's MiniRocketClassifier), feed
``RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))`` (the paper's classifier; the penalty is
chosen by efficient leave-one-out). Dilations, channel subsets and biases are fixed by
``random_state`` (0).

Which sktime transformer fits the features:

* C = 1, every training sequence of one length: ``MiniRocket``;
* C > 1, one length: ``MiniRocketMultivariate``;
* training lengths that differ: ``MiniRocketMultivariateVariable`` (dilations from the longest
  training sequence, each sequence convolved over its own length).

A sequence's features depend on that sequence alone, so queries whose lengths differ are
transformed in groups of one length by the equal-length transformers; there a query shorter
than the training length T_fit is first padded at the end with zeros — the channel mean after
rnnkit's normalisation — to T_fit steps (sktime's equal-length kernels fail on sequences
shorter than about half their dilated kernel span). Sequences shorter than 9 steps (sktime
refuses them) are padded the same way to 9 steps.

Cost: :func:`minirocket_cells` counts 9,996 × Σ T_i · C convolution steps over every sequence
transformed, plus N · 9,996 · min(N, 9,996) for the ridge's decomposition of the N training
features; the classification task compares it with its cap (``minirocket_max_cells``) before it
starts. Measured on one core: about 4e9 of those cells a second. sktime compiles its numba
kernels on the first fit of each transformer (about 45 s, cached afterwards).

``pip install 'rnnkit[minirocket]'`` installs sktime. A fit is saved as arrays (the
transformer's dilations, features per dilation, channel subsets, biases; the scale, coefficients
and intercepts of the ridge), never as a pickle; predicting from them needs sktime again.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Features per sequence: 10,000 rounded down to a multiple of the 84 kernels.
NUM_FEATURES = 9_996
#: The ridge penalties of the paper.
ALPHAS = np.logspace(-3, 3, 10)
#: sktime refuses sequences shorter than the kernel length.
MIN_LENGTH = 9
RANDOM_STATE = 0
INSTALL = "pip install 'rnnkit[minirocket]'"
#: Which transformer a fit used (stored in the state as its index).
KINDS = ("MiniRocket", "MiniRocketMultivariate", "MiniRocketMultivariateVariable")


def sktime_rocket() -> tuple[Any, str | None]:
    """``(sktime.transformations.rocket, None)``, or ``(None, why)`` when sktime ≥ 1.2 (or
    scikit-learn) cannot be imported."""
    try:
        with warnings.catch_warnings():  # a library's import-time warnings are not ours
            warnings.simplefilter("ignore")
            importlib.import_module("sklearn.linear_model")
            # sktime 1.2 moved the transformers here (from transformations.panel.rocket).
            return importlib.import_module("sktime.transformations.rocket"), None
    except ImportError as err:
        return None, f"sktime is not installed, or older than 1.2 ({err}); {INSTALL}"


def minirocket_cells(lengths: Sequence[int], channels: int, num_train: int) -> int:
    """The work of one fit and transform: 9,996 · C · Σ T_i over every sequence (``lengths``)
    plus N · 9,996 · min(N, 9,996) for the ridge on ``num_train`` = N training sequences."""
    steps = sum(max(int(t), MIN_LENGTH) for t in lengths)
    n = int(num_train)
    return NUM_FEATURES * int(channels) * steps + n * NUM_FEATURES * min(n, NUM_FEATURES)


def _as_steps(sequence: np.ndarray) -> np.ndarray:
    """A (T, C) float32 copy, padded with zeros to at least 9 steps; a step that is not a
    vector is refused."""
    s = np.asarray(sequence, dtype=np.float32)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or len(s) == 0:
        raise ValueError(
            f"MiniRocket convolves steps that are vectors: sequences must be (T,) or (T, C) "
            f"with T ≥ 1, got a sequence of shape {s.shape}"
        )
    return _pad_to(s, MIN_LENGTH)


def _pad_to(s: np.ndarray, length: int) -> np.ndarray:
    """(T, C) steps padded at the end with zeros (the channel mean after normalisation) to
    at least ``length`` steps."""
    if len(s) >= length:
        return s
    return np.concatenate([s, np.zeros((length - len(s), s.shape[1]), np.float32)])


class MiniRocketRidge:
    """MiniRocket features + ridge classifier (see the module docstring).

    Args:
        random_state: seed of the dilations, channel subsets and biases.
    """

    name = "MiniRocket"

    def __init__(self, random_state: int = RANDOM_STATE) -> None:
        if isinstance(random_state, bool) or not isinstance(random_state, int):
            raise ValueError(f"random_state must be an int, got {random_state!r}")
        self.random_state = random_state
        self.kind: str | None = None
        self.channels = 0
        #: equal-length transformers: the training length T_fit (shorter queries are padded)
        self.length = 0
        self.alpha: float | None = None
        self._transformer: Any = None
        self._scale: np.ndarray | None = None
        self._coef: np.ndarray | None = None  # (K or 1, F)
        self._intercept: np.ndarray | None = None  # (K or 1,)
        self._classes: np.ndarray | None = None  # (K,)

    def _new_transformer(self, kind: str) -> Any:
        module, why = sktime_rocket()
        if module is None:
            raise ImportError(f"MiniRocket needs sktime: {why}")
        return getattr(module, kind)(random_state=self.random_state, n_jobs=1)

    def _steps(self, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        x = [_as_steps(s) for s in sequences]
        if self.channels and any(s.shape[1] != self.channels for s in x):
            raise ValueError(
                f"sequences must have {self.channels} channels like the training sequences, "
                f"got {sorted({s.shape[1] for s in x})}"
            )
        return x

    def _transform(self, x: list[np.ndarray]) -> np.ndarray:
        """Features (N, 9,996) of (T_i, C) steps, in input order."""
        out = np.empty((len(x), NUM_FEATURES), dtype=np.float32)
        with warnings.catch_warnings():  # sktime's advice to use the equal-length class
            warnings.simplefilter("ignore")
            if self.kind == "MiniRocketMultivariateVariable":
                import pandas as pd

                frames = [pd.DataFrame(s) for s in x]
                return np.asarray(self._transformer.transform(frames), dtype=np.float32)
            x = [_pad_to(s, self.length) for s in x]
            lengths = np.array([len(s) for s in x])
            for t in np.unique(lengths):  # one length per call: (N_t, C, T)
                idx = np.flatnonzero(lengths == t)
                block = np.stack([x[i].T for i in idx])
                out[idx] = np.asarray(self._transformer.transform(block), dtype=np.float32)
        return out

    def fit(
        self, sequences: Sequence[np.ndarray], y: np.ndarray, valid=None
    ) -> MiniRocketRidge:
        """Fit the features and the ridge on (T_i, C) ``sequences`` with class ids ``y`` (N,)
        (``valid`` is unused: the ridge picks its penalty by leave-one-out)."""
        x = [_as_steps(s) for s in sequences]
        if not x or len(x) != len(y):
            raise ValueError(
                f"fit needs as many class ids as sequences (at least one), got {len(x)} "
                f"sequences and {len(y)} class ids"
            )
        widths = {s.shape[1] for s in x}
        if len(widths) != 1:
            raise ValueError(
                f"sequences must all have one number of channels, got {sorted(widths)}"
            )
        self.channels, self.length = widths.pop(), 0
        if len({len(s) for s in x}) > 1:
            self.kind = "MiniRocketMultivariateVariable"
        else:
            self.kind = "MiniRocket" if self.channels == 1 else "MiniRocketMultivariate"
            self.length = len(x[0])
        self._transformer = self._new_transformer(self.kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.kind == "MiniRocketMultivariateVariable":
                import pandas as pd

                self._transformer.fit([pd.DataFrame(s) for s in x])
            else:
                self._transformer.fit(np.stack([s.T for s in x]))
        features = self._transform(x)
        y = np.asarray(y, dtype=np.int64)
        self._classes = np.unique(y)
        if len(self._classes) == 1:  # nothing to separate: every sequence gets that class
            self._scale = np.ones(NUM_FEATURES)
            self._coef = np.zeros((1, NUM_FEATURES))
            self._intercept = np.zeros(1)
            self.alpha = None
            return self
        from sklearn.linear_model import RidgeClassifierCV
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler(with_mean=False).fit(features)
        ridge = RidgeClassifierCV(alphas=ALPHAS).fit(scaler.transform(features), y)
        self._scale = np.asarray(scaler.scale_, dtype=np.float64)
        self._coef = np.atleast_2d(np.asarray(ridge.coef_, dtype=np.float64))  # binary: (1, F)
        self._intercept = np.asarray(ridge.intercept_, dtype=np.float64).reshape(-1)
        self.alpha = float(ridge.alpha_)
        return self

    def decision(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """Ridge scores (N, K), or (N, 1) for two classes (positive: the second class)."""
        if self._coef is None:
            raise ValueError("MiniRocketRidge must be fit before predict")
        features = self._transform(self._steps(sequences)).astype(np.float64)
        return (features / self._scale) @ self._coef.T + self._intercept

    def predict(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """Class ids (N,) of ``sequences``: the highest ridge score's (scikit-learn's rule)."""
        if self._classes is None:
            raise ValueError("MiniRocketRidge must be fit before predict")
        if len(sequences) == 0:
            return np.zeros(0, dtype=np.int64)
        if len(self._classes) == 1:
            return np.full(len(sequences), self._classes[0], dtype=np.int64)
        scores = self.decision(sequences)
        pick = (scores[:, 0] > 0).astype(np.int64) if scores.shape[1] == 1 else scores.argmax(1)
        return self._classes[pick]

    def state(self) -> dict[str, np.ndarray]:
        """The fit as arrays (for an artifact): which transformer, its parameters
        (``parameter_<i>``), its reference length, the training length, the feature scale, the
        ridge's coefficients, intercepts, penalty and classes."""
        if self._transformer is None or self._coef is None:
            raise ValueError("MiniRocketRidge must be fit before state")
        reference = getattr(self._transformer, "_fitted_reference_length", None)
        out = {
            f"parameter_{i}": np.asarray(p) for i, p in enumerate(self._transformer.parameters)
        }
        return {
            **out,
            "kind": np.array([KINDS.index(self.kind)], dtype=np.int64),
            "channels": np.array([self.channels], dtype=np.int64),
            "reference_length": np.array([reference or 0], dtype=np.int64),
            "length": np.array([self.length], dtype=np.int64),
            "random_state": np.array([self.random_state], dtype=np.int64),
            "scale": self._scale,
            "coef": self._coef,
            "intercept": self._intercept,
            "alpha": np.array([np.nan if self.alpha is None else self.alpha]),
            "classes": self._classes,
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> MiniRocketRidge:
        def scalar(key: str) -> int:
            return int(np.asarray(state[key]).reshape(-1)[0])

        model = cls(scalar("random_state"))
        model.kind = KINDS[scalar("kind")]
        model.channels = scalar("channels")
        model.length = scalar("length")
        transformer = model._new_transformer(model.kind)
        count = sum(1 for k in state if k.startswith("parameter_"))
        # sktime's numba kernels are typed: int32 indices, float32 biases (the last array).
        transformer.parameters = tuple(
            np.ascontiguousarray(state[f"parameter_{i}"],
                                 dtype=np.float32 if i == count - 1 else np.int32)
            for i in range(count)
        )
        transformer.num_kernels_ = NUM_FEATURES
        if model.kind == "MiniRocketMultivariateVariable":
            transformer._fitted_reference_length = scalar("reference_length")
        transformer._is_fitted = True  # fitted from the saved arrays, not refit
        model._transformer = transformer
        model._scale = np.asarray(state["scale"], np.float64)
        model._coef = np.atleast_2d(np.asarray(state["coef"], np.float64))
        model._intercept = np.asarray(state["intercept"], np.float64).reshape(-1)
        alpha = float(np.asarray(state["alpha"]).reshape(-1)[0])
        model.alpha = None if np.isnan(alpha) else alpha
        model._classes = np.asarray(state["classes"], np.int64)
        return model
