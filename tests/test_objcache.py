"""The on-disk cache of compiled objects (rvjit.backend.objcache) and the engine's use of it."""
import ctypes
import multiprocessing
import os
import random

import pytest

from rvjit.backend import objcache
from rvjit.backend.engine import Engine
from rvjit.backend.objcache import MAGIC, ObjectCache

ADD_IR = """define i64 @add_{n}(i64 %a, i64 %b) {{
  %r = add i64 %a, %b
  %s = mul i64 %r, {n}
  ret i64 %s
}}
"""


def _call(engine, n, a, b):
    cm = engine.compile(ADD_IR.format(n=n), [f"add_{n}"])
    fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(cm.addresses[f"add_{n}"])
    return fn(a, b)


def _file(cache, key):
    return cache.path(key)


def test_round_trip_and_rejection_of_damaged_files(tmp_path):
    cache = ObjectCache(str(tmp_path), "sig")
    key = cache.key("some ir")
    assert cache.load(key) is None
    cache.store(key, b"\x7fELF object bytes")
    assert cache.load(key) == b"\x7fELF object bytes"
    path = _file(cache, key)
    blob = open(path, "rb").read()
    for damaged in (blob[:-3], blob[:-1] + bytes([blob[-1] ^ 1]), b"garbage" + blob[7:], MAGIC):
        open(path, "wb").write(damaged)
        assert cache.load(key) is None
        assert not os.path.exists(path)           # dropped, to be rebuilt
    assert cache.rejected == 4


def test_key_depends_on_ir_and_signature(tmp_path):
    a, b = ObjectCache(str(tmp_path), "cpu A"), ObjectCache(str(tmp_path), "cpu B")
    assert a.key("ir") != b.key("ir") and a.key("ir") != a.key("ir2") and a.key("ir") == a.key("ir")


def test_second_engine_loads_the_object_and_it_runs(tmp_path):
    first = Engine(2, cache_dir=str(tmp_path))
    assert _call(first, 3, 4, 5) == 27
    assert first.cache.misses == 1 and first.cache.hits == 0
    second = Engine(2, cache_dir=str(tmp_path))
    assert _call(second, 3, 10, 1) == 33
    assert second.cache.hits == 1


def test_corrupt_object_is_recompiled(tmp_path):
    first = Engine(2, cache_dir=str(tmp_path))
    _call(first, 7, 1, 1)
    path = _file(first.cache, first.cache.key(ADD_IR.format(n=7)))
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    second = Engine(2, cache_dir=str(tmp_path))
    assert _call(second, 7, 2, 3) == 35
    assert second.cache.rejected == 1 and second.cache.hits == 0
    third = Engine(2, cache_dir=str(tmp_path))    # rebuilt by the second
    assert _call(third, 7, 1, 2) == 21 and third.cache.hits == 1


def _writer(directory, payload, rounds):
    cache = ObjectCache(directory, "sig")
    for _ in range(rounds):
        cache.store(cache.key("shared"), payload)


def test_concurrent_writers_leave_a_whole_file(tmp_path):
    payloads = [bytes([i]) * (200_000 + i) for i in range(4)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), p, 30)) for p in payloads]
    for p in procs:
        p.start()
    cache = ObjectCache(str(tmp_path), "sig")
    seen = 0
    while any(p.is_alive() for p in procs):
        got = cache.load(cache.key("shared"))
        assert got is None or got in payloads       # never a mixture or a torn file
        seen += got is not None
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert cache.load(cache.key("shared")) in payloads
    assert cache.rejected == 0


def test_eviction_keeps_the_directory_under_its_bound_and_the_recently_used(tmp_path):
    from rvjit.backend.objcache import LOW_WATER
    limit = 100_000
    cache = ObjectCache(str(tmp_path), "sig", limit=limit)
    keys = [cache.key(f"module {i}") for i in range(30)]
    kept = keys[0]
    for i, key in enumerate(keys):
        cache.store(key, bytes([i]) * 9_000)
        assert cache.load(kept) is not None         # used all along: must survive every eviction
    sizes = [os.path.getsize(p) for p in tmp_path.rglob("*.o")]
    assert sum(sizes) <= limit
    assert cache.evicted >= 30 - limit // 9_000
    assert cache.load(kept) == bytes([0]) * 9_000
    assert cache.load(keys[1]) is None              # the least recently used went first
    assert cache.load(keys[-1]) == bytes([29]) * 9_000
    assert sum(sizes) >= limit * LOW_WATER - 9_100  # evicted down to the low-water mark, no further


def test_a_new_process_counts_what_others_left(tmp_path):
    first = ObjectCache(str(tmp_path), "sig", limit=10 ** 9)
    for i in range(10):
        first.store(first.key(f"m{i}"), b"x" * 10_000)
    second = ObjectCache(str(tmp_path), "sig", limit=50_000)
    second.store(second.key("new"), b"y" * 10_000)  # its first store counts the directory
    assert sum(os.path.getsize(p) for p in tmp_path.rglob("*.o")) <= 50_000
    assert second.load(second.key("new")) == b"y" * 10_000


def test_size_parsing():
    from rvjit.backend.objcache import parse_size
    assert parse_size("256M") == 256 << 20 and parse_size("2G") == 2 << 30 and parse_size("4096") == 4096
    assert parse_size("64MiB") == 64 << 20
    for bad in ("", "M", "-5M", "0", "1.5G", "lots"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_caches_of_one_process_count_their_directory_once(tmp_path, monkeypatch):
    counts = []
    real = ObjectCache._entries
    monkeypatch.setattr(ObjectCache, "_entries", lambda self: counts.append(1) or real(self))
    monkeypatch.setattr(random, "randrange", lambda n: n - 1)      # count at the first store
    caches = [ObjectCache(str(tmp_path), f"engine {i}", limit=10 ** 9) for i in range(4)]
    for cache in caches:
        cache.store(cache.key("m"), b"z" * 1000)
    assert len(counts) == 1


def test_a_process_storing_little_counts_the_directory_as_often_as_its_share(tmp_path, monkeypatch):
    """Counting costs a quarter of a second in a large directory: a process counts after every
    tenth of the bound it stores, the first time after a random part of a tenth."""
    first = ObjectCache(str(tmp_path), "sig", limit=10 ** 9)
    for i in range(10):
        first.store(first.key(f"m{i}"), b"x" * 10_000)
    limit = 1_000_000                                # a tenth: 100,000 bytes
    counts = []
    real = ObjectCache._entries
    monkeypatch.setattr(ObjectCache, "_entries", lambda self: counts.append(1) or real(self))
    for start, counted in ((0, False), (limit // 10, True)):
        monkeypatch.setattr(objcache, "_usage", {})                  # a new process
        monkeypatch.setattr(random, "randrange", lambda n: start)
        cache = ObjectCache(str(tmp_path), "sig", limit=limit)
        cache.store(cache.key(f"small {start}"), b"y" * 10_000)
        assert bool(counts) == counted
