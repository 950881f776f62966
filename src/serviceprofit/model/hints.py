"""A hint to the processor to start loading an array element it will soon need.

The market reads people's arrays by person id: a firm's passes over its customers
(contagion clocks, what the market sees) and a chooser's look at their neighbours. Once
customers have moved between firms, and always for neighbours, those ids are scattered
over arrays far larger than the cache, and each read would wait for memory. Asking for
an element early (LLVM's ``llvm.prefetch``) lets the waits overlap. A hint only: it
changes no value, and in Python (the Mesa backend) it does nothing.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = ["prefetch"]


def prefetch(array, index) -> None:
    """Ask for ``array[index]`` to be read soon (compiled code); nothing in Python."""


@overload(prefetch, inline="always")
def _prefetch_compiled(array, index):
    def impl(array, index):
        _llvm_prefetch(array, np.intp(index))

    return impl


@intrinsic
def _llvm_prefetch(typingctx, array, index):
    """``llvm.prefetch`` of ``array[index]`` for reading (no bounds check, and none
    needed: a prefetch of any address is harmless)."""

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, view, [args[1]], wraparound=False
        )
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]),
            "llvm.prefetch.p0",
        )
        # read (0), high temporal locality (3), data cache (1)
        builder.call(
            hint,
            [
                builder.bitcast(pointer, byte_pointer),
                ir.Constant(int32, 0),
                ir.Constant(int32, 3),
                ir.Constant(int32, 1),
            ],
        )
        return context.get_dummy_value()

    return types.void(array, types.intp), codegen
