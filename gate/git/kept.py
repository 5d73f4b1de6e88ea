"""A few copies of a kept helper process, each lent to one thread at a time."""

from __future__ import annotations

import queue
import subprocess
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from gate.git.cmd import stop_process


class Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=Closable)


class KeptPool(Generic[T]):
    """Up to `size` helpers made by `make` on demand; a thread waits only when all are lent."""

    def __init__(self, make: Callable[[], T], size: int) -> None:
        self._make = make
        self._size = size
        self._idle: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._made: list[T] = []
        self._guard = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[T]:
        helper = self._take()
        try:
            yield helper
        finally:
            self._idle.put(helper)

    def _take(self) -> T:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._guard:
            if len(self._made) < self._size:
                self._made.append(self._make())
                return self._made[-1]
        return self._idle.get()

    def helpers(self) -> list[T]:
        """Every helper made so far, lent or idle."""
        with self._guard:
            return list(self._made)

    def close(self) -> None:
        """Close every helper; each starts afresh if it is used again."""
        for helper in self.helpers():
            helper.close()


class KeptProcess:
    """One long-lived git process on a repository: started on first use, and again after it
    died; stopped when closed or when its owner is collected. Subclasses talk to it while
    holding `_lock`."""

    def __init__(self, repo: Path, command: list[str]) -> None:
        self.repo = repo
        self._command = ["git", "-C", str(repo), *command]
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[..., KeptProcess] | None = None
        self._lock = threading.Lock()  # one exchange at a time, and against close()

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._finalizer = weakref.finalize(self, stop_process, self._process)
        return self._process

    @property
    def pid(self) -> int | None:
        running = self._process
        return None if running is None or running.poll() is not None else running.pid

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # stops the process, once
        self._process = self._finalizer = None
