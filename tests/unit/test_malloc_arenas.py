"""infra runs with at most two malloc arenas where the C library is glibc (infra/cli/app.py,
fewer_malloc_arenas): threads that allocate at once no longer each keep an arena of freed memory.
Counted with glibc's own malloc_info, in a fresh process whose threads allocate at the same time."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

COUNT_HEAPS = """
import ctypes, sys, threading
from infra.cli.app import fewer_malloc_arenas
if sys.argv[1] == "fewer":
    fewer_malloc_arenas()
libc = ctypes.CDLL(None)
start, kept = threading.Barrier(8), []
def allocate():
    start.wait()
    kept.append([bytearray(600) for _ in range(20000)])  # C allocations past Python's small-object pools
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
buffer, size = ctypes.c_char_p(), ctypes.c_size_t()
libc.open_memstream.restype = ctypes.c_void_p
stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(buffer.value.decode().count("<heap nr="))
"""


def heaps(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT_HEAPS, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "malloc_info"), reason="glibc only")
def test_threads_that_allocate_at_once_share_at_most_two_arenas():
    assert heaps("fewer") <= 2 < heaps("as-is")
