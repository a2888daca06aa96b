"""The --stats report printed when a run ends."""
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
                  f"  guest insns translated      {ts.guest_insns_translated:>14,}",
                  f"  translations invalidated    {ts.invalidations:>14,}",
                  f"  blocks optimised when hot   {ts.promoted:>14,}"]
        for stage, sec in ts.seconds.items():
            lines.append(f"    {stage:<26}{sec * 1e3:>12.1f} ms")
        caches = [e.cache for e in (translator.engine, translator.hot_engine,
                                    getattr(translator.library, "engine", None))
                  if e is not None and e.cache is not None]
        if caches:
            lines.append(f"  code cache from disk        {sum(c.hits for c in caches):>7,} hits {sum(c.misses for c in caches):>5,} misses"
                         f"  ({caches[0].directory})")
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
              f"  guest MIPS (executing)      {insns / executing / 1e6:>14.1f}",
              f"  guest MIPS (overall)        {insns / max(total_seconds, 1e-9) / 1e6:>14.1f}", ""]
    return "\n".join(lines)
