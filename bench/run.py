"""All benchmarks, one table: Linux boots (cold and warm compiled-code cache) and compute guests.

    python3 bench/run.py [--images debian,payload] [--guests crc32,sort] [--repeat N]
                         [--no-boot] [--no-compute] [--markdown] [-v]

Boot rows come from bench/boot.py (rvjit with a private cache: cold, then warm), compute rows
from bench/compute.py (rvjit with the default cache, so warm after the first run); every rvjit
run alternates with a QEMU run of the same guest. Columns: guest, guest instructions, QEMU s,
rvjit s, ratio rvjit/QEMU, guest MIPS, share of rvjit's run spent translating, peak resident
size of the rvjit process (bench/table.py).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import boot as boot_bench                                   # noqa: E402  (bench/boot.py)
import compute                                              # noqa: E402  (bench/compute.py)
from guests.linux import build as lb                        # noqa: E402
from table import print_report                              # noqa: E402  (bench/table.py)

DEFAULT_IMAGES = ("debian", "payload")


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=_names, default=list(DEFAULT_IMAGES), metavar="A,B",
                    help=f"Linux images to boot, of {', '.join(lb.IMAGES)} "
                         f"(default {','.join(DEFAULT_IMAGES)})")
    ap.add_argument("--guests", action="append", metavar="A,B",
                    help="compute guests to run (default: all of guests/bench)")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="runs per row and emulator; medians shown (default 1)")
    ap.add_argument("--timeout", type=float, default=1800, metavar="SEC", help="per run")
    ap.add_argument("--no-boot", action="store_true", help="skip the Linux boots")
    ap.add_argument("--no-compute", action="store_true", help="skip the compute guests")
    ap.add_argument("--markdown", action="store_true", help="print the table for README.md too")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run as it finishes")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    unknown = [n for n in args.images if n not in lb.IMAGES]
    if unknown:
        ap.error(f"unknown image(s) {', '.join(unknown)}; have {', '.join(lb.IMAGES)}")
    try:
        guests = [] if args.no_compute else compute.select_guests(args.guests)
    except ValueError as e:
        ap.error(str(e))
    why = boot_bench.check_qemu()
    if why:
        print(why, file=sys.stderr)
        return 2
    qemu = compute.qemu_path()
    try:
        elfs = compute.bench_build.build_all(names=guests) if guests else {}
    except (compute.bench_build.BuildError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    print(compute.machine_info())
    print(f"qemu: {compute.qemu_version(qemu)}; repeats: {args.repeat} "
          "(alternating QEMU/rvjit, medians shown)")
    sys.stdout.flush()
    rows, failures = [], []
    for name in [] if args.no_boot else args.images:
        rows += boot_bench.measure_image(name, args.repeat, args.timeout, args.verbose)
    for name in guests:
        row, failed = compute.measure_guest(name, elfs[name], qemu, args.repeat, args.timeout,
                                            args.verbose)
        rows.append(row)
        failures += failed
    print_report(rows, failures, args.markdown)
    return 1 if failures or any(r.status == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
