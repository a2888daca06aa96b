"""Assemble a generated program, run it on rvjit's interpreter, rvjit's JIT and QEMU, and compare.

What is compared:
  * interpreter vs JIT: both run the program built to stop at a wfi right after the body; the
    hart's x/f registers, fflags, frm, mstatus, pc and instret and the scratch buffer in RAM;
  * interpreter vs QEMU (`-M spike -bios none`): the full program, whose epilogue stores the
    registers into `result` and prints result + scratch as hex on the HTIF console. The
    interpreter's printout is checked against its RAM and against its stopped run first, so
    the epilogue and printing path cannot hide a difference.
"""
from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .generator import (RESULT_SIZE, SCRATCH_SIZE, TRAP_EXIT_BASE, Item, Program,
                        describe_result_offset)

MARCH = "rv64gc_zba_zbb_zbs"
TOOL_PREFIX = os.environ.get("RVJIT_GUEST_PREFIX", "riscv64-unknown-elf-")
QEMU = "qemu-system-riscv64"
STATE_SIZE = RESULT_SIZE + SCRATCH_SIZE
MAX_INSNS = 2_000_000            # generous: a body runs a few thousand instructions, printing ~30k
RAM_SIZE = 1 << 20
STOPPED_AT_WFI = 0x5709         # exit code our wfi hook reports

LINKER_SCRIPT = """\
OUTPUT_ARCH("riscv")
ENTRY(_start)
SECTIONS
{
  . = 0x80000000;
  .text : { *(.text.init) *(.text .text.*) }
  .data : ALIGN(4096) { *(.data .data.*) }
  .tohost : ALIGN(4096) { *(.tohost) }
}
"""


def have_toolchain() -> bool:
    return shutil.which(TOOL_PREFIX + "as") is not None and shutil.which(TOOL_PREFIX + "ld") is not None


def have_qemu() -> bool:
    return shutil.which(QEMU) is not None


class BuildError(Exception):
    pass


