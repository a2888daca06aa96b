"""Handlers remembered between runs and linked a bundle at a time (rvjit.backend.handlerbundle):
a later run takes every handler it needs from one object and the guest still runs right; a
handler no bundle has is compiled on demand; damaged or foreign records and objects are not
used; --no-cache writes nothing."""
import glob
import io
import os
import pickle
import time

import pytest

from guests.build import build_all, compiler
from rvjit.backend import compileserver, handlerbundle, objcache, threaded
from rvjit.backend import translator as translator_module
from rvjit.backend.runloop import run_native
from rvjit.frontend.decode import decode
from rvjit.machine import Machine

_PROGRAMS = build_all() if compiler() else {}
needs_guests = pytest.mark.skipif(compiler() is None, reason="riscv64-unknown-elf-gcc not installed")

DEFINITIONS, WORDS = 0, 1           # HandlerLibrary.bundles


@pytest.fixture
def new_run(monkeypatch, tmp_path):
    """Makes the handler library of a new run (what a new process would have), caching in
    tmp_path."""
    monkeypatch.setenv("RVJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("RVJIT_LIBRARY_DIR", str(tmp_path / "library"))
    monkeypatch.delenv("RVJIT_NO_CACHE", raising=False)

    def new():
        lib = threaded.HandlerLibrary()
        monkeypatch.setattr(threaded, "_library", lib)
        lib.word_compiles = 0       # word handlers compiled on demand
        lib.word_modules = 0        # ... in this many modules
        lib.links = 0               # bundle objects linked into the word engine
        compile, link_object = lib.word_engine.compile, lib.word_engine.link_object

        def counting_compile(ir_text, names, *args, **kwargs):
            lib.word_compiles += len(names)
            lib.word_modules += 1
            return compile(ir_text, names, *args, **kwargs)

        def counting_link(*args, **kwargs):
            lib.links += 1
            return link_object(*args, **kwargs)
        lib.word_engine.compile, lib.word_engine.link_object = counting_compile, counting_link
        return lib
    return new


def run_guest(name):
    machine = Machine(128 << 20, console=io.BytesIO())
    machine.load_elf(str(_PROGRAMS[name]))
    machine.deadline = time.monotonic() + 60
    run_native(machine, translator_module.Translator(machine.hart, background=False))
    assert machine.exit_code == 0, f"{name} failed with status {machine.exit_code}"


def end_run(lib):
    """What the library does at exit."""
    for bundles in lib.bundles:
        bundles.save()


def word_keys(lib) -> set:
    return {k for k, address in lib.addresses.items() if isinstance(k, tuple) and address}


def csrr(rd: int, csr: int) -> int:
    """csrrs rd, csr, x0: a word with a handler of its own."""
    return csr << 20 | 2 << 12 | rd << 7 | 0x73


CSRS = [0x340, 0x341, 0x342, 0x343, 0x140, 0x141, 0x142, 0x143]
WORDS_A = [csrr(rd, csr) for csr in CSRS for rd in range(10, 13)]        # 24 words
WORDS_B = [csrr(rd, csr) for csr in CSRS for rd in range(13, 16)]        # 24 others


def need(lib, raws):
    keys = [lib.key(decode(raw, 0x1000)) for raw in raws]
    lib.compile_pending()
    assert all(lib.addresses[k] for k in keys)
    return keys


@needs_guests
def test_a_later_run_links_the_remembered_handlers_in_one_go(new_run):
    first = new_run()
    run_guest("isa/zicsr")
    assert first.word_compiles == len(word_keys(first)) >= 20 and first.links == 0
    # compiled on demand, but a page's CSR words together (threaded.lift_csr_words)
    assert 0 < first.word_modules <= first.word_compiles // 4
    end_run(first)                  # builds the bundle's object
    assert first.bundles[WORDS].built == 1

    second = new_run()
    run_guest("isa/zicsr")
    # (the first run also compiled CSR words near those it ran, which may never run)
    assert 20 <= len(word_keys(second)) and word_keys(second) <= word_keys(first)
    assert second.word_compiles == 0 and second.links == 1 and second.bundles[WORDS].built == 0


@needs_guests
def test_a_word_no_bundle_has_is_compiled_on_demand_and_bundled_later(new_run):
    first = new_run()
    run_guest("isa/zicsr")
    end_run(first)

    second = new_run()
    run_guest("priv/sintr")
    taken = [k for k in word_keys(second) if k in word_keys(first)]
    assert taken and second.word_compiles == len(word_keys(second)) - len(taken) >= handlerbundle.NEW_BUNDLE_AFTER
    end_run(second)                 # enough new handlers: a bundle of their own

    third = new_run()
    run_guest("priv/sintr")
    assert third.word_compiles == 0 and third.links == 2
    assert [len(b.handlers) for b in third.bundles[WORDS].bundles] == [len(word_keys(first)), second.word_compiles]


def test_a_few_new_handlers_wait_and_leave_the_bundle_as_it_is(new_run):
    first = new_run()
    need(first, WORDS_A)
    end_run(first)
    bundle_key = first.bundles[WORDS]._object_key_text(first.bundles[WORDS].bundles[0])

    second = new_run()
    need(second, WORDS_A + WORDS_B[:5])
    assert second.word_compiles == 5 and second.links == 1
    end_run(second)
    words = second.bundles[WORDS]
    assert len(words.bundles) == 1 and words._object_key_text(words.bundles[0]) == bundle_key
    assert list(words.waiting) == [("csrrs", raw) for raw in WORDS_B[:5]]

    third = new_run()               # the waiting ones are compiled again, and now make a bundle
    need(third, WORDS_A + WORDS_B)
    assert third.word_compiles == len(WORDS_B) >= handlerbundle.NEW_BUNDLE_AFTER
    end_run(third)
    assert [len(b.handlers) for b in third.bundles[WORDS].bundles] == [len(WORDS_A), len(WORDS_B)]
    assert not third.bundles[WORDS].waiting

    fourth = new_run()
    need(fourth, WORDS_B[:1])       # only the bundle holding it is linked
    assert fourth.word_compiles == 0 and fourth.links == 1


def _record_path(lib, which=WORDS):
    bundles = lib.bundles[which]
    return bundles._cache.path(bundles._record_key())


def _object_paths(lib, which=WORDS):
    bundles = lib.bundles[which]
    return [bundles._cache.path(bundles._cache.key(bundles._object_key_text(b))) for b in bundles.bundles]


def _flip_a_byte(path):
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))


