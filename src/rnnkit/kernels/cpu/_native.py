"""Two numba intrinsics for calling C and Fortran BLAS from compiled code.

* :func:`data_ptr` turns an array (or a view of one) into a typed pointer to its first element,
  the form C functions declared with :class:`numba.types.ExternalFunction` take.
* :func:`stack_ref` stores a scalar in a stack slot of the calling function and returns a pointer
  to it: Fortran BLAS takes every argument by reference.

Both are plain LLVM code generation, so functions that use them can be cached to disk (unlike
functions that hold ctypes pointers).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def data_ptr(typingctx, arr):
    """``data_ptr(a)`` -> pointer to ``a``'s first element (``CPointer(a.dtype)``)."""
    if not isinstance(arr, types.Array):
        return None
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        return array.data

    return sig, codegen


@intrinsic
def stack_ref(typingctx, value):
    """``stack_ref(x)`` -> pointer to a copy of the scalar ``x`` in the caller's stack frame."""
    if not isinstance(value, (types.Integer, types.Float)):
        return None
    sig = types.CPointer(value)(value)

    def codegen(context, builder, signature, args):
        # alloca_once_value puts the slot in the entry block, so a call inside a loop reuses it.
        return cgutils.alloca_once_value(builder, args[0])

    return sig, codegen


# Options of every compiled kernel: fastmath lets the gate loops vectorise; error_model='numpy'
# drops the division-by-zero branch that otherwise blocks vectorisation; nogil lets the batch
# slices run on several threads; cache=True keeps the machine code on disk between processes.
KERNEL_OPTIONS = {"cache": True, "fastmath": True, "error_model": "numpy", "nogil": True}


@intrinsic
def pointer_from_address(typingctx, address, like):
    """``pointer_from_address(addr, a)`` -> ``addr`` as a pointer to ``a``'s element type.

    Lets compiled code read and write torch tensors in place given ``tensor.data_ptr()``, which
    costs far less from Python than converting the tensor to a numpy array.
    """
    if not isinstance(address, types.Integer) or not isinstance(like, types.Array):
        return None
    sig = types.CPointer(like.dtype)(address, like)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


@intrinsic
def float32_from_bits(typingctx, bits):
    """``float32_from_bits(i)`` -> the float32 whose IEEE-754 bit pattern is the low 32 bits of
    the integer ``i`` (a plain bit cast, which vectorises; :func:`.activations.exp` builds 2^n
    with it)."""
    if not isinstance(bits, types.Integer):
        return None
    sig = types.float32(bits)

    def codegen(context, builder, signature, args):
        value = args[0]
        width = signature.args[0].bitwidth
        i32 = ir.IntType(32)
        if width > 32:
            value = builder.trunc(value, i32)
        elif width < 32:
            value = builder.zext(value, i32)
        return builder.bitcast(value, ir.FloatType())

    return sig, codegen
