"""Non-recurrent baselines that every classification result is reported beside.

* :class:`BagOfWordsLogistic` (text): multinomial logistic regression on which vocabulary ids a
  text contains, p(y | x) = softmax(W b(x) + c) with b(x) ∈ {0, 1}^V, L2-regularised.
* :class:`NearestNeighbour` (numeric sequences, images): every sequence resampled to one length
  and flattened; a test sequence takes the label of its closest training sequence (Euclidean).
* :class:`ChannelStatsLogistic` (numeric sequences): logistic regression on per-channel
  summary statistics (mean, std, min, max, first, last) — no order information beyond them.
* :class:`~rnnkit.models.dtw_baseline.NearestNeighbourDTW` (numeric sequences, dtaidistance):
  1-NN with dynamic time warping in a 10% Sakoe-Chiba band.
* :class:`~rnnkit.models.minirocket_baseline.MiniRocketRidge` (numeric sequences, sktime):
  MiniRocket features and a ridge classifier.

Logistic regressions are fit with full-batch L-BFGS; the L2 strength is chosen on the validation
split from a small grid, so the baseline gets the same tuning budget as the defaults it is
compared with. They run in torch and numpy (no scikit-learn needed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from rnnkit.models.dtw_baseline import NearestNeighbourDTW
from rnnkit.models.minirocket_baseline import MiniRocketRidge

L2_GRID = (1e-2, 1e-3, 1e-4, 1e-5)


class _LinearMap(Protocol):
    """A fixed design matrix X (N, F), dense or sparse: products with it in both directions."""

    num_features: int

    def forward(self, w: np.ndarray) -> np.ndarray:  # X W: (F, C) -> (N, C)
        ...

    def backward(self, r: np.ndarray) -> np.ndarray:  # Xᵀ R: (N, C) -> (F, C)
        ...


class _Dense:
    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.num_features = x.shape[1]

    def forward(self, w: np.ndarray) -> np.ndarray:
        return self.x @ w

    def backward(self, r: np.ndarray) -> np.ndarray:
        return self.x.T @ r


class _BinaryBags:
    """X[i, v] = 1 when document i contains token id v (padding id 0 excluded): a sparse matrix
    kept as flat column ids plus row offsets, so both products are a gather and a bincount."""

    def __init__(self, docs: Sequence[Sequence[int]], vocab_size: int) -> None:
        uniq = [np.setdiff1d(np.asarray(d, dtype=np.int64), [0]) for d in docs]
        lens = np.array([len(u) for u in uniq], dtype=np.int64)
        self.cols = np.concatenate(uniq) if uniq else np.zeros(0, dtype=np.int64)
        self.rows = np.repeat(np.arange(len(uniq)), lens)
        self.num_rows = len(uniq)
        self.num_features = vocab_size

    def forward(self, w: np.ndarray) -> np.ndarray:
        out = np.zeros((self.num_rows, w.shape[1]))
        # One bincount per class: several times faster than np.add.at for these row sums.
        for k in range(w.shape[1]):
            out[:, k] = np.bincount(self.rows, weights=w[self.cols, k], minlength=self.num_rows)
        return out

    def backward(self, r: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                np.bincount(self.cols, weights=r[self.rows, k], minlength=self.num_features)
                for k in range(r.shape[1])
            ],
            axis=1,
        )


def _fit_logistic(
    x: _LinearMap, y: np.ndarray, num_classes: int, l2: float, *, max_iter: int = 150
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the mean cross-entropy + λ/2 ‖W‖² (λ = ``l2``) over W (F, C) and c (C,) with
    L-BFGS.

    The loss and its gradient are computed in float64 numpy (for the sparse bag of words this
    is ~20× faster than torch sparse autograd); torch's L-BFGS only drives the search:

    .. math::
        P = \\mathrm{softmax}(X W + c), \\quad
        \\nabla_W = X^\\top (P - Y) / N + \\lambda W, \\quad
        \\nabla_c = \\textstyle\\sum_i (P - Y)_i / N
    """
    n, f = len(y), x.num_features
    onehot = np.eye(num_classes)[np.asarray(y, dtype=np.int64)]
    theta = torch.zeros(f * num_classes + num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def unpack(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return t[: f * num_classes].reshape(f, num_classes), t[f * num_classes :]

    def closure() -> Tensor:
        w, c = unpack(theta.detach().numpy())
        z = x.forward(w) + c
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -(onehot * log_p).sum() / n + 0.5 * l2 * (w * w).sum()
        r = (np.exp(log_p) - onehot) / n
        grad = np.concatenate([(x.backward(r) + l2 * w).ravel(), r.sum(axis=0)])
        theta.grad = torch.from_numpy(grad)
        return torch.tensor(loss)

    opt.step(closure)
    return unpack(theta.detach().numpy().copy())


def _predict_linear(x: _LinearMap, w: np.ndarray, c: np.ndarray) -> np.ndarray:
    return (x.forward(w) + c).argmax(axis=1)


class _FittedLinear:
    """A fitted linear classifier: ``features(inputs)`` → argmax(X W + c), with W (F, C) and
    c (C,) kept so that the fit can be saved (:meth:`state`)."""

    def __init__(
        self, features: Callable[[Any], _LinearMap], w: np.ndarray, c: np.ndarray
    ) -> None:
        self.features, self.w, self.c = features, w, c

    def __call__(self, inputs: Any) -> np.ndarray:
        return _predict_linear(self.features(inputs), self.w, self.c)


def _select_l2(
    fit: Callable[[float], Callable[..., np.ndarray]],
    valid: tuple[object, np.ndarray] | None,
) -> tuple[float, Callable[..., np.ndarray]]:
    """Fit once per L2 strength; keep the best on validation accuracy (the second grid value
    without validation data)."""
    if valid is None:
        return L2_GRID[1], fit(L2_GRID[1])
    scored = []
    for l2 in L2_GRID:
        predict = fit(l2)
        scored.append((float((predict(valid[0]) == valid[1]).mean()), -l2, l2, predict))
    # Highest accuracy; among ties the strongest regularisation.
    best = max(scored, key=lambda s: (s[0], s[1]))
    return best[2], best[3]


class BagOfWordsLogistic:
    """Logistic regression on binary bag-of-words features.

    Args:
        vocab_size: V, the number of token ids (id 0, padding, is ignored).
        num_classes: C.
    """

    name = "bag-of-words logistic regression"

    def __init__(self, vocab_size: int, num_classes: int) -> None:
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.l2: float | None = None
        self._predict: Callable[[Sequence[Sequence[int]]], np.ndarray] | None = None

    def fit(
        self,
        docs: Sequence[Sequence[int]],
        y: np.ndarray,
        valid: tuple[Sequence[Sequence[int]], np.ndarray] | None = None,
    ) -> BagOfWordsLogistic:
        """Fit on token-id lists ``docs`` with class ids ``y`` (N,); ``valid`` picks the L2."""
        x = _BinaryBags(docs, self.vocab_size)

        def fit_one(l2: float) -> _FittedLinear:
            return _FittedLinear(self._bags, *_fit_logistic(x, y, self.num_classes, l2))

        self.l2, self._predict = _select_l2(fit_one, valid)
        return self

    def _bags(self, docs: Sequence[Sequence[int]]) -> _BinaryBags:
        return _BinaryBags(docs, self.vocab_size)

    def predict(self, docs: Sequence[Sequence[int]]) -> np.ndarray:
        """Class ids (N,) of token-id lists ``docs``."""
        if self._predict is None:
            raise ValueError("BagOfWordsLogistic must be fit before predict")
        return self._predict(docs)

    def state(self) -> dict[str, np.ndarray]:
        """The fit as arrays (for an artifact): W (V, C) and c (C,)."""
        if not isinstance(self._predict, _FittedLinear):
            raise ValueError("BagOfWordsLogistic must be fit before state")
        return {"w": self._predict.w, "c": self._predict.c}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> BagOfWordsLogistic:
        w, c = np.asarray(state["w"], np.float64), np.asarray(state["c"], np.float64)
        model = cls(w.shape[0], w.shape[1])
        model._predict = _FittedLinear(model._bags, w, c)
        return model


def resample(sequence: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of a (T, ...) sequence onto ``length`` evenly spaced steps."""
    t = sequence.shape[0]
    flat = sequence.reshape(t, -1)
    if t == length:
        return flat.copy()
    if t == 1:
        return np.repeat(flat, length, axis=0)
    src = np.linspace(0.0, t - 1, length)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, t - 1)
    frac = (src - lo)[:, None]
    return (1 - frac) * flat[lo] + frac * flat[hi]


class NearestNeighbour:
    """1-nearest-neighbour on sequences resampled to the median training length, flattened."""

    name = "1-nearest-neighbour"

    def __init__(self) -> None:
        self.length = 0
        self._x: Tensor | None = None
        self._y: np.ndarray | None = None

    def _matrix(self, sequences: Sequence[np.ndarray]) -> Tensor:
        rows = [resample(np.asarray(s, dtype=np.float64), self.length).ravel() for s in sequences]
        return torch.as_tensor(np.stack(rows))

    def fit(self, sequences: Sequence[np.ndarray], y: np.ndarray, valid=None) -> NearestNeighbour:
        self.length = int(np.median([len(s) for s in sequences]))
        self._x = self._matrix(sequences)
        self._y = np.asarray(y)
        return self

    def predict(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        if self._x is None or self._y is None:
            raise ValueError("NearestNeighbour must be fit before predict")
        q = self._matrix(sequences)
        out = []
        for start in range(0, len(q), 1024):  # bounded memory: 1024 × N distances at a time
            d = torch.cdist(q[start : start + 1024], self._x)
            out.append(d.argmin(dim=1).numpy())
        return self._y[np.concatenate(out)]

    def state(self) -> dict[str, np.ndarray]:
        """The fit as arrays (for an artifact): the resampled training matrix (N, L·F), its
        class ids (N,) and L."""
        if self._x is None or self._y is None:
            raise ValueError("NearestNeighbour must be fit before state")
        return {"x": self._x.numpy(), "y": self._y, "length": np.array([self.length])}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> NearestNeighbour:
        model = cls()
        model.length = int(np.asarray(state["length"]).reshape(-1)[0])
        model._x = torch.as_tensor(np.asarray(state["x"], np.float64))
        model._y = np.asarray(state["y"], np.int64)
        return model


class ChannelStatsLogistic:
    """Logistic regression on per-channel mean, std, min, max, first and last value."""

    name = "per-channel statistics logistic regression"

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.l2: float | None = None
        self._mu: np.ndarray | None = None
        self._sd: np.ndarray | None = None
        self._predict: Callable[..., np.ndarray] | None = None

    @staticmethod
    def _raw(sequences: Sequence[np.ndarray]) -> np.ndarray:
        feats = []
        for s in sequences:
            s = np.asarray(s, dtype=np.float64).reshape(len(s), -1)
            feats.append(np.concatenate([s.mean(0), s.std(0), s.min(0), s.max(0), s[0], s[-1]]))
        return np.stack(feats)

    def _features(self, sequences: Sequence[np.ndarray]) -> _Dense:
        return _Dense((self._raw(sequences) - self._mu) / self._sd)

    def fit(
        self, sequences: Sequence[np.ndarray], y: np.ndarray, valid=None
    ) -> ChannelStatsLogistic:
        """Fit on (T_i, ...) ``sequences`` with class ids ``y``; ``valid`` picks the L2."""
        raw = self._raw(sequences)
        self._mu = raw.mean(0)
        self._sd = np.maximum(raw.std(0), 1e-9)
        x = self._features(sequences)

        def fit_one(l2: float) -> _FittedLinear:
            return _FittedLinear(self._features, *_fit_logistic(x, y, self.num_classes, l2))

        self.l2, self._predict = _select_l2(fit_one, valid)
        return self

    def predict(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        if self._predict is None:
            raise ValueError("ChannelStatsLogistic must be fit before predict")
        return self._predict(sequences)

    def state(self) -> dict[str, np.ndarray]:
        """The fit as arrays (for an artifact): feature mean and spread, W and c."""
        if not isinstance(self._predict, _FittedLinear):
            raise ValueError("ChannelStatsLogistic must be fit before state")
        return {"mu": self._mu, "sd": self._sd, "w": self._predict.w, "c": self._predict.c}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> ChannelStatsLogistic:
        w, c = np.asarray(state["w"], np.float64), np.asarray(state["c"], np.float64)
        model = cls(w.shape[1])
        model._mu = np.asarray(state["mu"], np.float64)
        model._sd = np.asarray(state["sd"], np.float64)
        model._predict = _FittedLinear(model._features, w, c)
        return model


#: The classification baselines that can be saved and shipped in the network's place, by name
#: (1-NN DTW too: its artifact holds the training sequences; predicting needs dtaidistance;
#: MiniRocket: its artifact holds the transformer's and the ridge's arrays; predicting needs
#: sktime).
SHIPPABLE = {
    b.name: b
    for b in (NearestNeighbour, ChannelStatsLogistic, BagOfWordsLogistic, NearestNeighbourDTW,
              MiniRocketRidge)
}


class MostFrequentTag:
    """Tagging baseline: each token gets the tag it carried most often in training; a token
    never seen in training gets the most frequent tag overall. No context is used."""

    name = "most-frequent-tag per token"

    def __init__(self) -> None:
        self._table: dict[str, int] = {}
        self._default = 0

    def fit(
        self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[int]]
    ) -> MostFrequentTag:
        counts: dict[str, Counter[int]] = {}
        overall: Counter[int] = Counter()
        for toks, tgs in zip(tokens, tags, strict=True):
            for tok, tag in zip(toks, tgs, strict=True):
                counts.setdefault(tok, Counter())[int(tag)] += 1
                overall[int(tag)] += 1
        # Ties go to the smaller tag id, so the table does not depend on data order.
        self._table = {t: min(c, key=lambda k: (-c[k], k)) for t, c in counts.items()}
        self._default = min(overall, key=lambda k: (-overall[k], k))
        return self

    def predict(self, tokens: Sequence[Sequence[str]]) -> list[np.ndarray]:
        return [
            np.array([self._table.get(t, self._default) for t in toks], dtype=np.int64)
            for toks in tokens
        ]
