"""Differential tests: random programs on the reference interpreter vs the JIT, and vs QEMU.

The generator and harness live in tests/difftest/ (see its __init__). A failure prints the seed,
the first differing register or byte, a minimised body and the whole program; reproduce with
    cd tests && python -m difftest --seed S --mix M --n N [--qemu] --show

Sizes: the default run compares PROGRAMS_PER_MIX programs of N_INSNS body instructions per
instruction mix (interp vs the JIT as `rvjit run` uses it, a few also vs the optimising tiers)
and QEMU_PROGRAMS programs against QEMU; RVJIT_DIFFTEST_SCALE=2 doubles the counts.
About 80 CPU-seconds, spread over the CPUs by worker processes (~45 s on two idle cores).
`pytest -m slow` runs 100 programs of 400 instructions per mix on every JIT configuration and
240 against QEMU (about half an hour of CPU).
"""
import os

import pytest

from difftest import (JIT_CONFIGS, MIXES, BatchRunner, Item, build, check_program, compare,
                      generate, have_qemu, have_toolchain, jit_has_fp, minimise, run_rvjit)

pytestmark = pytest.mark.skipif(not have_toolchain(), reason="riscv64-unknown-elf binutils not installed")

SCALE = float(os.environ.get("RVJIT_DIFFTEST_SCALE", "1"))
N_INSNS = 200
PROGRAMS_PER_MIX = max(1, round(24 * SCALE))
OPTIMISED_EVERY = 8          # every 8th program also runs on jit-hot, every 8th (offset) on jit-O2
QEMU_PROGRAMS = max(1, round(15 * SCALE))
# Seeds for the slow variants start here, away from the default ones.
SLOW_SEED_BASE = 100_000


@pytest.fixture(scope="module")
def runner():
    r = BatchRunner()
    yield r
    r.close()


def _jits_for(index: int) -> tuple:
    if index % OPTIMISED_EVERY == 0:
        return ("jit", "jit-hot")
    if index % OPTIMISED_EVERY == OPTIMISED_EVERY // 2:
        return ("jit", "jit-O2")
    return ("jit",)


def _check(results, label):
    compared = {}
    for r in results:
        for side in r.sides:
            compared[side] = compared.get(side, 0) + 1
    body = sum(r.body_insns for r in results)
    retired = sum(r.retired for r in results)
    print(f"\n{label}: {len(results)} programs, {body} body instructions, {retired} retired "
          f"per side; runs per side: {compared}")
    failures = [r for r in results if r.mismatch]
    if failures:
        text = "\n\n".join(r.report or f"seed={r.seed} mix={r.mix}: {r.mismatch}" for r in failures)
        pytest.fail(f"{len(failures)} of {len(results)} programs differ:\n{text}", pytrace=False)


# --- the generator itself ---------------------------------------------------------------------

def test_generator_is_reproducible():
    for mix in MIXES:
        assert generate(7, 150, mix).asm() == generate(7, 150, mix).asm()
    assert generate(7, 150, "all").asm() != generate(8, 150, "all").asm()


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_generated_programs_assemble(mix, tmp_path):
    for seed in range(3):
        for stop_at_end in (False, True):
            build(generate(seed, 400, mix), tmp_path, f"{mix}{seed}", stop_at_end)


def test_harness_reports_a_difference(tmp_path):
    """A deliberately wrong instruction in the interpreter run is caught and named."""
    from rvjit.isa import BY_NAME
    program = generate(1, 1, "int").with_items(
        [Item(["li a0, 0x1234"]), Item(["li a1, 0x10"]), Item(["sh2add a2, a0, a1"])])
    elf = build(program, tmp_path, stop_at_end=True)
    jit = run_rvjit(elf, "jit")
    defn = BY_NAME["sh2add"]
    good = defn.semantics
    object.__setattr__(defn, "semantics", BY_NAME["sh1add"].semantics)
    try:
        interp = run_rvjit(elf, "interp")
    finally:
        object.__setattr__(defn, "semantics", good)
    m = compare(interp, jit)
    assert m is not None and m.what.startswith("x12 (a2)"), m
    assert compare(run_rvjit(elf, "interp"), jit) is None


def test_minimise_keeps_what_fails():
    program = generate(3, 120, "all")
    target = "mulh "

    def still_fails(p):
        return any(line.startswith(target) for line in p.body_lines())
    if not still_fails(program):
        program = program.with_items(program.items + [Item(["mulh a0, a1, a2"])])
    small = minimise(program, still_fails, budget_seconds=20)
    assert still_fails(small)
    assert small.body_size() <= 3


# --- interpreter vs JIT -----------------------------------------------------------------------

def _interp_vs_jit(runner, mix, seeds, n_insns, jits_for):
    fp = jit_has_fp()
    if not fp and mix == "fp":
        pytest.skip("the JIT has no FP runtime yet")
    tasks = [dict(seed=s, mix=mix, n_insns=n_insns, qemu=False, jits=jits_for(i), fp=fp)
             for i, s in enumerate(seeds)]
    _check(runner.run(tasks), f"interp vs JIT, mix {mix}")


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_interp_vs_jit(runner, mix):
    _interp_vs_jit(runner, mix, range(PROGRAMS_PER_MIX), N_INSNS, _jits_for)


@pytest.mark.slow
@pytest.mark.parametrize("mix", sorted(MIXES))
def test_interp_vs_jit_many(runner, mix):
    seeds = range(SLOW_SEED_BASE, SLOW_SEED_BASE + round(100 * SCALE))
    _interp_vs_jit(runner, mix, seeds, 400, lambda i: tuple(JIT_CONFIGS))


# --- vs QEMU ----------------------------------------------------------------------------------

needs_qemu = pytest.mark.skipif(not have_qemu(), reason="qemu-system-riscv64 not on PATH")


def _vs_qemu(runner, seeds, n_insns):
    fp = jit_has_fp()
    mixes = sorted(MIXES)
    tasks = [dict(seed=s, mix=mixes[i % len(mixes)], n_insns=n_insns, qemu=True,
                  jits=("jit",), fp=fp) for i, s in enumerate(seeds)]
    _check(runner.run(tasks), "rvjit vs QEMU")


@needs_qemu
def test_vs_qemu(runner):
    _vs_qemu(runner, range(QEMU_PROGRAMS), N_INSNS)


@needs_qemu
@pytest.mark.slow
def test_vs_qemu_many(runner):
    _vs_qemu(runner, range(SLOW_SEED_BASE, SLOW_SEED_BASE + round(240 * SCALE)), 400)


@needs_qemu
def test_qemu_ctzw_bug_is_still_avoided(tmp_path):
    """generator.QEMU_BUGS: QEMU 7.2's ctzw ignores that only the low word counts. Programs
    compared with QEMU avoid the case; this keeps the reason on record (and notices a fixed
    QEMU: then the workaround can go)."""
    program = generate(0, 1, "int").with_items(
        [Item(["li a0, 0x20000000000"]), Item(["ctzw a1, a0"])])
    mismatch, outcomes = check_program(program, tmp_path, qemu=True, jits=())
    if mismatch is None:
        pytest.skip("this QEMU computes ctzw correctly: the qemu_safe workaround is no longer needed")
    assert "x11 (a1)" in mismatch.what and "0x0000000000000029" in mismatch.what
    assert outcomes["interp"].state[11 * 8] == 32          # rvjit follows the spec
