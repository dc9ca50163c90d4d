"""One BLAS thread for the small matrix products of the fits.

The products here are small: BLAS threads cost more than they give (measured 3x slower
with 2 threads on 2 cores, and 30x slower when the cores are busy). The controller is made
once, because making one scans the loaded libraries (~5 ms).
"""

from __future__ import annotations

import contextlib

from threadpoolctl import ThreadpoolController

_controller: list[ThreadpoolController] = []


def one_blas_thread() -> contextlib.AbstractContextManager:
    """A context in which BLAS uses one thread."""
    if not _controller:
        _controller.append(ThreadpoolController())
    return _controller[0].limit(limits=1, user_api="blas")
