"""The hot profile (rvjit.backend.hotprofile): a second run forms the regions the first one
optimised as soon as their heads have run a few times, with the same members, and links their
objects from the disk cache; a damaged profile, or one naming code that has changed since, costs
nothing but the early promotion, and --no-cache writes none."""
import glob
import hashlib
import os
import struct

import pytest

from rvjit.backend import hotprofile, objcache, promotion
from rvjit.backend import translator as translator_module
from rvjit.backend.runloop import run_native
from rvjit.machine import RAM_BASE, Machine

A0, A1, A2, A5, T0 = 10, 11, 12, 15, 5


def i_type(op, funct3, rd, rs1, imm):
    return (imm & 0xFFF) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | op


def addi(rd, rs1, imm):
    return i_type(0x13, 0, rd, rs1, imm)


def and_(rd, rs1, rs2):
    return rs2 << 20 | rs1 << 15 | 7 << 12 | rd << 7 | 0x33


def bne(rs1, rs2, offset):
    imm = offset & 0x1FFF
    return ((imm >> 12) << 31 | ((imm >> 5) & 0x3F) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12
            | ((imm >> 1) & 0xF) << 8 | ((imm >> 11) & 1) << 7 | 0x63)


def jal_zero(offset):
    imm = offset & 0x1FFFFF
    return (imm >> 20) << 31 | ((imm >> 1) & 0x3FF) << 21 | ((imm >> 11) & 1) << 20 | ((imm >> 12) & 0xFF) << 12 | 0x6F


CODE = RAM_BASE + 0x10000
HEAD, FALL, TAKEN = CODE + 4, CODE + 16, CODE + 24


def loop_program(step_taken=1, head_op=None):
    """entry: j HEAD; HEAD: a0 += 1; t0 = a0 & a5; if t0: goto TAKEN; FALL: a1 += 1; j HEAD;
    TAKEN: a2 += step_taken; j HEAD. The loop head, FALL and TAKEN form one region when both
    arms are warm (a5 = 3: TAKEN three runs in four); with a5 = 0 TAKEN never runs."""
    words = [jal_zero(4),
             addi(A0, A0, 1), head_op or and_(T0, A0, A5), bne(T0, 0, TAKEN - (HEAD + 8)),
             addi(A1, A1, 1), jal_zero(HEAD - (FALL + 4)),
             addi(A2, A2, step_taken), jal_zero(HEAD - (TAKEN + 4))]
    return b"".join(struct.pack("<I", w) for w in words)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RVJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("RVJIT_NO_CACHE", raising=False)
    monkeypatch.setattr(promotion, "PROMOTE_INTERVAL", 0.0)    # scan at every return to the run loop
    return tmp_path


def run_loop(program, mask, iterations, step=200):
    """Run the loop `iterations` times, `step` at a time (promotion is looked at in between).
    Returns the translator and how many times the head had run when it was first optimised."""
    m = Machine(16 << 20)
    m.ram.write(CODE, program)
    st = m.hart.state
    st.pc, st.x[A5] = CODE, mask
    translator = translator_module.Translator(m.hart, background=False)
    cache = translator.hot_engine.cache
    hits_before = cache.hits if cache is not None else 0      # the memory runtime's
    optimising_before = translator.hot_engine.opt_seconds
    promoted_after = None
    while st.x[A0] < iterations:
        # 5 instructions an iteration; the first block is one more
        run_native(m, translator, m.hart.instret() + 5 * min(step, iterations - st.x[A0]) + (st.x[A0] == 0))
        head = translator.blocks[(HEAD, HEAD)]
        if promoted_after is None and head.tier == 1:
            promoted_after = st.x[A0]
    taken = sum(1 for i in range(1, iterations + 1) if i & mask)
    assert (st.x[A0], st.x[A1], st.x[A2]) == (iterations, iterations - taken, taken * _step_of(program))
    translator.region_hits = cache.hits - hits_before if cache is not None else 0
    translator.region_optimising = translator.hot_engine.opt_seconds - optimising_before
    return translator, promoted_after


def _step_of(program):
    return struct.unpack_from("<I", program, TAKEN - CODE)[0] >> 20


def first_run(cache_dir):
    """Both arms warm when the head gets hot: the region is [HEAD, FALL, TAKEN]."""
    translator, promoted_after = run_loop(loop_program(), 3, promotion.HOT_THRESHOLD + 2000, step=2000)
    assert promotion.HOT_THRESHOLD <= promoted_after <= promotion.HOT_THRESHOLD + 2000
    head = translator.blocks[(HEAD, HEAD)]
    assert head.region == (HEAD, FALL, TAKEN) and translator.stats.hinted == 0
    assert os.path.exists(translator.hot_profile.path)
    return translator


def test_a_second_run_links_the_region_after_a_few_runs(cache_dir, monkeypatch):
    first_run(cache_dir)

    def no_ir(*_):
        raise AssertionError("a region found in the disk cache had its IR written")
    monkeypatch.setattr(promotion, "_region_ir", no_ir)
    # TAKEN never runs now (a5 = 0): it is translated ahead, so the region has the same members
    translator, promoted_after = run_loop(loop_program(), 0, 2000)
    assert promoted_after is not None and promoted_after < promotion.HOT_THRESHOLD // 100
    assert translator.stats.hinted == 1 and translator.stats.hints_missed == 0
    assert translator.blocks[(HEAD, HEAD)].region == (HEAD, FALL, TAKEN)
    assert translator.blocks[(TAKEN, TAKEN)].tier == 1
    assert translator.region_hits == 1 and translator.region_optimising == 0      # linked, not optimised


