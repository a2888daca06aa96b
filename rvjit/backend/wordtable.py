"""What the threaded tier learnt about instruction words, kept between runs.

Decoding a word the first time (definition, operands, handler key, packed record operands) costs
about 10 us of Python, and a Linux boot meets some 90,000 distinct words: a second of every boot.
None of it depends on where the word is or what else runs, only on rvjit's own instruction
definitions, so the table (word -> threaded.WordInfo fields) is saved in the compiled-code cache
directory at exit and read back by the next run. It is keyed by rvjit's whole source, so a
changed rvjit never reads a stale table; a damaged file fails its checksum and is ignored
(objcache).
"""
import atexit
import pickle

from . import objcache

# Reading the table costs ~50 ms: only runs that have decoded this many words themselves (a
# kernel boots, a small program does not) read it, and only runs that learnt as many write it.
LOAD_AFTER_WORDS = 2000
SAVE_AFTER_NEW_WORDS = 1000


def _signature() -> str:
    return "rvjit word table 1 " + objcache.source_signature()


class WordTable:
    """The saved table for this rvjit: known(raw) -> WordInfo fields or None."""

    def __init__(self, directory: str | None):
        self._cache = objcache.ObjectCache(directory, _signature()) if directory else None
        self._key = self._cache.key("word table") if self._cache else None
        self.words: dict = {}
        if self._cache is not None:
            payload = self._cache.load(self._key)
            if payload is not None:
                try:
                    self.words = pickle.loads(payload)
                except Exception:          # damaged in a way the checksum could not see
                    self.words = {}
        self.loaded = len(self.words)

    def save(self, learnt: dict):
        """Merge what this run learnt (raw -> WordInfo, None for words without a handler)."""
        if self._cache is None:
            return
        new = {raw: tuple(info) for raw, info in learnt.items() if info is not None and raw not in self.words}
        if len(new) >= SAVE_AFTER_NEW_WORDS:
            self.words.update(new)
            self._cache.store(self._key, pickle.dumps(self.words, protocol=pickle.HIGHEST_PROTOCOL))


_table: WordTable | None = None


def table(learnt: dict) -> WordTable:
    """The process's table, read on first use; saved at exit with what `learnt` then holds."""
    global _table
    if _table is None:
        _table = WordTable(objcache.default_directory())
        atexit.register(_table.save, learnt)
    return _table