def build(program: Program | str, workdir: str | Path, name: str = "prog",
          stop_at_end: bool = False) -> Path:
    """Assemble and link; returns the ELF path. Raises BuildError with the assembler's message."""
    workdir = Path(workdir)
    asm = program if isinstance(program, str) else program.asm(stop_at_end)
    src, obj, elf, ld = (workdir / f"{name}{ext}" for ext in (".S", ".o", ".elf", ".ld"))
    src.write_text(asm)
    if not ld.exists():
        ld.write_text(LINKER_SCRIPT)
    for cmd in ([TOOL_PREFIX + "as", f"-march={MARCH}", "-mabi=lp64d", "-mno-relax", "-o", str(obj), str(src)],
                [TOOL_PREFIX + "ld", "-T", str(ld), "--no-relax", "--build-id=none",
                 "--no-warn-rwx-segments", "-o", str(elf), str(obj)]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise BuildError(f"{' '.join(cmd)}\n{r.stderr}")
    return elf


# --- running -----------------------------------------------------------------------------------

@dataclass
class Outcome:
    side: str
    exit_code: int | None = None
    state: bytes | None = None           # x0..x31, f0..f31, fflags, frm, scratch buffer
    printed: bytes | None = None         # the state the program printed, decoded
    regs: dict = field(default_factory=dict)   # more of the hart's final state (rvjit only)
    error: str | None = None
    seconds: float = 0.0


_shared_fp_table = None

# JIT configurations: name -> (tiered, opt_level, hot threshold or None for rvjit's own).
# "jit" is what `rvjit run` uses: every block compiled unoptimised first (these programs never
# get hot). "jit-hot" promotes a block to the optimised tier after its first run, so the second
# tier and the switch between tiers run too; "jit-O2" compiles every block optimised up front.
JIT_CONFIGS = {"jit": (True, 2, None), "jit-hot": (True, 2, 1), "jit-O2": (False, 2, None)}


def _fp_table():
    """The FP runtime is compiled once per process (it takes a second) and handed to every JIT
    run, which otherwise compiles it on its first FP block. 0 when the runtime is unavailable."""
    global _shared_fp_table
    if _shared_fp_table is None:
        from rvjit.backend.engine import Engine
        from rvjit.backend.fptable import fp_table
        engine = Engine(2)            # kept alive with the table: it owns the compiled code
        try:
            _shared_fp_table = (fp_table(engine), None, engine)
        except Exception as e:                # noqa: BLE001  (the runtime is being written)
            _shared_fp_table = (0, f"{type(e).__name__}: {e}", None)
    return _shared_fp_table


def jit_has_fp() -> bool:
    return _fp_table()[0] != 0


def run_rvjit(elf: Path, side: str = "jit", printing: bool = False,
              max_insns: int = MAX_INSNS) -> Outcome:
    """Run on rvjit's reference interpreter (side="interp") or its JIT (a JIT_CONFIGS name).

    An ELF built with stop_at_end halts at the wfi after the body and the state is read from the
    hart; otherwise the epilogue stores it into `result` (and prints it when `printing`)."""
    from rvjit.backend import promotion, translator as translator_module
    from rvjit.backend.runloop import run_interpreted, run_native
    from rvjit.machine import Machine

    out = Outcome(side)
    t0 = time.perf_counter()
    console = io.BytesIO()
    machine = Machine(RAM_SIZE, console=console)
    image = machine.load_elf(str(elf))
    syms = image.symbols
    if not printing:
        machine.ram.store(syms["print_flag"], 0, 8)
    # Nothing else in these programs executes wfi: it marks the end of the body.
    machine.wait_for_interrupt = lambda: machine.halt(STOPPED_AT_WFI)
    saved_threshold = promotion.HOT_THRESHOLD
    try:
        if side == "interp":
            run_interpreted(machine, max_insns)
        else:
            tiered, opt_level, threshold = JIT_CONFIGS[side]
            if threshold is not None:
                promotion.HOT_THRESHOLD = threshold
            translator = translator_module.Translator(machine.hart, opt_level, tiered, background=False)
            if jit_has_fp():
                machine.hart.state.fp_table = _fp_table()[0]
            run_native(machine, translator, max_insns)
            out.regs["promoted"] = translator.stats.promoted
    except Exception as e:                    # noqa: BLE001  (reported as a difference)
        out.error = f"{type(e).__name__}: {e}"
    finally:
        promotion.HOT_THRESHOLD = saved_threshold
    out.seconds = time.perf_counter() - t0
    st = machine.hart.state
    scratch = machine.ram.read(syms["scratch"], SCRATCH_SIZE)
    if machine.exit_code == STOPPED_AT_WFI:
        out.exit_code = 0
        out.state = (struct.pack("<66Q", *st.x, *st.f, st.fflags, st.frm) + scratch)
    else:
        out.exit_code = machine.exit_code
        out.state = machine.ram.read(syms["result"], RESULT_SIZE) + scratch
    out.regs.update(mstatus=st.mstatus, pc=st.pc, instret=machine.hart.instret())
    if printing:
        out.printed = parse_printout(console.getvalue())
    return out


def start_qemu(elf: Path) -> subprocess.Popen:
    cmd = [QEMU, "-M", "spike", "-bios", "none", "-nographic", "-monitor", "none",
           "-kernel", str(elf)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def finish_qemu(proc: subprocess.Popen, timeout: float = 30.0, t0: float | None = None) -> Outcome:
    out = Outcome("qemu")
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        out.error = f"timed out after {timeout} s"
        return out
    out.seconds = time.perf_counter() - t0 if t0 else 0.0
    out.exit_code = proc.returncode
    out.printed = out.state = parse_printout(stdout)
    if out.printed is None:
        out.error = f"no state printed; stdout={stdout[-300:]!r} stderr={stderr[-300:]!r}"
    return out


def run_qemu(elf: Path, timeout: float = 30.0) -> Outcome:
    """Run on QEMU's spike machine; the state is what the program prints on the HTIF console."""
    return finish_qemu(start_qemu(elf), timeout, time.perf_counter())


def parse_printout(text: bytes) -> bytes | None:
    start = text.rfind(b"R:")
    if start < 0:
        return None
    line = text[start + 2:].split(b"\n", 1)[0].strip()
    try:
        data = bytes.fromhex(line.decode("ascii"))
    except ValueError:
        return None
    return data if len(data) == STATE_SIZE else None


# --- comparing ---------------------------------------------------------------------------------

@dataclass
class Mismatch:
    a: str
    b: str
    what: str                      # first difference, described
    detail: str = ""

    def __str__(self):
        return f"{self.a} vs {self.b}: {self.what}" + (f"\n{self.detail}" if self.detail else "")


def _check_outcome(o: Outcome) -> str | None:
    if o.error:
        return f"{o.side} failed: {o.error}"
    if o.exit_code != 0:
        if o.exit_code is not None and o.exit_code >= TRAP_EXIT_BASE and o.side != "qemu":
            return f"{o.side} trapped: mcause={o.exit_code - TRAP_EXIT_BASE}"
        return f"{o.side} exit status {o.exit_code}"
    if o.state is None:
        return f"{o.side} produced no state"
    return None


def first_state_difference(a: bytes, b: bytes) -> str | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            base = i - i % 8 if i < RESULT_SIZE else i
            if base < RESULT_SIZE:
                va = int.from_bytes(a[base:base + 8], "little")
                vb = int.from_bytes(b[base:base + 8], "little")
                return f"{describe_result_offset(i)}: {va:#018x} != {vb:#018x}"
            return f"{describe_result_offset(i)}: {x:#04x} != {y:#04x}"
    return None if len(a) == len(b) else f"state lengths differ: {len(a)} != {len(b)}"


def compare(a: Outcome, b: Outcome, regs: bool = True) -> Mismatch | None:
    """None when the two runs agree; otherwise the first difference."""
    for o in (a, b):
        problem = _check_outcome(o)
        if problem:
            return Mismatch(a.side, b.side, problem)
    diff = first_state_difference(a.state, b.state)
    if diff:
        return Mismatch(a.side, b.side, diff)
    if regs and a.regs and b.regs:
        for key in ("mstatus", "pc", "instret"):
            if a.regs[key] != b.regs[key]:
                return Mismatch(a.side, b.side, f"final {key}: {a.regs[key]:#x} != {b.regs[key]:#x}")
    return None


def check_program(program: Program, workdir, qemu: bool = False, jits=("jit",),
                  name: str = "prog") -> tuple[Mismatch | None, dict]:
    """Build and run one program on the interpreter, each JIT configuration in `jits` and, with
    qemu, QEMU. Returns (first mismatch, outcomes by side).

    interp vs JIT: both stop at the wfi after the body; registers come from the hart.
    QEMU: the full epilogue prints the state; rvjit's interpreter runs that same ELF, and its
    printout must match its RAM and the hart state of the stopped run, then QEMU's printout."""
    outcomes = {}
    qemu_proc = None
    if qemu:
        printing_elf = build(program, workdir, name + "-print")
        t_qemu = time.perf_counter()
        qemu_proc = start_qemu(printing_elf)       # runs while rvjit works
    try:
        elf = build(program, workdir, name, stop_at_end=True)
        interp = outcomes["interp"] = run_rvjit(elf, "interp")
        problem = _check_outcome(interp)
        if problem:
            return Mismatch("interp", "program", problem), outcomes
        for side in jits:
            outcomes[side] = run_rvjit(elf, side)
            m = compare(interp, outcomes[side])
            if m:
                return m, outcomes
        if qemu:
            printed = outcomes["interp-print"] = run_rvjit(printing_elf, "interp", printing=True)
            m = compare(interp, printed, regs=False)
            if m:
                return Mismatch(m.a, m.b, "epilogue: " + m.what), outcomes
            if printed.printed != printed.state:
                return Mismatch("interp-print", "its own RAM", "printed state differs: "
                                + str(first_state_difference(printed.printed or b"", printed.state))), outcomes
            outcomes["qemu"] = finish_qemu(qemu_proc, t0=t_qemu)
            qemu_proc = None
            m = compare(outcomes["qemu"], printed, regs=False)
            if m:
                return m, outcomes
        return None, outcomes
    finally:
        if qemu_proc is not None:
            qemu_proc.kill()
            qemu_proc.communicate()


# --- shrinking a failing program ---------------------------------------------------------------

def _candidates(items: list[Item]):
    """Smaller item lists: drop chunks (halves first), unwrap structured items, recurse."""
    n = len(items)
    chunk = n // 2
    while chunk >= 1:
        for start in range(0, n, chunk):
            yield items[:start] + items[start + chunk:]
        chunk //= 2
    for i, it in enumerate(items):
        if it.children:
            if it.unwrappable:
                yield items[:i] + it.children + items[i + 1:]
            for sub in _candidates(it.children):
                if sub:
                    yield items[:i] + [Item(it.head, sub, it.tail, it.count, it.unwrappable)] + items[i + 1:]


def minimise(program: Program, still_fails, budget_seconds: float = 60.0,
             max_attempts: int = 400) -> Program:
    """Greedy shrinking: accept any candidate for which still_fails(program) holds."""
    deadline = time.monotonic() + budget_seconds
    attempts = 0
    progress = True
    while progress and time.monotonic() < deadline and attempts < max_attempts:
        progress = False
        for items in _candidates(program.items):
            if time.monotonic() >= deadline or attempts >= max_attempts:
                break
            attempts += 1
            candidate = program.with_items(items)
            try:
                if still_fails(candidate):
                    program = candidate
                    progress = True
                    break
            except BuildError:
                continue
    return program


def report(program: Program, mismatch: Mismatch, minimal: Program | None = None,
           minimal_mismatch: Mismatch | None = None) -> str:
    lines = [f"DIFFERENTIAL MISMATCH seed={program.seed} mix={program.mix} n={program.n_insns}",
             f"  reproduce: cd tests && python -m difftest --seed {program.seed} --mix {program.mix} "
             f"--n {program.n_insns} --show",
             f"  {mismatch}"]
    if minimal is not None:
        lines += [f"  minimised body ({minimal.body_size()} instructions)"
                  + (f": {minimal_mismatch}" if minimal_mismatch else ":")]
        lines += ["    " + l for l in minimal.body_lines()]
    lines += ["  full program:", program.asm()]
    return "\n".join(lines)


def shrink_and_report(program: Program, mismatch: Mismatch, qemu: bool, jits=("jit",),
                      budget_seconds: float = 60.0) -> str:
    """Minimise a failing program (looking for any mismatch between the same two sides) and
    describe it."""
    with tempfile.TemporaryDirectory(prefix="difftest-min-") as d:
        def still_fails(candidate):
            m, _ = check_program(candidate, d, qemu=qemu, jits=jits, name="min")
            return m is not None and (m.a, m.b) == (mismatch.a, mismatch.b)
        minimal = minimise(program, still_fails, budget_seconds)
        minimal_mismatch, _ = check_program(minimal, d, qemu=qemu, jits=jits, name="min")
    return report(program, mismatch, minimal, minimal_mismatch)


# --- batches of programs over worker processes -------------------------------------------------

@dataclass
class TaskResult:
    seed: int
    mix: str
    n_insns: int
    mismatch: str | None             # str(Mismatch) of the first difference
    sides: tuple = ()                # the sides that ran and agreed
    body_insns: int = 0              # static size of the body
    retired: int = 0                 # instructions the interpreter retired (prologue + body)
    seconds: dict = field(default_factory=dict)
    report: str = ""                 # seed, assembly and minimised body when mismatched


_worker_tmp = None


def run_task(seed: int, mix: str, n_insns: int, qemu: bool, jits: tuple, fp: bool,
             minimise_seconds: float = 45.0) -> TaskResult:
    """Generate, build, run and compare one program (in a worker process)."""
    global _worker_tmp
    if _worker_tmp is None:
        _worker_tmp = tempfile.TemporaryDirectory(prefix="difftest-")
    from .generator import generate
    program = generate(seed, n_insns, mix, fp=fp, qemu_safe=qemu)
    try:
        mismatch, outcomes = check_program(program, _worker_tmp.name, qemu=qemu, jits=jits,
                                           name=f"p{os.getpid()}")
    except BuildError as e:
        return TaskResult(seed, mix, n_insns, f"program does not assemble: {e}",
                          report=program.asm())
    result = TaskResult(seed, mix, n_insns, str(mismatch) if mismatch else None,
                        tuple(outcomes), program.body_size(),
                        outcomes["interp"].regs.get("instret", 0),
                        {k: o.seconds for k, o in outcomes.items()})
    if mismatch:
        result.report = (shrink_and_report(program, mismatch, qemu, jits, minimise_seconds)
                         if minimise_seconds > 0 else report(program, mismatch))
    return result


def _worker_init():
    _fp_table()                      # compile the FP runtime once per worker, up front


class BatchRunner:
    """run_task over many programs on `workers` processes (default: the CPUs this process may
    use, at most 4), or in this process when workers == 1. Reuse one runner for many batches:
    each worker pays its start-up (imports, FP runtime) once."""

    def __init__(self, workers: int | None = None):
        if workers is None:
            workers = max(1, min(4, len(os.sched_getaffinity(0))))
        self.workers = workers
        self.pool = None
        if workers > 1:
            import concurrent.futures
            import multiprocessing
            # spawn, not fork: the parent may hold LLVM state that a fork would copy badly
            self.pool = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init)

    def run(self, tasks: list[dict]) -> list[TaskResult]:
        if self.pool is None:
            return [run_task(**t) for t in tasks]
        return list(self.pool.map(_run_task_kwargs, tasks))

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


def _run_task_kwargs(task: dict) -> TaskResult:
    return run_task(**task)
