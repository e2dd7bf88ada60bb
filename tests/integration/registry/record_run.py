"""A stand-in for chef-solo in the watch tests: records each run in LOG, optionally slowly.

Writes "start CHANGED" and "end" lines, and "overlap" if another run is still going (found
through a lock file made with O_EXCL), so tests can see runs and prove none overlapped.
"""

import os
import sys
import time

log, seconds = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
lock = log + ".lock"
try:
    os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
except FileExistsError:
    with open(log, "a") as handle:
        handle.write("overlap\n")
    sys.exit(0)
try:
    with open(log, "a") as handle:
        handle.write(f"start {os.environ.get('INFRA_CHANGED_SERVICES', '')}\n")
    time.sleep(seconds)
    with open(log, "a") as handle:
        handle.write("end\n")
finally:
    os.unlink(lock)
