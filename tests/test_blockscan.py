"""The native block scanner (rvjit.backend.blockscan): its hash table of word templates, filled
one word at a time and in bulk, finds every word; blocks end where lifting ends them; a word
without a handler makes the block compiled; the records are the words' templates."""
import struct

import numpy as np
import pytest

from rvjit.backend import blockscan, threaded
from rvjit.backend.handlergen import RECORD
from rvjit.frontend.lift import MAX_BLOCK_INSNS

ADDI = [0x00000093 | (i << 20) for i in range(600)]       # addi x1, x0, i: 600 distinct words
JAL_SELF = 0x0000006F
ECALL_FREE_CSRR = 0xC0002573                               # csrr a0, cycle: ends a block


def code_of(words) -> np.ndarray:
    return np.frombuffer(b"".join(struct.pack("<I", w) for w in words), dtype=np.uint8).copy()


def scan(scanner, code: np.ndarray, start=0, page_end=None, pc=0x8000_0000):
    end = len(code) if page_end is None else page_end
    return scanner.scan(code.ctypes.data, start, end, len(code), pc, 7)


def records(scanner, count):
    return scanner.out[:(count + 1) * RECORD.itemsize].view(RECORD)[1:]


def entries_of(lib, words) -> np.ndarray:
    """Scanner table entries of words, as learning each would make them."""
    infos = [threaded.word_info(lib, w) for w in words]
    lib.compile_pending()
    entries = np.zeros(len(words), dtype=blockscan.ENTRY)
    for e, w, info in zip(entries, words, infos):
        e["key"], e["meta"] = w | blockscan.PRESENT, info.length
        e["record"] = np.frombuffer(threaded.record_template(lib, w, info), dtype=RECORD)[0]
    return entries


def test_words_learnt_one_by_one_are_all_found_after_the_table_grows():
    scanner = blockscan.BlockScanner(threaded.library(), native_decoding=False)
    slots = scanner.mask + 1
    for chunk in range(0, 600, 50):
        words = ADDI[chunk:chunk + 50] + [JAL_SELF]
        result = scan(scanner, code_of(words))
        assert result == blockscan.Scan(51, 204, True, False)
    assert scanner.mask + 1 == slots                       # 601 words fit the first table
    assert len(scanner.words) == 601
    scanner._grow(4 * slots)                               # rehash, vectorised
    assert scanner.mask + 1 > slots
    for chunk in range(0, 600, 50):
        code = code_of(ADDI[chunk:chunk + 50] + [JAL_SELF])
        before = len(scanner.words)
        assert scan(scanner, code).count == 51
        assert len(scanner.words) == before                # found, not learnt again
        assert list(records(scanner, 51)["imm"][:50]) == list(range(chunk, chunk + 50))


def test_bulk_placed_words_are_found_with_the_templates_of_words_placed_one_by_one():
    lib = threaded.library()
    one, bulk = blockscan.BlockScanner(lib, native_decoding=False), blockscan.BlockScanner(lib, native_decoding=False)
    infos = [threaded.word_info(lib, w) for w in ADDI]
    lib.compile_pending()
    for w, info in zip(ADDI, infos):
        one._put(w, info.length, threaded.record_template(lib, w, info))
    bulk._put(ADDI[0], infos[0].length, threaded.record_template(lib, ADDI[0], infos[0]))
    bulk._place(entries_of(lib, ADDI[1:]))
    assert len(bulk.words) == len(ADDI)
    assert sorted(one.table[one.table["key"] != 0].tolist()) == sorted(bulk.table[bulk.table["key"] != 0].tolist())
    for chunk in range(0, 600, 50):
        code = code_of(ADDI[chunk:chunk + 50] + [JAL_SELF])
        result = scan(bulk, code)
        assert result.count == 51 and len(bulk.words) == len(ADDI) + 1   # found; only the jal new
        assert list(records(bulk, 51)["imm"][:50]) == list(range(chunk, chunk + 50))


def test_words_placed_in_bulk_past_the_end_of_the_table_wrap_to_its_start():
    lib = threaded.library()
    scanner = blockscan.BlockScanner(lib, native_decoding=False)
    near_end = [w for w in (0x00000093 | (i << 20) for i in range(4096))
                if scanner._slot(w) >= scanner.mask - 2][:6]        # homes in the last 3 slots
    scanner._place(entries_of(lib, near_end))
    assert scanner.table["key"][0] != 0                               # some wrapped
    result = scan(scanner, code_of(near_end + [JAL_SELF]))
    assert result.count == len(near_end) + 1
    assert len(scanner.words) == len(near_end) + 1


def test_a_block_ends_at_a_csr_access_the_page_end_and_the_length_bound():
    scanner = blockscan.BlockScanner(threaded.library(), native_decoding=False)
    assert scan(scanner, code_of(ADDI[:3] + [ECALL_FREE_CSRR] + ADDI[:3])).count == 4
    assert scan(scanner, code_of(ADDI[:10]), page_end=12) == blockscan.Scan(3, 12, True, False)
    assert scan(scanner, code_of(ADDI[:MAX_BLOCK_INSNS + 5])).count == MAX_BLOCK_INSNS
    # the bytes run out before the block ends: incomplete, nothing read past them
    short = scan(scanner, code_of(ADDI[:5])[:18])
    assert short == blockscan.Scan(4, 16, False, False)


def test_header_and_records_are_the_templates_of_the_words():
    lib = threaded.library()
    scanner = blockscan.BlockScanner(lib, native_decoding=False)
    words = [ADDI[5], 0x4505, JAL_SELF]                     # addi; c.li a0, 1; jal
    code = np.frombuffer(struct.pack("<IHI", *words), dtype=np.uint8).copy()
    result = scan(scanner, code, pc=0xFFFF_FFFF_8000_0000)
    assert result == blockscan.Scan(3, 10, True, False)
    header = scanner.out[:RECORD.itemsize].view(np.uint64)
    assert list(header[:4]) == [3, 7, 0xFFFF_FFFF_8000_0000, 0]
    recs = records(scanner, 3)
    assert list(recs["raw"]) == words and list(recs["length"]) == [4, 2, 4]
    for rec, word in zip(recs, words):
        info = threaded.word_info(lib, word)
        assert rec.tobytes() == threaded.record_template(lib, word, info)


def test_a_word_without_a_handler_makes_the_block_compiled(monkeypatch):
    scanner = blockscan.BlockScanner(threaded.library(), native_decoding=False)
    odd = 0xFFFFFFFF
    real = threaded.word_info
    monkeypatch.setattr(threaded, "word_info", lambda lib, raw: None if raw == odd else real(lib, raw))
    assert scan(scanner, code_of(ADDI[:2] + [odd, JAL_SELF])) is None
    assert scan(scanner, code_of(ADDI[:2] + [JAL_SELF])).count == 3


def test_past_its_bound_the_table_starts_again(monkeypatch):
    monkeypatch.setattr(blockscan, "MAX_SLOTS", blockscan.INITIAL_SLOTS)
    scanner = blockscan.BlockScanner(threaded.library(), native_decoding=False)
    for chunk in range(0, 3000, 50):
        words = [0x00000093 | (i << 20) for i in range(chunk, chunk + 50)] + [JAL_SELF]
        assert scan(scanner, code_of(words)).count == 51
    assert len(scanner.words) < 3000 and scanner.mask + 1 == blockscan.INITIAL_SLOTS
    # what was dropped is learnt again when met
    assert scan(scanner, code_of(ADDI[:50] + [JAL_SELF])).count == 51
    assert list(records(scanner, 51)["imm"][:50]) == list(range(50))
