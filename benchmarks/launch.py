"""Start a command and report how it ran: the benchmark starts every measured command through
this small process, so that the command's peak memory is its own.

    python -S launch.py FD COMMAND...    # writes "STATUS PEAK_KIB CPU_SECONDS WALL_SECONDS WRITTEN_BYTES" to FD

Linux counts the memory of the process a child was started from into the child's maximum
resident set size; the benchmark's own process grows (it writes a 10,000-group nodes.json), and
its children would report at least that much. This one stays a few megabytes. The wall time is
measured here too, from just before the command starts to its end, so this start-up is not in it.
WRITTEN_BYTES is what the command and its children wrote to the file system (the kernel's count of
blocks written, `ru_oublock`, times 512): for an apply, its state and journal, and the ops
repository's files.
"""

import os
import sys
import time

fd = int(sys.argv[1])
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
os.write(fd, f"{status} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime} {time.perf_counter() - started} "
            f"{usage.ru_oublock * 512}".encode())