def test_a_region_whose_code_changed_is_not_formed_from_the_profile(cache_dir):
    first_run(cache_dir)
    # a member changed (running, or not yet run and so looked at ahead), the head changed
    for changed, mask in ((loop_program(step_taken=2), 3), (loop_program(step_taken=2), 0),
                          (loop_program(head_op=and_(T0, A5, A0)), 3)):
        translator, promoted_after = run_loop(changed, mask, 2000)     # results checked in run_loop
        assert promoted_after is None and translator.stats.hinted == translator.stats.hints_missed == 0
        assert translator.region_hits == 0
        assert mask or (TAKEN, TAKEN) not in translator.blocks


def test_regions_are_kept_under_their_members_pcs_and_code(cache_dir):
    """The disk cache key of a region (no IR is written to find it) changes with any member's
    code or address, so a profile digest that matched by chance still links nothing stale."""
    translator = first_run(cache_dir)
    members = [translator.blocks[(pc, pc)] for pc in (HEAD, FALL, TAKEN)]
    key = promotion._region_description("r", members)
    assert key == promotion._region_description("r", members)
    assert key != promotion._region_description("r", members[:2])
    code, members[2].code = members[2].code, members[2].code[:-1] + bytes([members[2].code[-1] ^ 0x80])
    assert key != promotion._region_description("r", members)
    members[2].code = code
    members[2].pc += 4
    assert key != promotion._region_description("r", members)


def test_a_hinted_region_missing_from_the_disk_cache_is_not_optimised(cache_dir):
    profile = first_run(cache_dir).hot_profile.path
    for path in glob.glob(os.path.join(cache_dir, "*", "*.o")):
        if path != profile:
            os.unlink(path)
    translator, promoted_after = run_loop(loop_program(), 3, 2000)
    assert promoted_after is None
    assert translator.stats.hints_missed == 1 and translator.region_optimising == 0


def test_hints_scale_with_the_hot_threshold(cache_dir, monkeypatch):
    first_run(cache_dir)
    monkeypatch.setattr(promotion, "HOT_THRESHOLD", 1 << 62)           # "never promote" stays never
    translator, promoted_after = run_loop(loop_program(), 3, 2000)
    assert promoted_after is None and translator.stats.promoted == 0


@pytest.mark.parametrize("damage", ["truncated", "flipped", "malformed"])
def test_a_damaged_profile_is_ignored(cache_dir, damage):
    path = first_run(cache_dir).hot_profile.path
    data = bytearray(open(path, "rb").read())
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "flipped":
        data[-5] ^= 0x40
    else:                           # intact checksum, but not regions
        payload = struct.pack("<QQQ", HEAD, 0, 1)
        data = objcache.MAGIC + hashlib.sha256(payload).digest() + payload
    open(path, "wb").write(bytes(data))
    translator, promoted_after = run_loop(loop_program(), 3, 2000)
    assert promoted_after is None and translator.stats.hinted == 0


def test_regions_breaking_the_rules_are_not_formed(cache_dir):
    """A profile naming the loop's real blocks (digests right) in regions promotion would never
    form: a block twice, a block of another page."""
    program = loop_program()
    words = struct.unpack(f"<{len(program) // 4}I", program)
    head, fall = (HEAD, hotprofile.code_digest(words[1:4])), (FALL, hotprofile.code_digest(words[4:6]))
    entry = (CODE, hotprofile.code_digest(words[:1]))
    for members in ((head, fall, fall), (head, (FALL + 0x1000, fall[1]))):
        profile = hotprofile.HotProfile(str(cache_dir), entry)
        profile.record(HEAD, members)
        profile.save()
        assert hotprofile.HotProfile(str(cache_dir), entry).by_head[HEAD, HEAD] == [(HEAD, members)]
        translator, promoted_after = run_loop(program, 3, 2000)
        assert promoted_after is None and translator.stats.hinted == translator.stats.hints_missed == 0


def test_profile_files_decode_only_whole_regions():
    regions = [(HEAD, ((HEAD, 1), (FALL, 2), (TAKEN, 3))), (0x8000_2000, ((0x8000_2000, 2 ** 64 - 1),))]
    payload = hotprofile.encode(regions)
    assert hotprofile.decode(payload) == regions
    for bad in (payload[:-8], payload[:-3], payload + struct.pack("<Q", 5),
                struct.pack("<QQ", HEAD, promotion.MAX_REGION_BLOCKS + 1)):
        with pytest.raises(ValueError):
            hotprofile.decode(bad)


def test_no_cache_writes_no_profile(cache_dir, monkeypatch):
    monkeypatch.setenv("RVJIT_NO_CACHE", "1")
    translator, promoted_after = run_loop(loop_program(), 3, promotion.HOT_THRESHOLD + 2000, step=2000)
    assert promoted_after is not None and translator.hot_profile is None
    assert not any(files for _, _, files in os.walk(cache_dir))
