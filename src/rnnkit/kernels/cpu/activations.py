"""Scalar activations for the compiled kernels: fast in float32, exact in float64.

Without Intel SVML, numba lowers ``math.tanh``/``math.exp`` to scalar libm calls, which stops the
gate loops from vectorising (several times slower). For float32 the kernels therefore use a
rational approximation of tanh that compiles to plain multiply-adds and one division (so it
vectorises), and build σ from it; its largest absolute error is about 1e-7 — within float32
rounding of torch's own result. float64 is the precision path (gradcheck), so it uses libm.

    tanh(x) ≈ x·P(x²)/Q(x²) on |x| ≤ 7.9988 (±1 beyond, where float32 tanh is already ±1)
    σ(x)    = ½ + ½·tanh(x/2)

The coefficients are Eigen's float32 ``ptanh`` (MPL-2.0 Eigen, ``GenericPacketMathFunctions.h``).

Call :func:`tanh` and :func:`sigmoid` only from numba code; the implementation is chosen by the
argument's type at compile time.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload

_CLAMP = np.float32(7.99881172180175781)
_A1 = np.float32(4.89352455891786e-03)
_A3 = np.float32(6.37261928875436e-04)
_A5 = np.float32(1.48572235717979e-05)
_A7 = np.float32(5.12229709037114e-08)
_A9 = np.float32(-8.60467152213735e-11)
_A11 = np.float32(2.00018790482477e-13)
_A13 = np.float32(-2.76076847742355e-16)
_B0 = np.float32(4.89352518554385e-03)
_B2 = np.float32(2.26843463243900e-03)
_B4 = np.float32(1.18534705686654e-04)
_B6 = np.float32(1.19825839466702e-06)
_HALF = np.float32(0.5)


def tanh(x):
    """Hyperbolic tangent (numba only: rational approximation in float32, libm in float64)."""
    return math.tanh(x)


def sigmoid(x):
    """Logistic σ(x) = 1 / (1 + e^(−x)) (numba only; float32 via the fast tanh)."""
    return 1.0 / (1.0 + math.exp(-x))


@overload(tanh, inline="always")
def _tanh(x):
    if x == types.float32:

        def fast(x):
            x = min(max(x, -_CLAMP), _CLAMP)
            x2 = x * x
            p = x2 * _A13 + _A11
            p = x2 * p + _A9
            p = x2 * p + _A7
            p = x2 * p + _A5
            p = x2 * p + _A3
            p = x2 * p + _A1
            q = x2 * _B6 + _B4
            q = x2 * q + _B2
            q = x2 * q + _B0
            return x * p / q

        return fast
    if isinstance(x, types.Float):
        return lambda x: math.tanh(x)
    return None


@overload(sigmoid, inline="always")
def _sigmoid(x):
    if x == types.float32:
        return lambda x: _HALF + _HALF * tanh(_HALF * x)
    if isinstance(x, types.Float):
        return lambda x: 1.0 / (1.0 + math.exp(-x))
    return None
