"""Scalar activations for the compiled kernels: fast in float32, exact in float64.

Without Intel SVML, numba lowers ``math.tanh``/``math.exp`` to scalar libm calls, which stops the
gate loops from vectorising (several times slower). For float32 the kernels therefore use a
rational approximation of tanh that compiles to plain multiply-adds and one division (so it
vectorises), and build σ from it; its largest absolute error is about 1e-7 — within float32
rounding of torch's own result. float64 is the precision path (gradcheck), so it uses libm.

    tanh(x) ≈ x·P(x²)/Q(x²) on |x| ≤ 7.9988 (±1 beyond, where float32 tanh is already ±1)
    σ(x)    = ½ + ½·tanh(x/2)

The coefficients are Eigen's float32 ``ptanh`` (MPL-2.0 Eigen, ``GenericPacketMathFunctions.h``).

:func:`exp` is the same idea for e^x (the minLSTM gates need it): in float32 Cephes' ``expf``
(range reduction x = n ln 2 + r, a degree-6 polynomial for e^r, 2^n built from its bits), about
1 ulp, inputs clamped to [−87, 88] (e^−87 ≈ 1.6e−38 is the smallest value it returns); libm in
float64.

Call :func:`tanh` and :func:`sigmoid` only from numba code; the implementation is chosen by the
argument's type at compile time.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload

from rnnkit.kernels.cpu._native import float32_from_bits

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
# Cephes expf: ln 2 split in two for an exact range reduction, and the polynomial of e^r.
_EXP_LO, _EXP_HI = np.float32(-87.0), np.float32(88.0)
_LOG2E = np.float32(1.44269504088896341)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
_P0, _P1 = np.float32(1.9875691500e-4), np.float32(1.3981999507e-3)
_P2, _P3 = np.float32(8.3334519073e-3), np.float32(4.1665795894e-2)
_P4, _P5 = np.float32(1.6666665459e-1), np.float32(5.0000001201e-1)
_ONE = np.float32(1.0)


def tanh(x):
    """Hyperbolic tangent (numba only: rational approximation in float32, libm in float64)."""
    return math.tanh(x)


def exp(x):
    """e^x (numba only: Cephes' polynomial in float32, libm in float64)."""
    return math.exp(x)


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


@overload(exp, inline="always")
def _exp(x):
    if x == types.float32:

        def fast(x):
            x = min(max(x, _EXP_LO), _EXP_HI)
            n = math.floor(x * _LOG2E + _HALF)
            r = x - n * _LN2_HI - n * _LN2_LO
            p = r * _P0 + _P1
            p = r * p + _P2
            p = r * p + _P3
            p = r * p + _P4
            p = r * p + _P5
            p = p * r * r + r + _ONE
            return p * float32_from_bits((np.int32(n) + np.int32(127)) << np.int32(23))

        return fast
    if isinstance(x, types.Float):
        return lambda x: math.exp(x)
    return None
