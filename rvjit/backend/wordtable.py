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

import numpy as np

from . import objcache

# Reading the table and putting it in the scanner's costs ~0.1 s and ~40 MiB for the ~140,000
# words a cache directory gathers, and saves ~80 us a word decoded: runs that have decoded this
# many words themselves read it (a kernel boot, which decodes some 90,000, paid 0.16 s for
# waiting until 2,000; a compute benchmark decodes a few hundred and is better off without it);
# only runs that learnt SAVE_AFTER_NEW_WORDS write it.
LOAD_AFTER_WORDS = 1000
SAVE_AFTER_NEW_WORDS = 1000


def _signature() -> str:
    return "rvjit word table 2 " + objcache.source_signature()


TAIL_BYTES = 16                   # a WordInfo's packed record operands
END_CODES = {None: 0, "jump": 1, "block": 2}
END_NAMES = {code: name for name, code in END_CODES.items()}


def contained(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Whether each of values is in pool (np.isin's sorting path imports numpy.ma, 25 ms)."""
    if not len(pool):
        return np.zeros(len(values), dtype=bool)
    pool = np.sort(pool)
    at = np.minimum(np.searchsorted(pool, values), len(pool) - 1)
    return pool[at] == values


class Columns:
    """Words and their WordInfo fields as arrays (a row per word): what is saved, and what the
    block scanner puts in its table in one go (a dict of 100,000 tuples took a quarter of a
    second to read and walk; arrays take milliseconds)."""

    def __init__(self, keys: list, arrays: dict):
        self.keys = keys                  # handler keys; arrays["key"] indexes this list
        self.arrays = arrays              # raw, key, length, end, fp, imm; tail: (rows, TAIL_BYTES)

    def __len__(self):
        return len(self.arrays["raw"])

    @classmethod
    def of(cls, words: dict) -> "Columns":
        """From {raw: WordInfo fields}."""
        keys: list = []
        index: dict = {}
        rows = list(words.items())
        key_col = []
        for _, info in rows:
            i = index.get(info[0])
            if i is None:
                i = index[info[0]] = len(keys)
                keys.append(info[0])
            key_col.append(i)
        arrays = {
            "raw": np.array([raw for raw, _ in rows], dtype=np.uint64),
            "key": np.array(key_col, dtype=np.uint32),
            "length": np.array([info[1] for _, info in rows], dtype=np.uint8),
            "end": np.array([END_CODES[info[2]] for _, info in rows], dtype=np.uint8),
            "fp": np.array([bool(info[5]) for _, info in rows], dtype=np.uint8),
            "imm": np.array([info[4] for _, info in rows], dtype=np.uint64),
            "tail": np.frombuffer(b"".join(info[3] for _, info in rows), dtype=np.uint8).reshape(len(rows), -1)
            if rows else np.zeros((0, TAIL_BYTES), dtype=np.uint8),
        }
        return cls(keys, arrays)

    def merged(self, other: "Columns") -> "Columns":
        """These rows and other's, other's keys re-indexed into this key list."""
        index = {k: i for i, k in enumerate(self.keys)}
        remap = np.array([index.setdefault(k, len(index)) for k in other.keys], dtype=np.uint32)
        arrays = {name: np.concatenate([self.arrays[name], other.arrays[name]]) for name in self.arrays}
        if len(other):
            arrays["key"][len(self):] = remap[other.arrays["key"]]
        return Columns(list(index), arrays)

    def info(self, row: int) -> tuple:
        """The WordInfo fields of one row."""
        a = self.arrays
        return (self.keys[int(a["key"][row])], int(a["length"][row]), END_NAMES[int(a["end"][row])],
                a["tail"][row].tobytes(), int(a["imm"][row]), bool(a["fp"][row]))


class WordTable:
    """The saved table for this rvjit: its Columns, and as a dict (raw -> WordInfo fields) the
    words whose handler is their own (threaded.word_info looks those up; the block scanner
    takes the others from the columns)."""

    def __init__(self, directory: str | None):
        self._cache = objcache.ObjectCache(directory, _signature()) if directory else None
        self._key = self._cache.key("word table") if self._cache else None
        self.columns = Columns.of({})
        if self._cache is not None:
            payload = self._cache.load(self._key)
            if payload is not None:
                try:
                    keys, arrays = pickle.loads(payload)
                    columns = Columns(list(keys), dict(arrays))
                    sizes = {len(v) for v in arrays.values()}
                    if len(sizes) == 1 and set(arrays) == set(self.columns.arrays) and \
                            (not len(columns) or int(columns.arrays["key"].max()) < len(keys)):
                        self.columns = columns
                except Exception:          # damaged in a way the checksum could not see
                    pass
        self.loaded = len(self.columns)
        keys = self.columns.keys
        own = [i for i, k in enumerate(keys) if not isinstance(k, str)]
        rows = np.flatnonzero(contained(self.columns.arrays["key"], np.array(own, dtype=np.uint32))) if own else []
        self.words: dict = {int(self.columns.arrays["raw"][r]): self.columns.info(r) for r in rows}

    def save(self, learnt: dict):
        """Merge what this run learnt (raw -> WordInfo, None for words without a handler)."""
        if self._cache is None:
            return
        new = {raw: tuple(info) for raw, info in learnt.items() if info is not None}
        if not new:
            return
        raws = np.fromiter(new, dtype=np.uint64, count=len(new))
        fresh = raws[~contained(raws, self.columns.arrays["raw"])]
        if len(fresh) < SAVE_AFTER_NEW_WORDS:
            return
        self.columns = self.columns.merged(Columns.of({int(r): new[int(r)] for r in fresh}))
        payload = (self.columns.keys, self.columns.arrays)
        self._cache.store(self._key, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL), trim=False)


_table: WordTable | None = None


def loaded() -> WordTable | None:
    """The process's table if it has been read."""
    return _table


def table(learnt: dict) -> WordTable:
    """The process's table, read on first use; saved at exit with what `learnt` then holds."""
    global _table
    if _table is None:
        _table = WordTable(objcache.default_directory())
        atexit.register(_table.save, learnt)
    return _table
