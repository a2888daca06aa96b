"""Native decoding of instruction words (rvjit.backend.nativedecode): the generated decoder gives
every word it decodes the record template and meta Python's word_info gives it, for every
compressed halfword and for 32-bit words of every definition; it leaves to Python the words it
must (illegal, CSR accesses, handlers not compiled); the block scanner then needs Python for no
other word; the compressed table is kept in the handler library."""
import random
import struct

import numpy as np
import pytest

from rvjit.backend import blockscan, nativedecode, threaded
from rvjit.isa import INSTRUCTIONS
from rvjit.isa.spec import FIELD_EXTRACTORS

CSRR_CYCLE = 0xC0002573                 # csrr a0, cycle: a handler of its own
ADDI_A0 = 0x00150513                    # addi a0, a0, 1
C_ADDI_A0 = 0x0505                      # c.addi a0, 1
JAL_SELF = 0x0000006F


def python_template(lib, word):
    """(meta, record template) as Python learns the word, or None (no handler)."""
    info = threaded.word_info(lib, word)
    if info is None:
        return None
    lib.compile_pending()
    meta = info.length | (blockscan.END if info.end is not None else 0) | (blockscan.USES_FP if info.fp else 0)
    return meta, threaded.record_template(lib, word, info)


def ready_scanner(words):
    """A scanner whose library has compiled the handlers of words, with every compressed group
    decoded."""
    lib = threaded.library()
    scanner = blockscan.BlockScanner(lib)
    for w in words:
        scanner.learn(w)
    for group in range(nativedecode.GROUPS):
        if group & 3 != 3:
            scanner.decoding.learn_compressed((group & 3) | (group >> 2) << 13)
    scanner.decoding.refresh(lib, scanner._meta_of)
    return scanner


def words_of_every_definition(rng, per_definition=40):
    return [d.match | (rng.getrandbits(32) & ~d.mask) for d in INSTRUCTIONS for _ in range(per_definition)]


@pytest.mark.parametrize("key", sorted(FIELD_EXTRACTORS))
def test_every_extractor_is_a_gather_of_bits_that_reproduces_it(key):
    terms = nativedecode.gather_terms(FIELD_EXTRACTORS[key])
    rng = random.Random(key)
    for _ in range(500):
        w = rng.getrandbits(32)
        assert sum(m for i, m in terms if w >> i & 1) == FIELD_EXTRACTORS[key](w) & (2 ** 64 - 1)


def test_a_function_that_is_not_a_gather_of_bits_is_refused():
    with pytest.raises(ValueError):
        nativedecode.gather_terms(lambda w: (w >> 7 & 31) + (w >> 15 & 31))


def test_natively_decoded_words_have_pythons_templates():
    rng = random.Random(7)
    words = words_of_every_definition(rng) + [rng.getrandbits(32) | 3 for _ in range(5000)]
    scanner = ready_scanner([d.match for d in INSTRUCTIONS])
    lib = scanner.lib
    decoded_names = set()
    declined = 0
    for w in words + [half for half in range(0x10000) if half & 3 != 3]:
        native = scanner.decoded(w)
        if native is None:
            declined += 1
            continue
        assert native == python_template(lib, w), hex(w)
        decoded_names.add(threaded.word_info(lib, w).key)
    # every definition whose handler reads its operands from the record is decoded natively
    symbolic = {d.name for d in INSTRUCTIONS if lib.symbolic.get(d.name)}
    assert len(symbolic) > 100 and symbolic <= decoded_names
    assert declined > 0


def test_words_python_must_learn_are_left_to_it():
    scanner = ready_scanner([CSRR_CYCLE, ADDI_A0, C_ADDI_A0, 0xFFFFFFFF, 0])
    assert scanner.decoded(ADDI_A0) is not None and scanner.decoded(C_ADDI_A0) is not None
    assert scanner.decoded(CSRR_CYCLE) is None              # a handler per word
    assert scanner.decoded(0xFFFFFFFF) is None              # illegal
    assert scanner.decoded(0) is None                       # the illegal all-zero halfword
    off = blockscan.BlockScanner(scanner.lib, native_decoding=False)
    assert off.decoded(ADDI_A0) is None and off.decoded(C_ADDI_A0) is None


