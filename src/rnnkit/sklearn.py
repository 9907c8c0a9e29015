"""scikit-learn estimators over rnnkit's sequence models: RNNClassifier, RNNRegressor,
RNNForecaster.

They follow the estimator contract (``__init__`` only stores its arguments, ``fit`` returns
``self``, learned attributes end in ``_``, ``get_params``/``set_params``/``clone`` work), so
they go inside ``GridSearchCV``, ``cross_val_score`` and ``Pipeline``::

    from sklearn.model_selection import GridSearchCV
    from rnnkit.sklearn import RNNClassifier

    search = GridSearchCV(RNNClassifier(epochs=30), {"hidden_size": [16, 32]}, cv=3)
    search.fit(X, y)            # X: (N, T, F) array, or a list of (T_i, F) arrays

Inputs (``X``):

* a 3-D array (N, T, F): N sequences of T steps with F features;
* a list of N arrays (T_i, F): sequences of different lengths, padded per batch and run with
  their true lengths (outputs past a length never count);
* a 2-D array (N, F), or a list of N flat rows, is read as scikit-learn reads every 2-D input,
  N samples of F features: here N sequences of a single step. Pass univariate series as
  (N, T, 1), or a list of (T_i, 1) arrays.

Every sequence must have the same F, at least one step, and finite values; a different F at
``predict`` than at ``fit`` is an error naming both.

Models: :class:`~rnnkit.models.classifier.SequenceClassifier` (the state at the last real step,
then a linear head; cross-entropy) and :class:`~rnnkit.models.regressor.SequenceRegressor`
(a linear read-out at the last real step; mean squared error), trained by
:class:`rnnkit.train.Trainer` (Adam, gradient clipping, the same seed → the same model).
Inputs are standardised per feature on the training data inside the estimator (fit in
``fit``, kept for ``predict``), as an RNN with saturating gates needs.

Needs scikit-learn (the ``tune`` extra: ``pip install rnnkit[tune]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d
except ImportError as err:  # pragma: no cover - the extra is installed in CI
    raise ImportError(
        'rnnkit.sklearn needs scikit-learn, which is not installed: pip install "rnnkit[tune]"'
    ) from err

__all__ = ["RNNClassifier", "RNNForecaster", "RNNRegressor"]


def _sequences(X: Any, owner: str) -> list[np.ndarray]:
    """``X`` as a list of float32 arrays (T_i, F) (see the module docstring).

    Raises:
        ValueError: not sequences, an empty sequence, unequal F, NaN or infinity.
        TypeError: sparse input.
    """
    # A list of 2-D arrays is a list of sequences; a list of flat rows is what scikit-learn
    # reads it as, a 2-D array of samples × features.
    if isinstance(X, (list, tuple)) and len(X) and all(np.ndim(s) == 2 for s in X):
        out = []
        for i, s in enumerate(X):
            a = np.asarray(s)
            out.append(
                check_array(a, dtype=np.float32, ensure_min_samples=1,
                            input_name=f"{owner}: X[{i}] (sequence {i} as steps × features)")
            )
    else:
        a = check_array(X, dtype=np.float32, allow_nd=True, input_name=f"{owner}: X")
        if a.ndim == 2:
            a = a[:, None, :]  # (N, F): N one-step sequences
        elif a.ndim != 3:
            raise ValueError(
                f"{owner}: X must be (N, T, F) sequences, (N, F) samples or a list of (T_i, F) "
                f"arrays, got an array of shape {a.shape}"
            )
        if a.shape[1] == 0:
            raise ValueError(f"{owner}: sequences need at least one step, got shape {a.shape}")
        out = list(a)
    widths = {s.shape[1] for s in out}
    if len(widths) > 1:
        raise ValueError(
            f"{owner}: every sequence must have the same number of features, got {sorted(widths)}"
        )
    return out


def _target_vector(y: Any, owner: str, *, numeric: bool) -> np.ndarray:
    """``y`` as a 1-D array: a column (N, 1) is flattened with scikit-learn's
    DataConversionWarning; None, other shapes, NaN and infinity are errors."""
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None")
    array = np.asarray(y)
    if numeric or array.dtype.kind in "fc":
        array = check_array(array, ensure_2d=False, dtype=np.float64 if numeric else None,
                            input_name=f"{owner}: y")
    return column_or_1d(array, warn=True)


class _RNNBase(BaseEstimator):
    """What the two estimators share: options, input checks, scaling, training, prediction."""

    def __init__(
        self,
        cell: str = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        epochs: int = 30,
        lr: float = 1e-2,
        batch_size: int = 32,
        clip_norm: float | None = 1.0,
        random_state: int | None = None,
    ) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.clip_norm = clip_norm
        self.random_state = random_state

    # ---- inputs -----------------------------------------------------------------------------

    def _check_params(self) -> None:
        owner = type(self).__name__
        for name, low in (("hidden_size", 1), ("num_layers", 1), ("epochs", 1),
                          ("batch_size", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {v!r}")
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ValueError(f"{owner}: lr must be a number > 0, got {self.lr!r}")

    def _inputs(self, X: Any, *, fitting: bool) -> list[np.ndarray]:
        owner = type(self).__name__
        seqs = _sequences(X, owner)
        width = seqs[0].shape[1]
        if fitting:
            self.n_features_in_ = width
            steps = np.concatenate(seqs)
            self.mean_ = steps.mean(axis=0)
            std = steps.std(axis=0)
            self.scale_ = np.where(std > 0, std, 1.0).astype(np.float32)
        elif width != self.n_features_in_:
            # scikit-learn's wording (its checks look for it): features are per step here.
            raise ValueError(
                f"X has {width} features, but {owner} is expecting {self.n_features_in_} "
                "features as input (features per step, as in fit)"
            )
        return [((s - self.mean_) / self.scale_).astype(np.float32) for s in seqs]

    # ---- training ---------------------------------------------------------------------------

    def _seed(self) -> int:
        return 0 if self.random_state is None else int(self.random_state)

    def _trainer(self, model: Any, epochs: int) -> Any:
        from rnnkit.train import TrainConfig, Trainer

        config = TrainConfig(
            epochs=epochs, lr=float(self.lr), clip_norm=self.clip_norm, seed=self._seed(),
            quiet=True, plots=False, monitor="train_loss", early_stopping=None,
        )
        return Trainer(model, config)

    def _loader(self, inputs: list[np.ndarray], targets: np.ndarray) -> Any:
        from rnnkit.data.bucketing import BucketLoader

        return BucketLoader(inputs, targets, batch_size=int(self.batch_size), seed=self._seed())

    def _train(self, inputs: list[np.ndarray], targets: np.ndarray, *, epochs: int) -> None:
        """Train ``model_`` for ``epochs`` more epochs (a new trainer on first use)."""
        if not hasattr(self, "trainer_"):
            self.trainer_ = self._trainer(self.model_, epochs)
        trainer = self.trainer_
        trainer.config.epochs = trainer.epoch + epochs  # continue: partial_fit adds one
        trainer.stop_training = False
        trainer.fit(self._loader(inputs, targets))
        self.model_.eval()
        self.n_iter_ = trainer.epoch

    def _outputs(self, X: Any) -> tuple[list[np.ndarray], Any]:
        check_is_fitted(self, "model_")
        return self._inputs(X, fitting=False), self.model_

    @staticmethod
    def _batches(inputs: list[np.ndarray], size: int = 256) -> Any:
        """(index, padded (B, T, F), lengths (B,)) for batches of similar lengths."""
        from rnnkit.data.bucketing import pad_sequences

        order = np.argsort([len(s) for s in inputs], kind="stable")
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            padded, lengths = pad_sequences([inputs[i] for i in idx])
            yield idx, padded, lengths

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # (N, T, F) sequences
        tags.non_deterministic = False
        return tags


class RNNClassifier(ClassifierMixin, _RNNBase):
    """One class per sequence: a recurrent network read at each sequence's last real step.

    .. math::  h_{1..T} = \\mathrm{RNN}(x_{1..T}), \\qquad
               p(y \\mid x) = \\mathrm{softmax}(W h_{T_i} + b)

    Args:
        cell: 'lstm', 'gru', 'rnn' (Elman) or another cell of the cell table.
        hidden_size: H, hidden units per layer.
        num_layers: stacked recurrent layers.
        dropout: between layers and before the head.
        epochs: passes over the training data in ``fit``.
        lr: Adam's learning rate.
        batch_size: sequences per update (bucketed by length).
        clip_norm: gradient-norm clipping (None: off).
        random_state: seed of the weights and the batch order (None: 0, so that two fits on
            the same data give the same model).

    Attributes:
        classes_: (C,) the class labels, sorted.
        n_features_in_: F.
        model_: the trained :class:`~rnnkit.models.classifier.SequenceClassifier`.
        mean_, scale_: (F,) the input standardisation fit on the training data.
        n_iter_: epochs trained.
    """

    def fit(self, X: Any, y: Any) -> RNNClassifier:
        """Train on sequences ``X`` and their labels ``y`` (N,); returns ``self``."""
        self._check_params()
        for name in ("model_", "trainer_"):
            self.__dict__.pop(name, None)
        inputs = self._inputs(X, fitting=True)
        targets = self._labels(y, len(inputs), classes=None)
        self._build()
        self._train(inputs, targets, epochs=int(self.epochs))
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> RNNClassifier:
        """One more epoch on ``X, y`` (the first call needs ``classes``: every label that will
        ever be seen; the input standardisation is fit on that first batch)."""
        if not hasattr(self, "model_"):
            if classes is None:
                raise ValueError(
                    "RNNClassifier.partial_fit: classes must be given on the first call (every "
                    "label that will be seen), got None"
                )
            self._check_params()
            inputs = self._inputs(X, fitting=True)
            targets = self._labels(y, len(inputs), classes=classes)
            self._build()
        else:
            inputs = self._inputs(X, fitting=False)
            targets = self._labels(y, len(inputs), classes=self.classes_)
        self._train(inputs, targets, epochs=1)
        return self

    def _labels(self, y: Any, n: int, classes: Any) -> np.ndarray:
        y = _target_vector(y, "RNNClassifier", numeric=False)
        if len(y) != n:
            raise ValueError(
                f"RNNClassifier: y must hold one label per sequence ({n}), got shape {y.shape}"
            )
        check_classification_targets(y)
        if classes is None:
            self.classes_ = np.unique(y)
        elif not hasattr(self, "classes_") or self.classes_ is not classes:
            self.classes_ = np.unique(np.asarray(classes))
        if len(self.classes_) < 2:
            raise ValueError(
                f"RNNClassifier: y must hold at least 2 classes, got 1 class: {self.classes_[0]!r}"
            )
        unknown = sorted(set(np.unique(y).tolist()) - set(self.classes_.tolist()), key=str)
        if unknown:
            raise ValueError(
                f"RNNClassifier: y has labels {unknown[:5]} that are not among the classes "
                f"{self.classes_.tolist()[:10]}"
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _build(self) -> None:
        import torch

        from rnnkit.models.classifier import SequenceClassifier

        torch.manual_seed(self._seed())
        self.model_ = SequenceClassifier(
            len(self.classes_), input_kind="features", input_size=self.n_features_in_,
            cell=self.cell, hidden_size=int(self.hidden_size), num_layers=int(self.num_layers),
            pooling="last", dropout=float(self.dropout),
        )

    def predict_proba(self, X: Any) -> np.ndarray:
        """(N, C) class probabilities, columns in the order of ``classes_``."""
        import torch

        inputs, model = self._outputs(X)
        out = np.zeros((len(inputs), len(self.classes_)))
        with torch.no_grad():
            for idx, padded, lengths in self._batches(inputs):
                out[idx] = model.predict_proba(padded, lengths).double().numpy()
        return out

    def predict(self, X: Any) -> np.ndarray:
        """(N,) the most probable class of each sequence."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class RNNRegressor(RegressorMixin, _RNNBase):
    """One number per sequence (sequence → value): a linear read-out of the recurrent state at
    each sequence's last real step, trained on the mean squared error.

    .. math::  h_{1..T} = \\mathrm{RNN}(x_{1..T}), \\qquad \\hat y = W h_{T_i} + b

    The targets are standardised on the training data inside the estimator (and predictions
    mapped back), so the learning rate suits targets of any scale.

    Args: those of :class:`RNNClassifier`.

    Attributes:
        n_features_in_, model_, mean_, scale_, n_iter_: as for :class:`RNNClassifier`.
        y_mean_, y_scale_: the target standardisation.
    """

    def fit(self, X: Any, y: Any) -> RNNRegressor:
        """Train on sequences ``X`` and their targets ``y`` (N,); returns ``self``."""
        self._check_params()
        for name in ("model_", "trainer_"):
            self.__dict__.pop(name, None)
        inputs = self._inputs(X, fitting=True)
        y = self._targets(y, len(inputs))
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        self._build()
        self._train(inputs, (y - self.y_mean_) / self.y_scale_, epochs=int(self.epochs))
        return self

    def partial_fit(self, X: Any, y: Any) -> RNNRegressor:
        """One more epoch on ``X, y`` (the first call fits the input and target scaling)."""
        if not hasattr(self, "model_"):
            self._check_params()
            inputs = self._inputs(X, fitting=True)
            y = self._targets(y, len(inputs))
            self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std()) or 1.0
            self._build()
        else:
            inputs = self._inputs(X, fitting=False)
            y = self._targets(y, len(inputs))
        self._train(inputs, (y - self.y_mean_) / self.y_scale_, epochs=1)
        return self

    @staticmethod
    def _targets(y: Any, n: int) -> np.ndarray:
        y = _target_vector(y, "RNNRegressor", numeric=True)
        if len(y) != n:
            raise ValueError(
                f"RNNRegressor: y must hold one number per sequence ({n}), got shape {y.shape}"
            )
        return y

    def _build(self) -> None:
        import torch

        from rnnkit.models.regressor import SequenceRegressor

        torch.manual_seed(self._seed())
        self.model_ = SequenceRegressor(
            self.n_features_in_, int(self.hidden_size), cell=self.cell,
            num_layers=int(self.num_layers), dropout=float(self.dropout),
        )

    def predict(self, X: Any) -> np.ndarray:
        """(N,) the predicted value of each sequence."""
        import torch

        inputs, model = self._outputs(X)
        out = np.zeros(len(inputs))
        with torch.no_grad():
            for idx, padded, lengths in self._batches(inputs):
                out[idx] = model.predict(padded, lengths)[:, 0].double().numpy()
        return out * self.y_scale_ + self.y_mean_


