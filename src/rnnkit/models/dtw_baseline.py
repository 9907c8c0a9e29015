"""1-nearest-neighbour with dynamic time warping: the classic baseline of time-series
classification (Bagnall et al. 2017), from dtaidistance's C implementation.

For sequences a (T_a, F) and b (T_b, F) the DTW distance is

.. math::
    D(i, j) = \\lVert a_i - b_j \\rVert^2 + \\min(D(i-1, j), D(i, j-1), D(i-1, j-1)), \\quad
    \\mathrm{DTW}(a, b) = \\sqrt{D(T_a, T_b)},

over the cells within a Sakoe-Chiba band |i − j| ≤ r (dtaidistance widens it by the length
difference, so sequences of different lengths stay comparable), with r = ⌊band · T_max⌋ (at
least 1), T_max the longest training sequence: band 0.1 is the "10% window" of the UCR archive's
published 1-NN DTW numbers. Several channels are compared step by step as vectors
(``dtw_ndim``: the dependent multivariate DTW).

A test sequence takes the label of its nearest training sequence (the first on ties). The cost
is one DTW per (training, test) pair: :func:`dtw_cells` counts the cells of those tables,
(Σ_train T_i)(Σ_test T_j), which the classification task compares with its cap
(``dtw_max_cells``) before it starts.

dtaidistance imports in well under a second and needs no compilation (``pip install
'rnnkit[dtw]'``); without its C extension the baseline is refused rather than run in Python.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Share of the longest training sequence that the warping may shift (Sakoe-Chiba radius).
BAND = 0.1
#: Queries per distance-matrix call: bounds memory at (N_train × CHUNK) distances.
CHUNK = 256
INSTALL = "pip install 'rnnkit[dtw]'"


def dtaidistance_modules() -> tuple[tuple[Any, Any] | None, str | None]:
    """``((dtw, dtw_ndim), None)``, or ``(None, why)`` when dtaidistance or its C extension is
    missing."""
    try:
        dtw = importlib.import_module("dtaidistance.dtw")
        dtw_ndim = importlib.import_module("dtaidistance.dtw_ndim")
    except ImportError as err:
        return None, f"dtaidistance is not installed ({err}); {INSTALL}"
    if not dtw.try_import_c(verbose=False):
        return None, "dtaidistance's C extension does not load here (reinstall its wheel)"
    return (dtw, dtw_ndim), None


def dtw_cells(train_lengths: Sequence[int], other_lengths: Sequence[int]) -> int:
    """Cells of all DTW tables between two sets of sequences: (Σ T_i)(Σ T_j)."""
    return int(sum(int(t) for t in train_lengths)) * int(sum(int(t) for t in other_lengths))


def _as_steps(sequence: np.ndarray) -> np.ndarray:
    """A (T, F) float64 C-contiguous copy; a step that is not a vector is refused."""
    s = np.asarray(sequence, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ValueError(
            f"1-NN DTW compares steps as vectors: sequences must be (T,) or (T, F), got a "
            f"sequence of shape {s.shape}"
        )
    return np.ascontiguousarray(s)


class NearestNeighbourDTW:
    """1-NN with DTW in a Sakoe-Chiba band (see the module docstring).

    Args:
        band: the radius as a share of the longest training sequence, in (0, 1].
    """

    name = "1-NN DTW"

    def __init__(self, band: float = BAND) -> None:
        if isinstance(band, bool) or not isinstance(band, (int, float)) or not 0 < band <= 1:
            raise ValueError(f"band must be a number in (0, 1], got {band!r}")
        self.band = float(band)
        self.radius = 0
        self._x: list[np.ndarray] | None = None
        self._y: np.ndarray | None = None

    def fit(
        self, sequences: Sequence[np.ndarray], y: np.ndarray, valid=None
    ) -> NearestNeighbourDTW:
        """Keep the (T_i, F) training ``sequences`` and their class ids ``y`` (N,)."""
        x = [_as_steps(s) for s in sequences]
        if not x or len(x) != len(y):
            raise ValueError(
                f"fit needs as many class ids as sequences (at least one), got {len(x)} "
                f"sequences and {len(y)} class ids"
            )
        self._x, self._y = x, np.asarray(y, dtype=np.int64)
        self.radius = max(1, math.floor(self.band * max(len(s) for s in x)))
        return self

    def distances(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """DTW distances (N_query, N_train) of ``sequences`` to the training sequences."""
        if self._x is None:
            raise ValueError("NearestNeighbourDTW must be fit before predict")
        modules, why = dtaidistance_modules()
        if modules is None:
            raise ImportError(f"1-NN DTW needs dtaidistance: {why}")
        dtw, dtw_ndim = modules
        queries = [_as_steps(s) for s in sequences]
        width = self._x[0].shape[1]
        if any(q.shape[1] != width for q in queries):
            raise ValueError(
                f"sequences must have {width} channels like the training sequences, got "
                f"{sorted({q.shape[1] for q in queries})}"
            )
        n = len(self._x)
        out = np.empty((len(queries), n))
        for start in range(0, len(queries), CHUNK):
            chunk = queries[start : start + CHUNK]
            series = self._x + chunk
            if width == 1:  # the 1-D kernel: same numbers, a little faster
                series = [np.ascontiguousarray(s[:, 0]) for s in series]
                fast = dtw.distance_matrix_fast
            else:
                fast = dtw_ndim.distance_matrix_fast
            # Only the (training × query) block; compact: row-major over training rows.
            # dtaidistance's window w allows |i − j| < w, so w = radius + 1.
            flat = fast(series, window=self.radius + 1, block=((0, n), (n, n + len(chunk))),
                        compact=True)
            out[start : start + len(chunk)] = np.asarray(flat).reshape(n, len(chunk)).T
        return out

    def predict(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """Class ids (N,) of ``sequences``: each its nearest training sequence's."""
        if self._y is None:
            raise ValueError("NearestNeighbourDTW must be fit before predict")
        if len(sequences) == 0:
            return np.zeros(0, dtype=np.int64)
        return self._y[self.distances(sequences).argmin(axis=1)]

    def state(self) -> dict[str, np.ndarray]:
        """The fit as arrays (for an artifact): the training steps concatenated (ΣT_i, F),
        their lengths, class ids, the band and the radius."""
        if self._x is None or self._y is None:
            raise ValueError("NearestNeighbourDTW must be fit before state")
        return {
            "x": np.concatenate(self._x),
            "lengths": np.array([len(s) for s in self._x], dtype=np.int64),
            "y": self._y,
            "band": np.array([self.band]),
            "radius": np.array([self.radius], dtype=np.int64),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> NearestNeighbourDTW:
        model = cls(float(np.asarray(state["band"]).reshape(-1)[0]))
        x = np.asarray(state["x"], np.float64)
        ends = np.cumsum(np.asarray(state["lengths"], np.int64))
        model._x = [np.ascontiguousarray(p) for p in np.split(x, ends[:-1])]
        model._y = np.asarray(state["y"], np.int64)
        model.radius = int(np.asarray(state["radius"]).reshape(-1)[0])
        return model
