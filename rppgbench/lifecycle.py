"""Interruption of a run: SIGTERM handled like Ctrl-C, so `run.json` can say `interrupted` before exit."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop (SIGINT or SIGTERM); `signal_number` says which."""

    def __init__(self, signal_number: int = signal.SIGINT) -> None:
        super().__init__(f"stopped by {signal.Signals(signal_number).name}")
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as shells report a process stopped by a signal."""
        return 128 + int(self.signal_number)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises `Interrupted` (as SIGINT raises KeyboardInterrupt); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