class RNNForecaster(_RNNBase):
    """Forecasting one series, scikit-learn style: ``fit(y)`` on a series, ``predict()`` the
    next ``horizon`` steps.

    The series y (T,) or (T, C) is standardised per channel on the training series and cut into
    every window of ``input_length`` steps; a recurrent network reads a window and its state at
    the last step is mapped to all ``horizon`` × C future values at once (direct multi-step
    forecasting, no feedback of its own errors):

    .. math::  h_{1..L} = \\mathrm{RNN}(y_{t-L+1..t}), \\qquad
               (\\hat y_{t+1}, …, \\hat y_{t+h}) = W h_L + b

    Args:
        input_length: L, past steps a forecast reads.
        horizon: h, future steps it predicts.
        the others: as for :class:`RNNClassifier`.

    Attributes:
        n_channels_: C.
        last_window_: (L, C) the end of the training series, what ``predict()`` continues.
        model_, mean_, scale_, n_iter_: as for :class:`RNNRegressor`.
    """

    def __init__(
        self,
        input_length: int = 24,
        horizon: int = 1,
        cell: str = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        epochs: int = 30,
        lr: float = 1e-2,
        batch_size: int = 32,
        clip_norm: float | None = 1.0,
        random_state: int | None = None,
    ) -> None:
        super().__init__(cell, hidden_size, num_layers, dropout, epochs, lr, batch_size,
                         clip_norm, random_state)
        self.input_length = input_length
        self.horizon = horizon

    def _series(self, y: Any, *, fitting: bool) -> np.ndarray:
        owner = "RNNForecaster"
        a = check_array(y, ensure_2d=False, dtype=np.float32, input_name=f"{owner}: y")
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ValueError(f"{owner}: y must be a series (T,) or (T, C), got shape {a.shape}")
        if fitting:
            self.n_channels_ = a.shape[1]
            self.mean_ = a.mean(axis=0)
            std = a.std(axis=0)
            self.scale_ = np.where(std > 0, std, 1.0).astype(np.float32)
        elif a.shape[1] != self.n_channels_:
            raise ValueError(
                f"{owner}: y has {a.shape[1]} channels, but the forecaster was fit on "
                f"{self.n_channels_}"
            )
        return ((a - self.mean_) / self.scale_).astype(np.float32)

    def _windows(self, z: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        L, h = int(self.input_length), int(self.horizon)
        n = len(z) - L - h + 1
        if n < 1:
            raise ValueError(
                f"RNNForecaster: y must have at least input_length + horizon = {L + h} steps, "
                f"got {len(z)}"
            )
        inputs = [z[i : i + L] for i in range(n)]
        targets = np.stack([z[i + L : i + L + h].reshape(-1) for i in range(n)])
        return inputs, targets.astype(np.float64)

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("input_length", "horizon"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"RNNForecaster: {name} must be an integer >= 1, got {v!r}")

    def _build(self) -> None:
        import torch

        from rnnkit.models.regressor import SequenceRegressor

        torch.manual_seed(self._seed())
        self.model_ = SequenceRegressor(
            self.n_channels_, int(self.hidden_size), int(self.horizon) * self.n_channels_,
            cell=self.cell, num_layers=int(self.num_layers), dropout=float(self.dropout),
        )

    def _loader(self, inputs: list[np.ndarray], targets: np.ndarray) -> Any:
        import torch

        from rnnkit.data import BatchLoader

        # Windows share one length: a plain batch loader, targets (N, h·C) at the last step.
        return BatchLoader(torch.from_numpy(np.stack(inputs)), torch.from_numpy(targets),
                           batch_size=int(self.batch_size), target_at="last", seed=self._seed())

    def fit(self, y: Any, X: Any = None) -> RNNForecaster:
        """Train on the series ``y`` (T,) or (T, C) (``X`` is not used); returns ``self``."""
        self._check_params()
        for name in ("model_", "trainer_"):
            self.__dict__.pop(name, None)
        z = self._series(y, fitting=True)
        inputs, targets = self._windows(z)
        self.last_window_ = z[-int(self.input_length):]
        self._build()
        self._train(inputs, targets, epochs=int(self.epochs))
        return self

    def partial_fit(self, y: Any, X: Any = None) -> RNNForecaster:
        """One more epoch on the windows of ``y`` (the first call fits the scaling)."""
        if not hasattr(self, "model_"):
            self._check_params()
            z = self._series(y, fitting=True)
            self._build()
        else:
            z = self._series(y, fitting=False)
        inputs, targets = self._windows(z)
        self.last_window_ = z[-int(self.input_length):]
        self._train(inputs, targets, epochs=1)
        return self

    def predict(self, y: Any = None) -> np.ndarray:
        """The ``horizon`` steps after the series ``y`` (default: after the training series):
        (h,) for a single series, (h, C) for C channels, in the data's units."""
        import torch

        check_is_fitted(self, "model_")
        if y is None:
            window = self.last_window_
        else:
            z = self._series(y, fitting=False)
            if len(z) < int(self.input_length):
                raise ValueError(
                    f"RNNForecaster: y must have at least input_length = {self.input_length} "
                    f"steps to forecast from, got {len(z)}"
                )
            window = z[-int(self.input_length):]
        with torch.no_grad():
            out = self.model_.predict(torch.from_numpy(window[None]))[0].double().numpy()
        out = out.reshape(int(self.horizon), self.n_channels_) * self.scale_ + self.mean_
        return out[:, 0] if self.n_channels_ == 1 else out

    def score(self, y_future: Any, y: Any = None) -> float:
        """R² of the forecast after ``y`` (default: the training series) against the
        ``horizon`` values ``y_future`` that followed (1 is perfect; the mean of y_future
        scores 0)."""
        from sklearn.metrics import r2_score

        truth = check_array(y_future, ensure_2d=False, dtype=np.float64,
                            input_name="RNNForecaster: y_future")
        pred = self.predict(y)
        if truth.shape != pred.shape:
            raise ValueError(
                f"RNNForecaster: y_future must have the forecast's shape {pred.shape}, got "
                f"{truth.shape}"
            )
        return float(r2_score(truth, pred))
