"""What something looks like every 20 ms while a test runs a command: `Watch(look).seen`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Watch:
    """Calls `look()` every `every` seconds from a thread, while in its `with` block; `seen` holds the answers."""

    def __init__(self, look: Callable[[], Any], every: float = 0.02) -> None:
        self.look, self.every, self.seen = look, every, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.seen.append(self.look())
            time.sleep(self.every)

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