def test_a_definition_without_a_compiled_handler_is_left_to_python(monkeypatch, tmp_path):
    monkeypatch.setenv("RVJIT_LIBRARY_DIR", str(tmp_path / "library"))
    monkeypatch.setenv("RVJIT_CACHE_DIR", str(tmp_path / "objects"))
    lib = threaded.HandlerLibrary()
    scanner = blockscan.BlockScanner(lib)
    assert scanner.decoded(ADDI_A0) is None                 # nothing compiled yet
    scanner.learn(ADDI_A0)
    assert scanner.decoded(ADDI_A0 | 5 << 20) is not None   # another addi: the same handler


def test_a_block_of_words_python_never_met_is_scanned_without_python(monkeypatch):
    scanner = ready_scanner([ADDI_A0, C_ADDI_A0, JAL_SELF])
    learnt = []
    real_learn = scanner.learn
    monkeypatch.setattr(scanner, "learn", lambda w: learnt.append(w) or real_learn(w))
    words = [ADDI_A0 & 0xFFFFF | (i << 20) for i in range(100, 140)]      # addi a0, a0, 100..139
    code = b"".join(struct.pack("<I", w) for w in words) + struct.pack("<HH", C_ADDI_A0 | 3 << 2, 0) \
        + struct.pack("<I", JAL_SELF)
    buf = np.frombuffer(code, dtype=np.uint8).copy()
    result = scanner.scan(buf.ctypes.data, 0, len(buf), len(buf), 0x8000_0000, 3)
    assert learnt == [0]                                     # only the illegal halfword
    learnt.clear()
    result = scanner.scan(buf.ctypes.data, 0, 4 * 40 + 2, len(buf), 0x8000_0000, 3)
    assert learnt == [] and result == blockscan.Scan(41, 162, True, False)
    records = scanner.out[:42 * 64].view(blockscan.RECORD)[1:]
    assert list(records["imm"][:40]) == list(range(100, 140)) and records["imm"][40] == 3
    assert list(records["raw"][:40]) == words and records["length"][40] == 2


def test_the_compressed_groups_are_kept_in_the_library(monkeypatch, tmp_path):
    monkeypatch.setenv("RVJIT_LIBRARY_DIR", str(tmp_path))
    first = nativedecode.DecodeTables(threaded.record_operands)
    assert first.groups == 0
    assert first.learn_compressed(C_ADDI_A0) and not first.learn_compressed(C_ADDI_A0 | 1 << 7)
    second = nativedecode.DecodeTables(threaded.record_operands)
    assert second.groups == 0                               # read when needed, not at start
    monkeypatch.setattr(nativedecode, "compressed_rows", lambda *a: pytest.fail("built again"))
    assert second.learn_compressed(C_ADDI_A0) and second.groups == first.groups != 0
    assert second.compressed.tobytes() == first.compressed.tobytes()
    row = second.compressed[C_ADDI_A0]
    assert INSTRUCTIONS[row["definition"] - 1].name == "addi" and row["imm"] == 1
    monkeypatch.undo()
    monkeypatch.setenv("RVJIT_NO_CACHE", "1")
    uncached = nativedecode.DecodeTables(threaded.record_operands)
    assert uncached.learn_compressed(C_ADDI_A0) and uncached.compressed.tobytes() == first.compressed.tobytes()


def test_a_damaged_compressed_group_is_built_again(monkeypatch, tmp_path):
    monkeypatch.setenv("RVJIT_LIBRARY_DIR", str(tmp_path))
    first = nativedecode.DecodeTables(threaded.record_operands)
    first.learn_compressed(C_ADDI_A0)
    files = [p for p in tmp_path.rglob("*.o")]
    assert len(files) == 1
    files[0].write_bytes(files[0].read_bytes()[:-7])        # truncated
    built = []
    real = nativedecode.compressed_rows
    monkeypatch.setattr(nativedecode, "compressed_rows", lambda *a: built.append(a[0]) or real(*a))
    second = nativedecode.DecodeTables(threaded.record_operands)
    assert second.learn_compressed(C_ADDI_A0) and len(built) == 1
    assert second.compressed.tobytes() == first.compressed.tobytes()
