"""A thread that does a device's host file I/O, so the CPU thread never waits on the disk.

The CPU thread submits jobs (plain callables) in order; the worker runs them one at a time in that
order (so a flush comes after the writes before it) and posts each result, or the OSError it
raised, to a completion list, then sets the machine's wakeup event so a hart sleeping in wfi gets
back to `poll()`. Completion callbacks run only on the CPU thread, in `finish()`: they are the
only ones that touch guest RAM and interrupt lines.
"""
import threading
from collections import deque
from queue import SimpleQueue

_STOP = object()


class IoWorker:
    def __init__(self, name: str, wakeup: threading.Event):
        self.wakeup = wakeup
        self._jobs: SimpleQueue = SimpleQueue()
        self._done: deque = deque()          # (on_done, result); appends and pops are atomic
        self.in_flight = 0                   # CPU thread only
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job, on_done):
        """Run job() on the worker; later call on_done(result) on the CPU thread (finish())."""
        self.in_flight += 1
        self._jobs.put((job, on_done))

    def finish(self) -> int:
        """CPU thread: run the callbacks of finished jobs, in submission order; how many ran."""
        count = 0
        while self._done:
            on_done, result = self._done.popleft()
            self.in_flight -= 1
            on_done(result)
            count += 1
        return count

    def has_finished(self) -> bool:
        return bool(self._done)

    def close(self, timeout: float = 30.0):
        """Let queued jobs finish (writes the guest already issued reach the file), then stop."""
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join(timeout)

    def _run(self):
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            job, on_done = item
            try:
                result = job()
            except OSError as e:
                result = e
            self._done.append((on_done, result))
            self.wakeup.set()
