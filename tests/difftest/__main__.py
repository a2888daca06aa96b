"""Reproduce or explore differential tests from the command line.

    cd tests && python -m difftest --seed 17 --mix fp --n 200 --show     # one program
    cd tests && python -m difftest --seeds 0-99 --mix all --qemu          # a range of seeds
"""
import argparse
import sys
import tempfile
import time

from .generator import MIXES, generate
from .harness import JIT_CONFIGS, check_program, have_qemu, jit_has_fp, shrink_and_report


def main(argv=None):
    ap = argparse.ArgumentParser(prog="difftest", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--seeds", default="0-9", help="inclusive range a-b (ignored with --seed)")
    ap.add_argument("--mix", default="all", choices=sorted(MIXES))
    ap.add_argument("--n", type=int, default=200, help="body instructions per program")
    ap.add_argument("--qemu", action="store_true", help="also compare against QEMU")
    ap.add_argument("--jit", default="jit",
                    help="comma-separated JIT configurations to compare with the interpreter: "
                         f"{', '.join(JIT_CONFIGS)} (empty: none)")
    ap.add_argument("--qemu-bugs", action="store_true",
                    help="with --qemu: do not steer around known QEMU bugs (generator.QEMU_BUGS)")
    ap.add_argument("--show", action="store_true", help="print the assembly")
    ap.add_argument("--minimise", action="store_true", help="shrink failing programs")
    args = ap.parse_args(argv)

    if args.seed is not None:
        seeds = [args.seed]
    else:
        lo, _, hi = args.seeds.partition("-")
        seeds = range(int(lo), int(hi or lo) + 1)
    qemu = args.qemu and have_qemu()
    jits = tuple(j for j in args.jit.split(",") if j)
    fp = jit_has_fp() or not jits
    failures = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="difftest-") as d:
        for seed in seeds:
            program = generate(seed, args.n, args.mix, fp=fp, qemu_safe=qemu and not args.qemu_bugs)
            if args.show:
                print(program.asm())
            mismatch, outcomes = check_program(program, d, qemu=qemu, jits=jits)
            times = " ".join(f"{k}={o.seconds:.2f}s" for k, o in outcomes.items())
            insns = outcomes["interp"].regs.get("instret", 0)
            print(f"seed {seed}: {'MISMATCH ' + str(mismatch) if mismatch else 'ok'}"
                  f"  ({insns} insns; {times})", flush=True)
            if mismatch:
                failures += 1
                if args.minimise:
                    print(shrink_and_report(program, mismatch, qemu, jits))
    print(f"{len(seeds) - failures}/{len(seeds)} agree ({time.perf_counter() - t0:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
