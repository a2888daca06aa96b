"""Compiling hot code on a second thread while the guest keeps running its first-tier code.

The optimising itself happens in a child process (compileserver): LLVM there holds neither the
GIL nor llvmlite's lock of this process, so on a machine with two cores optimising a hot region
costs the guest almost nothing. This thread waits for the object and links it; the guest runs
the threaded version until then, and the run loop installs finished jobs when it is next back
in Python.
"""
import collections
import itertools
import queue
import sys
import threading
import time


class CompileJob:
    def __init__(self, ir_text: str | None, names: list[str], payload, make_ir=None, link_only: bool = False,
                 key_text: str | None = None):
        """ir_text, or make_ir() to produce it on the compiler thread: writing a region's LLVM IR
        is Python work the guest's thread need not wait for (the compiler thread does it while
        the guest runs native code, which releases the GIL). link_only: compiled is None unless
        the disk cache has the object (nothing is optimised). key_text: what the IR is made from,
        the disk cache's key instead of the IR itself, so an object found there is linked
        without writing the IR at all (a warm Debian boot wrote 270 regions' IR for 1.1 s of
        this thread's time, taking the GIL from the guest's callbacks)."""
        self._ir_text, self.names, self.payload = ir_text, names, payload
        self.make_ir = make_ir
        self.link_only = link_only
        self.key_text = key_text
        self.compiled = None
        self.error: BaseException | None = None
        self.seconds = 0.0

    @property
    def ir_text(self) -> str:
        if self._ir_text is None:
            self._ir_text = self.make_ir()
        return self._ir_text


class BackgroundCompiler:
    def __init__(self, engine, server=None):
        """server: a compileserver.CompileServer to optimise in (None: in this process)."""
        self.engine = engine
        self.server = server
        if server is not None:
            server.start()
        # link-only jobs first: each takes a millisecond, an optimising one can take a second
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        # finished jobs: appended by the compiler thread, taken by the run loop (deque appends
        # and pops are atomic, and checking an empty deque costs nothing: the run loop asks
        # after every trip into native code)
        self._done: collections.deque = collections.deque()
        self._done_event = threading.Event()
        self._thread: threading.Thread | None = None
        self.in_flight = 0
        self.optimising = 0         # of in_flight, jobs that are not link-only

    def submit(self, job: CompileJob):
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="rvjit-compiler", daemon=True)
            self._thread.start()
        self.in_flight += 1
        self.optimising += not job.link_only
        self._jobs.put((not job.link_only, next(self._order), job))

    def finished(self) -> list[CompileJob]:
        """Jobs completed since the last call (never blocks)."""
        out = []
        while self._done:
            out.append(self._done.popleft())
        self._count_done(out)
        return out

    def _count_done(self, jobs):
        self.in_flight -= len(jobs)
        self.optimising -= sum(not job.link_only for job in jobs)

    def wait(self, timeout: float | None = None) -> list[CompileJob]:
        """Block until every submitted job is done (or timeout); returns them."""
        deadline = None if timeout is None else time.monotonic() + timeout
        out = []
        while self.in_flight > len(out):
            while self._done:
                out.append(self._done.popleft())
            if self.in_flight == len(out):
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            self._done_event.wait(0.01 if left is None else min(left, 0.01))
            self._done_event.clear()
        self._count_done(out)
        return out

    def _work(self):
        while True:
            *_, job = self._jobs.get()
            t0 = time.perf_counter()
            try:
                job.compiled = self._compile(job)
            except BaseException as e:          # reported on the main thread, never lost
                job.error = e
            job.seconds = time.perf_counter() - t0
            self._done.append(job)
            self._done_event.set()

    def _compile(self, job: CompileJob):
        if job.key_text is not None:
            return compile_described(self.engine, job, self._object_code)
        linked = self.engine.link_cached(job.ir_text, job.names)
        if linked is not None or job.link_only:
            return linked
        return self.engine.load_object(job.ir_text, job.names, self._object_code(job.ir_text))

    def _object_code(self, ir_text: str) -> bytes:
        """The optimised object: from the compile server, or made here if there is none (or it
        failed)."""
        if self.server is not None:
            try:
                return self.server.compile(ir_text)
            except (OSError, EOFError, RuntimeError) as e:
                print(f"rvjit: compile server failed ({e}); optimising in this process", file=sys.stderr)
                self.server = None
        return self.engine.object_code(ir_text)


def compile_described(engine, job: CompileJob, object_code) -> object | None:
    """A job with a key_text: link its object from the disk cache, or (unless link_only) make
    it with object_code(ir_text), keep it there and link it (Engine.compile_described)."""
    return engine.compile_described(job.key_text, job.names, lambda: object_code(job.ir_text), job.link_only)
