"""Work handed to threads as they come free: one shared counter, taken atomically.

``prange`` splits its iterations among the threads before any starts, in equal blocks
(numba's OpenMP layer uses the static schedule, and ``set_parallel_chunksize`` only cuts
the blocks finer). That suits equal pieces of work on idle cores. An ensemble's runs are
not equal (a sweep's points differ in size and length, and replicates in how their firm
grows), and on a shared machine a core is sometimes taken away for a while: a thread
whose block is slow then finishes last while the others wait. Here each thread takes
the next piece of work from a shared counter when it is done with its last
(:func:`take`), so no thread waits while work is left.

Which thread runs a piece never changes what the piece computes (every draw is keyed by
run, purpose, week and agent), so the results are the same bits in any order.
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["take"]


@intrinsic
def take(typingctx, counter):
    """``counter[0]`` before adding one to it, as one atomic step (LLVM's ``atomicrmw
    add``): each call, on any thread, gets a number no other call gets. ``counter`` is
    a one-element int64 array."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, view, [context.get_constant(types.intp, 0)],
            wraparound=False,
        )  # fmt: skip
        one = context.get_constant(types.int64, 1)
        return builder.atomic_rmw("add", pointer, one, "seq_cst")

    return types.int64(counter), codegen
