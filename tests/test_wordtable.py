"""The table of decoded instruction words kept between runs (rvjit.backend.wordtable): what the
next run reads must equal what decoding gives, a table saved by another rvjit is not read, and a
damaged file is ignored."""
import glob
import os

import numpy as np

from rvjit.backend import threaded, wordtable
from rvjit.backend.threaded import WordInfo, library, word_info

# every 32-bit word with opcode OP-IMM, OP, LOAD or STORE over a spread of operand bits, and
# every compressed quadrant-0/1 halfword in a range: thousands of words, most with handlers
WORDS = [(hi << 12) | op for hi in range(0, 1 << 20, 613) for op in (0x13, 0x33, 0x03, 0x23, 0x1B)] \
    + list(range(0x4000, 0x6000, 3))


def learn(words):
    lib = library()
    return {raw: word_info(lib, raw) for raw in words}


def test_a_saved_table_reads_back_equal_to_fresh_decoding(tmp_path):
    learnt = learn(WORDS)
    assert sum(info is not None for info in learnt.values()) >= wordtable.SAVE_AFTER_NEW_WORDS
    wordtable.WordTable(str(tmp_path)).save(learnt)
    again = wordtable.WordTable(str(tmp_path))
    assert again.loaded == sum(info is not None for info in learnt.values())
    rows = {int(raw): row for row, raw in enumerate(again.columns.arrays["raw"])}
    for raw, info in learnt.items():
        if info is not None:
            assert WordInfo(*again.columns.info(rows[raw])) == info
            if not isinstance(info.key, str):           # a handler of its own: looked up by word
                assert WordInfo(*again.words[raw]) == info
    assert any(not isinstance(info.key, str) for info in learnt.values() if info) or not again.words


def test_a_second_save_merges_and_keeps_key_indices_right(tmp_path):
    first = learn(WORDS[:len(WORDS) // 2])
    table = wordtable.WordTable(str(tmp_path))
    table.save(first)
    second = learn(WORDS)
    again = wordtable.WordTable(str(tmp_path))
    again.save(second)
    third = wordtable.WordTable(str(tmp_path))
    rows = {int(raw): row for row, raw in enumerate(third.columns.arrays["raw"])}
    assert len(rows) == third.loaded == sum(info is not None for info in second.values())
    for raw, info in second.items():
        if info is not None:
            assert WordInfo(*third.columns.info(rows[raw])) == info


def test_the_library_takes_known_words_from_the_table():
    lib = library()
    raw = 0x00A50513                                   # addi a0, a0, 10
    word_info(lib, 0x00150513)                         # lifts addi's handler
    lib.words.pop(raw, None)
    fake = WordInfo(*word_info(lib, raw))._replace(imm=12345)
    lib.words.pop(raw)
    saved = lib.known_words
    lib.known_words = {raw: tuple(fake)}
    try:
        assert word_info(lib, raw).imm == 12345         # read from the table, not decoded
    finally:
        lib.known_words = saved
        lib.words.pop(raw)


def test_another_rvjit_or_a_damaged_file_is_not_read(tmp_path, monkeypatch):
    learnt = learn(WORDS)
    wordtable.WordTable(str(tmp_path)).save(learnt)
    monkeypatch.setattr(wordtable, "_signature", lambda: "some other rvjit")
    assert wordtable.WordTable(str(tmp_path)).loaded == 0
    monkeypatch.undo()
    path, = [p for p in glob.glob(os.path.join(tmp_path, "*", "*")) if os.path.getsize(p) > 10_000]
    data = bytearray(open(path, "rb").read())
    data[-100] ^= 0xFF
    open(path, "wb").write(bytes(data))
    assert wordtable.WordTable(str(tmp_path)).loaded == 0


def test_a_run_that_learnt_little_writes_nothing(tmp_path):
    wordtable.WordTable(str(tmp_path)).save(dict(list(learn(WORDS).items())[:10]))
    assert not glob.glob(os.path.join(tmp_path, "*", "*"))
    assert threaded.WORD_MEMO_LIMIT > len(WORDS)


def test_contained_agrees_with_numpy_isin():
    rng = np.random.default_rng(5)
    for size in (0, 1, 7, 500):
        pool = rng.integers(0, 1 << 40, size, dtype=np.uint64)
        values = np.concatenate([pool[:size // 2], rng.integers(0, 1 << 40, 300, dtype=np.uint64)])
        assert (wordtable.contained(values, pool) == np.isin(values, pool)).all()
