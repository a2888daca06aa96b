"""The --stats report printed when a run ends."""
import os
import time

from .cpu.state import EXIT_BUDGET, EXIT_MISS, EXIT_TRAP, EXIT_SYS, EXIT_STOP

_EXIT_NAMES = {EXIT_BUDGET: "budget", EXIT_MISS: "block miss", EXIT_TRAP: "trap", EXIT_SYS: "system insn",
               EXIT_STOP: "device/stop"}


def format_run_stats(machine, translator, rs, total_seconds) -> str:
    insns = machine.hart.instret()
    lines = ["", "rvjit statistics:",
             f"  guest instructions retired  {insns:>14,}"]
    translate = 0.0
    if translator is not None:
        ts = translator.stats
        translate = sum(ts.seconds.values())
        lines += [f"  blocks translated           {ts.blocks:>14,}",
                  f"    natively (no trip to Python){ts.native_blocks:>12,}",
                  f"  guest insns translated      {ts.guest_insns_translated:>14,}",
                  f"  translations invalidated    {ts.invalidations:>14,}",
                  f"  blocks optimised when hot   {ts.promoted:>14,}"]
        if translator.hot_profile is not None:
            lines.append(f"    regions from hot profile  {ts.hinted:>10,} linked {ts.hints_missed:>5,} not on disk")
        for stage, sec in ts.seconds.items():
            lines.append(f"    {stage:<26}{sec * 1e3:>12.1f} ms")
        caches = [e.cache for e in (translator.engine, translator.hot_engine,
                                    getattr(translator.library, "engine", None),
                                    getattr(translator.library, "word_engine", None))
                  if e is not None and e.cache is not None]
        if caches:
            lines.append(f"  code cache from disk        {sum(c.hits for c in caches):>7,} hits {sum(c.misses for c in caches):>5,} misses"
                         f"  ({caches[0].directory}; {sum(c.evicted for c in caches):,} evicted)")
        lines += _tier_lines(translator, insns)
        if translator.compiler is not None:
            lines.append(f"  optimising on 2nd thread    {ts.background_seconds * 1e3:>11.1f} ms  (not in the time below)")
        e = translator.engine
        lines.append(f"      (llvm parse {e.parse_seconds * 1e3:.1f} ms, optimise {e.opt_seconds * 1e3:.1f} ms, "
                     f"codegen {e.codegen_seconds * 1e3:.1f} ms)")
        if ts.blocks:
            lines.append(f"    per guest insn            {translate / max(1, ts.guest_insns_translated) * 1e6:>12.1f} us")
        lines.append(f"  native entries              {rs.native_entries:>14,}")
        for reason, count in sorted(rs.exits.items()):
            lines.append(f"    exits: {_EXIT_NAMES.get(reason, reason):<19}{count:>14,}")
    executing = max(rs.run_seconds - translate, 1e-9)
    lines += [f"  traps taken                 {rs.traps:>14,}",
              f"  time translating            {translate:>13.3f} s",
              f"  time executing              {executing:>13.3f} s",
              f"  total wall time             {total_seconds:>13.3f} s",
              *_startup_line(rs),
              f"  guest MIPS (executing)      {insns / executing / 1e6:>14.1f}",
              f"  guest MIPS (overall)        {insns / max(total_seconds, 1e-9) / 1e6:>14.1f}", ""]
    return "\n".join(lines)


def startup_clock() -> float:
    """Now, on the clock the kernel dates processes by (/proc/PID/stat starttime: boot time)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def process_start() -> float | None:
    """When this process was started (exec'd, so Python's own start-up counts), on
    startup_clock(); to the kernel's clock tick (usually 10 ms). None where there is no /proc."""
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        # fields after the command name, which is in parentheses and may hold anything
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        return start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _startup_line(rs) -> list[str]:
    started = process_start()
    if started is None or rs.first_insn_at is None:
        return []
    return [f"  start-up to first guest insn{rs.first_insn_at - started:>13.3f} s  (from process start)"]


def _hits(*engines) -> int:
    return sum(e.cache.hits for e in engines if e is not None and e.cache is not None)


def _tier_lines(translator, retired) -> list[str]:
    """Blocks, guest instructions run (block runs x lengths), compile time, compile time per
    guest instruction translated, and disk-cache hits of each tier."""
    ts, sec = translator.stats, translator.stats.seconds
    first = min(translator.first_tier_insns(), retired)
    first_compile = sum(sec[k] for k in ("decode+lift", "threading", "handler-compile", "llvm-ir", "llvm-compile"))
    hot_compile = sec["optimising hot"] + ts.background_seconds
    rows = [("first tier (threaded)", ts.blocks, first, first_compile, ts.guest_insns_translated,
             _hits(translator.engine, getattr(translator.library, "engine", None),
                   getattr(translator.library, "word_engine", None)))]
    if translator.hot_engine is not None:
        rows.append(("optimised regions", ts.promoted, retired - first, hot_compile, ts.promoted_insns,
                     _hits(translator.hot_engine)))
    lines = [f"  {'per tier':<24}{'blocks':>10}{'guest insns run':>17}{'compile ms':>12}"
             f"{'us/insn translated':>20}{'disk hits':>11}"]
    for name, blocks, run, seconds, translated, hits in rows:
        per_insn = f"{seconds / translated * 1e6:.1f}" if translated else "-"
        lines.append(f"    {name:<22}{blocks:>10,}{run:>17,}{seconds * 1e3:>12.1f}{per_insn:>20}{hits:>11,}")
    return lines
