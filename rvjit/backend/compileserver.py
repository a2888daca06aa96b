"""Optimising hot code in a separate process, so LLVM's work never holds up the guest.

llvmlite serialises every call into LLVM behind one process-wide lock. Optimising a batch of hot
regions holds it for tens or hundreds of milliseconds at a time, and the guest's thread needs it
whenever a block wants a new instruction handler: in a Debian boot it waited 6.4 s for it (353
times). So the optimiser runs here, in a child process with its own LLVM: it takes LLVM IR text
and returns the relocatable object MCJIT would have made of it, and the guest's process only
links that object (Engine.load_object), which takes the lock for a moment.

Protocol on the child's stdin/stdout: a request is a 4-byte little-endian length and the IR text
(UTF-8); a reply is one status byte (0: object follows, 1: error text follows), a 4-byte length
and the payload. The child exits when its stdin closes (the parent ended).
"""
import os
import struct
import subprocess
import sys
import threading

OK, ERROR = 0, 1
_LENGTH = struct.Struct("<I")


def _read_exactly(stream, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) != n:
        raise EOFError("compile server closed its pipe")
    return data


class CompileServer:
    """The parent's end: compile(ir_text) -> object bytes, from any one thread at a time."""

    def __init__(self, opt_level: int):
        self.opt_level = opt_level
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self):
        """Start the child now (it takes a few tenths of a second to load LLVM, better spent
        before the first hot region than after)."""
        with self._lock:
            self._start()

    def _start(self):
        if self._proc is None or self._proc.poll() is not None:
            # the child imports this very rvjit, installed or not
            package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(
                [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "rvjit.backend.compileserver", str(self.opt_level)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                start_new_session=True)         # Ctrl-C at the terminal is the parent's to handle

    def compile(self, ir_text: str) -> bytes:
        with self._lock:
            self._start()
            data = ir_text.encode()
            self._proc.stdin.write(_LENGTH.pack(len(data)) + data)
            self._proc.stdin.flush()
            status = _read_exactly(self._proc.stdout, 1)[0]
            payload = _read_exactly(self._proc.stdout, _LENGTH.unpack(_read_exactly(self._proc.stdout, 4))[0])
        if status != OK:
            raise RuntimeError(f"compile server: {payload.decode(errors='replace')}")
        return payload

    def close(self):
        with self._lock:
            if self._proc is not None:
                try:
                    self._proc.stdin.close()
                except OSError:                 # it had died already
                    pass
                self._proc.wait()
                self._proc = None


_shared: dict[int, CompileServer] = {}


def shared(opt_level: int) -> CompileServer:
    """The process's compile server for an optimisation level (started by the first background
    compiler that uses it)."""
    if opt_level not in _shared:
        _shared[opt_level] = CompileServer(opt_level)
    return _shared[opt_level]


def started(opt_level: int) -> CompileServer | None:
    """The process's compile server for an optimisation level if one has been started (work
    that is only worth doing where it costs the guest nothing asks here)."""
    server = _shared.get(opt_level)
    return server if server is not None and server._proc is not None else None


def serve(opt_level: int, requests, replies):
    from .engine import Engine
    engine = Engine(opt_level, cache_dir=None)
    while True:
        head = requests.read(4)
        if len(head) < 4:
            return
        ir_text = _read_exactly(requests, _LENGTH.unpack(head)[0]).decode()
        try:
            status, payload = OK, engine.object_code(ir_text)
        except Exception as e:          # reported to the parent, which compiles it itself
            status, payload = ERROR, f"{type(e).__name__}: {e}".encode()
        replies.write(bytes([status]) + _LENGTH.pack(len(payload)) + payload)
        replies.flush()


if __name__ == "__main__":
    try:
        serve(int(sys.argv[1]), sys.stdin.buffer, sys.stdout.buffer)
    except (BrokenPipeError, EOFError):     # the parent went away mid-request
        pass
    os._exit(0)                             # nothing to flush to a parent that may be gone