def test_a_damaged_record_is_ignored(new_run):
    first = new_run()
    need(first, WORDS_A)
    end_run(first)
    _flip_a_byte(_record_path(first))
    second = new_run()
    need(second, WORDS_A)
    assert second.word_compiles == len(WORDS_A) and second.links == 0
    end_run(second)                 # and a good one is written again
    third = new_run()
    need(third, WORDS_A)
    assert third.word_compiles == 0 and third.links == 1


def test_a_record_that_is_not_one_is_ignored(new_run):
    first = new_run()
    need(first, WORDS_A)
    end_run(first)
    words = first.bundles[WORDS]
    key = ("csrrs", WORDS_A[0])
    bad_entries = [(key, "not a word", None, False), (key, WORDS_A[0], "sideways", False), (key, WORDS_A[0], None, 1),
                   (("csrrs",), WORDS_A[0], None, False)]
    payloads = [pickle.dumps("nonsense"), b"\x80junk"] + [pickle.dumps(([[entry]], [])) for entry in bad_entries]
    for payload in payloads:
        words._cache.store(words._record_key(), payload)        # checksummed, but not a record
        again = new_run()
        need(again, WORDS_A)
        assert again.word_compiles == len(WORDS_A) and again.links == 0


def test_a_record_of_another_rvjit_is_not_read(new_run, monkeypatch):
    first = new_run()
    need(first, WORDS_A)
    end_run(first)
    monkeypatch.setattr(objcache, "source_signature", lambda: "some other rvjit")
    second = new_run()
    need(second, WORDS_A)
    assert second.word_compiles == len(WORDS_A) and second.links == 0


