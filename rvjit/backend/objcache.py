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
RVJIT_NO_CACHE=1 turns the cache off.
"""
import hashlib
import os
import tempfile

MAGIC = b"rvjit-object-1\n"
DIGEST = 32


def default_directory() -> str | None:
    if os.environ.get("RVJIT_NO_CACHE"):
        return None
    explicit = os.environ.get("RVJIT_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rvjit", "objects")


class ObjectCache:
    def __init__(self, directory: str, signature: str):
        """signature: what else the objects depend on (LLVM version, CPU, options)."""
        self.directory = directory
        self.signature = signature.encode()
        self.hits = self.misses = self.rejected = 0

    def key(self, ir_text: str) -> str:
        h = hashlib.sha256(self.signature)
        h.update(b"\0")
        h.update(ir_text.encode())
        return h.hexdigest()

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key + ".o")

    def load(self, key: str) -> bytes | None:
        try:
            with open(self._path(key), "rb") as f:
                blob = f.read()
        except OSError:
            self.misses += 1
            return None
        head, digest, payload = blob[:len(MAGIC)], blob[len(MAGIC):len(MAGIC) + DIGEST], blob[len(MAGIC) + DIGEST:]
        if head != MAGIC or not payload or hashlib.sha256(payload).digest() != digest:
            self.rejected += 1
            self.misses += 1
            try:
                os.unlink(self._path(key))
            except OSError:
                pass
            return None
        self.hits += 1
        return payload

    def store(self, key: str, payload: bytes):
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, path)
        except OSError:
            pass            # a cache that cannot be written only costs speed
