"""A hint to the processor to start loading an array element it will soon need.

The market's passes over a firm's customers read people's arrays by person id
(contagion clocks, what the market sees); once customers have moved between firms
those ids are scattered over arrays far larger than the cache, and each read would wait
for memory. Asking for the element a few customers ahead (LLVM's ``llvm.prefetch``)
lets the wait overlap the work. A hint only: it changes no value.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch"]


@intrinsic
def prefetch(typingctx, array, index):
    """Prefetch ``array[index]`` for reading (compiled code only; no bounds check, and
    none needed: a prefetch of any address is harmless)."""

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
