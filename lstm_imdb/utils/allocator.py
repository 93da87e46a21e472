"""Keep large freed blocks inside the process (glibc malloc), so that training does not spend half its
time in the kernel.

glibc serves allocations above its mmap threshold (at most 32 MB by its dynamic rule) with fresh `mmap`
calls and gives them back with `munmap` when freed. A training step of the tutorial model allocates
tensors above that size (a 128 x 300 x 512 gate buffer is 78 MB) and frees them again, so every step
maps, page-faults and unmaps them anew. Raising the mmap and trim thresholds to 1 GiB keeps such blocks
in the heap for reuse. It is done once, by `lstm_imdb.cli.startup()`, which every entry point (train,
evaluate, predict, bench, sweeps) and the notebooks call first; `LSTM_IMDB_MALLOC=system` leaves malloc as it is
(the bench uses that to show the difference). Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

ENV_VAR = "LSTM_IMDB_MALLOC"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h
KEEP_BYTES = 1 << 30

tuned = False  # whether this process's malloc was tuned (recorded in environment.json)


def keep_large_blocks(threshold: int = KEEP_BYTES) -> bool:
    """Raise glibc's mmap and trim thresholds to `threshold` bytes; True if both took effect."""
    global tuned
    if os.environ.get(ENV_VAR, "").lower() == "system" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, threshold))
    return tuned
