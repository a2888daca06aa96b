"""The run loop: enter native code, and do in Python only what must be done in Python.

Each trip into native code runs chained blocks until the instruction budget runs out, a block is
missing, or something needs Python (a trap, mret/wfi/sfence, a device asking to stop).
"""
import ctypes
import gc
import time

from ..stats import startup_clock

from ..cpu.state import EXIT_BUDGET, EXIT_MISS, EXIT_TRAP, EXIT_SYS, SYS_KINDS
from ..cpu.trap import GuestTrap, enter_trap

SLICE = 1 << 20          # instructions per trip into native code before devices are polled
# A trip that uses up its budget in under half of TRIP_NS gets twice the budget next time (up to
# MAX_SLICE_GROWTH times SLICE), one over TRIP_NS half: optimised loops run 2 G instructions a
# second, and a trip back through Python (10-20 us) every half millisecond was 3-4% of their
# time; trips of a millisecond or two keep devices and timers as responsive.
TRIP_NS = 2_000_000
MAX_SLICE_GROWTH = 16
# Devices (timer, console input, disk completions) are polled at most this often: when native
# code leaves every few microseconds (block misses, system instructions) polling at every trip
# cost more than the trips themselves; half a millisecond is nothing to a guest's timer (Linux
# ticks every 4 ms) or to a human.
POLL_INTERVAL_NS = 500_000
# A boot keeps ~100 k translations alive and makes little cyclic garbage (a few thousand objects;
# reference counting frees the rest), yet the collector walked the survivors again and again: a
# third of a second of a Linux boot. While guest code runs, the young generation is collected
# rarely. (Not gc.freeze(): a process running machine after machine, as the tests do, would
# never free the cycles of the earlier ones, their RAM and compiled code.)
RUN_GC_THRESHOLDS = (50000, 20, 1000)


class RunStats:
    def __init__(self):
        self.native_entries = 0
        self.exits = {}
        self.traps = 0
        self.run_seconds = 0.0
        self.first_insn_at = None       # stats.startup_clock() when guest code was first entered


def run_native(machine, translator, max_insns: int | None = None) -> RunStats:
    thresholds = gc.get_threshold()
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    try:
        return _run_native(machine, translator, max_insns)
    finally:
        gc.set_threshold(*thresholds)


def _run_native(machine, translator, max_insns: int | None) -> RunStats:
    hart = machine.hart
    st = hart.state
    state_ptr = ctypes.addressof(st)
    stats = RunStats()
    t_start = time.perf_counter()
    # After a trap or system instruction the next block is usually still in the jump cache:
    # enter it through the native dispatcher, and look it up in Python only if that misses.
    dispatch = translator.dispatch_fn
    reason = EXIT_MISS
    next_poll = 0
    slice_insns = SLICE
    while machine.exit_code is None:
        now = time.monotonic_ns()
        if now >= next_poll:
            machine.poll()
            next_poll = now + POLL_INTERVAL_NS
            if machine.exit_code is not None:
                break
            # hot code found, or optimised regions ready: looked for as often as devices
            translator.promote_hot()
        if st.irq_pending and hart.take_pending_interrupt():    # irq_pending: mip & mie
            stats.traps += 1
        if max_insns is not None and hart.instret() >= max_insns:
            break
        budget = slice_insns if max_insns is None else max(1, min(slice_insns, max_insns - hart.instret()))
        st.budget = hart.slice_budget = budget
        st.exit_reason = 0
        ran = False
        entered = time.monotonic_ns()
        if dispatch is not None and reason != EXIT_MISS:
            dispatch(state_ptr, None)
            # a miss with the budget untouched: nothing ran, the block is not in the jump cache
            ran = st.exit_reason != EXIT_MISS or st.budget != budget
        if not ran:
            try:
                block = translator.lookup(st.pc)
            except GuestTrap as trap:
                hart.take_trap(trap, st.pc)
                stats.traps += 1
                reason = EXIT_TRAP
                continue
            st.exit_reason = 0                  # the dispatcher's miss
            if stats.first_insn_at is None:     # the first entry always comes this way
                stats.first_insn_at = startup_clock()
            block.fn(state_ptr, block.data)
        stats.native_entries += 1
        translator.absorb_native_blocks()      # blocks native code translated (nativeblock)
        hart.mem.absorb_refills()               # TLB fills it walked (tlbrefill)
        hart.retired_base += hart.slice_budget - st.budget
        hart.slice_budget = st.budget
        if machine.host_error is not None:
            raise machine.host_error
        reason = st.exit_reason
        stats.exits[reason] = stats.exits.get(reason, 0) + 1
        if reason == EXIT_BUDGET:
            took = time.monotonic_ns() - entered
            if took < TRIP_NS // 2 and slice_insns < SLICE * MAX_SLICE_GROWTH:
                slice_insns *= 2
            elif took > TRIP_NS and slice_insns > SLICE:
                slice_insns //= 2
        if reason == EXIT_TRAP:
            enter_trap(hart, st.trap_cause, st.trap_tval, st.pc)
            stats.traps += 1
        elif reason == EXIT_SYS:
            if hart.do_sys(SYS_KINDS[st.exit_sys], st.pc) == "wfi":
                machine.wait_for_interrupt()
    machine.flush_console()
    translator.save_hot_profile()           # for the next run (backend.hotprofile)
    stats.run_seconds = time.perf_counter() - t_start
    return stats


def run_interpreted(machine, max_insns: int | None = None, trace=None) -> RunStats:
    """The reference interpreter: one instruction at a time, entirely in Python."""
    hart = machine.hart
    stats = RunStats()
    t_start = time.perf_counter()
    stats.first_insn_at = startup_clock()
    hart.slice_budget = hart.state.budget = 0
    n = 0
    while machine.exit_code is None:
        if n % 1024 == 0:
            machine.poll()
        n += 1
        if hart.take_pending_interrupt():
            stats.traps += 1
        if max_insns is not None and hart.instret() >= max_insns:
            break
        if trace is not None:
            trace(hart)
        if hart.step() == "wfi":
            machine.wait_for_interrupt()
        if machine.host_error is not None:
            raise machine.host_error
    machine.flush_console()
    stats.run_seconds = time.perf_counter() - t_start
    return stats
