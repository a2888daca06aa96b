"""Compiled object code kept on disk, so a second run skips LLVM for code it has compiled before.

Generated code is position-independent and refers to nothing in the process by address (it
reaches helpers, tables and guest RAM through the hart state), so an object file compiled in one
run links into another. The key is a hash of everything the object depends on: the LLVM IR text
(which contains the guest code, lowered), the optimisation level, LLVM's version and the host
CPU and its features.

Each file carries a magic line and a SHA-256 of its payload: a truncated, corrupt or foreign file
is ignored (and replaced), never handed to the linker. Files are written to a temporary name and
renamed into place, so processes sharing the directory never see a partial file.

Location: $RVJIT_CACHE_DIR, else $XDG_CACHE_HOME/rvjit/objects, else ~/.cache/rvjit/objects;
RVJIT_NO_CACHE=1 turns the cache off. rvjit's own compiled instruction handlers (those of whole
definitions, which no guest's code is in: backend.threaded) are kept apart, in the handler
library ($RVJIT_LIBRARY_DIR, else .../rvjit/library beside the objects), like bytecode Python
keeps for its modules: an empty translation cache (a new --cache-dir) does not compile them
again. RVJIT_NO_CACHE=1 turns that off too.

The directory is bounded ($RVJIT_CACHE_SIZE, default 512 MiB; `--cache-size`): a process that
finds it over the bound after a store deletes the least recently used objects (a hit refreshes a
file's modification time) until it is under three quarters of it. Every process counts the
directory itself, so several of them sharing it keep to the bound together; one that loses a
file to another's eviction just compiles again. Counting takes a quarter of a second (50,000
files), so a process counts after every tenth of the bound it stores, the first time after a
random part of a tenth: processes that store a little each (a few objects, a record) count as
often together as one that stores as much.
"""
import functools
import hashlib
import os
import random
import tempfile

MAGIC = b"rvjit-object-1\n"
DIGEST = 32
DEFAULT_SIZE_LIMIT = 512 << 20
LOW_WATER = 0.75              # eviction goes down to this share of the bound


def size_limit() -> int:
    text = os.environ.get("RVJIT_CACHE_SIZE")
    return parse_size(text) if text else DEFAULT_SIZE_LIMIT


def parse_size(text: str) -> int:
    """QEMU-style sizes: 64M, 2G, 512K, or a bare number of bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = units.get(t[-1:], 1)
    try:
        value = int(t[:-1] if t[-1:] in units else t)
    except ValueError:
        raise ValueError(f"invalid size '{text}': use a number with K, M or G, like 256M") from None
    if value <= 0:
        raise ValueError(f"invalid size '{text}': must be positive")
    return value * scale


@functools.cache
def source_signature() -> str:
    """A hash of every source file of rvjit (a few milliseconds, once): what is kept between
    runs that depends on rvjit's own code (not only on the LLVM IR) is keyed by it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    h = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(f for f in files if f.endswith(".py")):
            h.update(name.encode())
            with open(os.path.join(folder, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def _user_cache(name: str) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rvjit", name)


def default_directory() -> str | None:
    """The translation cache: objects made from guest code, and what runs learnt of it."""
    if os.environ.get("RVJIT_NO_CACHE"):
        return None
    return os.environ.get("RVJIT_CACHE_DIR") or _user_cache("objects")


def library_directory() -> str | None:
    """The handler library: objects made from rvjit's instruction definitions alone."""
    if os.environ.get("RVJIT_NO_CACHE"):
        return None
    return os.environ.get("RVJIT_LIBRARY_DIR") or _user_cache("library")


class _DirectoryUsage:
    def __init__(self, limit: int):
        self.size = 0                   # bytes of objects, as last counted plus stored since
        self.stored_since_count = random.randrange(limit // 10 + 1)


_usage: dict[str, _DirectoryUsage] = {}


class ObjectCache:
    def __init__(self, directory: str, signature: str, limit: int | None = None):
        """signature: what else the objects depend on (LLVM version, CPU, options)."""
        self.directory = directory
        self.signature = signature.encode()
        self.limit = size_limit() if limit is None else limit
        self.hits = self.misses = self.rejected = self.evicted = 0
        # Every engine of a process has a cache on the same directory: they share one count
        # of it (counting a full directory stats tens of thousands of files, ~0.5 s).
        if directory not in _usage:
            _usage[directory] = _DirectoryUsage(self.limit)
        self._usage = _usage[directory]

    def key(self, ir_text: str) -> str:
        h = hashlib.sha256(self.signature)
        h.update(b"\0")
        h.update(ir_text.encode())
        return h.hexdigest()

    def path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key + ".o")

    def load(self, key: str) -> bytes | None:
        try:
            with open(self.path(key), "rb") as f:
                blob = f.read()
        except OSError:
            self.misses += 1
            return None
        head, digest, payload = blob[:len(MAGIC)], blob[len(MAGIC):len(MAGIC) + DIGEST], blob[len(MAGIC) + DIGEST:]
        if head != MAGIC or not payload or hashlib.sha256(payload).digest() != digest:
            self.rejected += 1
            self.misses += 1
            try:
                os.unlink(self.path(key))
            except OSError:
                pass
            return None
        self.hits += 1
        try:
            os.utime(self.path(key))       # recently used: evicted last
        except OSError:
            pass
        return payload

    def store(self, key: str, payload: bytes, trim: bool = True):
        """trim=False: leave counting the directory to the next store that does (a small file
        written at exit need not pay for a scan of tens of thousands of files)."""
        path = self.path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, path)
        except OSError:
            return          # a cache that cannot be written only costs speed
        usage = self._usage
        usage.size += len(payload) + len(MAGIC) + DIGEST
        usage.stored_since_count += len(payload)
        if not trim:
            return
        # Other processes fill the directory too: count it again after every tenth of the bound
        # stored by this process, and whenever this process's own count says it is over.
        if usage.size > self.limit or usage.stored_since_count >= self.limit // 10:
            usage.size = self._trim()
            usage.stored_since_count = 0

    def _entries(self) -> list[tuple[float, int, str]]:
        """(last use, size, path) of every object file in the directory."""
        found = []
        try:
            subdirs = os.scandir(self.directory)
        except OSError:
            return found
        with subdirs:
            for sub in subdirs:
                if not sub.is_dir():
                    continue
                try:
                    with os.scandir(sub.path) as files:
                        for f in files:
                            if f.name.endswith(".o"):
                                st = f.stat()
                                found.append((st.st_mtime, st.st_size, f.path))
                except OSError:
                    continue
        return found

    def _trim(self) -> int:
        """Delete least recently used objects while over the bound; returns the size left."""
        entries = self._entries()
        total = sum(size for _, size, _ in entries)
        if total <= self.limit:
            return total
        for _, size, path in sorted(entries):
            if total <= self.limit * LOW_WATER:
                break
            try:
                os.unlink(path)
            except OSError:
                continue
            total -= size
            self.evicted += 1
        return total