@needs_guests
def test_a_damaged_bundle_object_is_built_again(new_run):
    first = new_run()
    run_guest("isa/zicsr")
    end_run(first)
    path, = _object_paths(first)
    _flip_a_byte(path)
    second = new_run()
    run_guest("isa/zicsr")
    assert second.word_compiles == 0 and second.bundles[WORDS].built == 1
    assert second.word_engine.cache.rejected == 1
    third = new_run()               # built again, and found
    run_guest("isa/zicsr")
    assert third.word_compiles == 0 and third.links == 1 and third.bundles[WORDS].built == 0


@needs_guests
@pytest.mark.parametrize("library", ["kept", "new"])
def test_definition_handlers_stay_in_the_library_when_the_translation_cache_is_new(
        new_run, monkeypatch, tmp_path, library):
    """A run with an empty translation cache (a new --cache-dir) compiles the guest's own word
    handlers again, but takes rvjit's definitions (and executor, scanner, block translator)
    from the handler library, optimising nothing; with a new library it compiles them."""
    first = new_run()
    run_guest("isa/zicsr")
    end_run(first)
    monkeypatch.setenv("RVJIT_CACHE_DIR", str(tmp_path / "cold"))
    if library == "new":
        monkeypatch.setenv("RVJIT_LIBRARY_DIR", str(tmp_path / "library2"))
    second = new_run()
    run_guest("isa/zicsr")
    assert second.word_compiles == len(word_keys(second)) >= 20 and second.links == 0
    assert (second.engine.opt_seconds == 0) == (library == "kept")
    assert os.listdir(tmp_path / "cold")          # the translation cache still fills


@needs_guests
def test_no_cache_reads_and_writes_nothing(new_run, monkeypatch, tmp_path):
    monkeypatch.setenv("RVJIT_NO_CACHE", "1")
    first = new_run()
    run_guest("isa/zicsr")
    end_run(first)
    second = new_run()
    run_guest("isa/zicsr")
    assert second.word_compiles == len(word_keys(second)) and second.links == 0
    assert not glob.glob(os.path.join(tmp_path, "*", "*"))


@needs_guests
def test_definitions_bundle_is_built_by_the_compile_server_for_the_next_run(new_run, monkeypatch):
    server = compileserver.CompileServer(2)
    monkeypatch.setattr(compileserver, "_shared", {2: server})
    server.start()                  # as a tiered run's background compiler does
    try:
        first = new_run()
        run_guest("isa/zicsr")
        end_run(first)
        definitions = {k for k in first.addresses if isinstance(k, str)}

        second = new_run()          # compiles them on demand, the server builds the bundle
        run_guest("isa/zicsr")
        assert not second.bundles[DEFINITIONS].bundles[0].taken
        builder, = second.bundles[DEFINITIONS].builders
        builder.join(timeout=120)
        assert not builder.is_alive()

        third = new_run()
        run_guest("isa/zicsr")
        bundle = third.bundles[DEFINITIONS].bundles[0]
        taken = set(bundle.taken)
        assert set(bundle.handlers) == definitions
        # everything the run needed came from it (the first run also compiled definitions of
        # code ahead of the blocks it ran, which need not run)
        assert taken == {k for k in third.addresses if isinstance(k, str)} and taken <= definitions
    finally:
        server.close()


def r_type(funct7, funct3, rd=10, rs1=11, rs2=12):
    return funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | 0x33


def test_definitions_of_code_ahead_compile_in_one_module(new_run):
    """threaded.lift_code_ahead: the definitions the instructions ahead need are lifted at once,
    so compile_pending makes one optimised module of them, not one each as blocks meet them."""
    lib = new_run()
    words = [r_type(0, 0), r_type(0x20, 0), r_type(0, 1), r_type(0, 2), r_type(0, 4), r_type(0, 6), r_type(0, 7)]
    modules = []
    compile = lib.engine.compile
    lib.engine.compile = lambda ir_text, names, *a, **k: modules.append(len(names)) or compile(ir_text, names, *a, **k)
    threaded.lift_code_ahead(lib, b"".join(w.to_bytes(4, "little") for w in words) + b"\x01\x00")  # + c.nop
    lib.compile_pending()
    keys = {threaded.word_info(lib, w).key for w in words + [0x0001]}
    assert keys == {"add", "sub", "sll", "slt", "xor", "or", "and", "addi"}        # c.nop is an addi
    assert all(lib.addresses[k] for k in keys)
    assert modules == [len(keys)]
