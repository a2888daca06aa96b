"""Linux boot benchmark: wall time from start to the busybox shell prompt, rvjit vs QEMU.

    python3 bench/boot.py [IMAGE ...] [--repeat N] [--timeout S]

Each image (guests/linux: debian, small, payload) boots under `qemu-system-riscv64 -M virt` and
under `rvjit boot --stats` with the same files and flags. rvjit boots twice per repeat, with a
compiled-code cache of its own (a fresh temporary directory, --cache-dir): COLD, the directory
empty, then WARM, the directory as the cold boot left it. A QEMU boot goes before each (QEMU has
no such cache, so its two boots measure the same thing twice). The table (bench/table.py) shows
medians over the repeats: seconds to the prompt, ratio rvjit/QEMU, and from rvjit's --stats at
power-off the guest instructions, MIPS and share of the run spent translating; peak RSS is the
rvjit process's high-water mark (VmHWM) once the shell has answered. Built images are cached
(guests/linux/build.py).
"""
import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compute import as_installed, machine_info, parse_stats, qemu_version   # noqa: E402  (bench/compute.py)
from guests.linux import build as lb                     # noqa: E402
from guests.linux.boot import Console, boot_command      # noqa: E402
from table import Row, format_table                      # noqa: E402  (bench/table.py)

QEMU = "qemu-system-riscv64 -M virt -m 512M -nographic"
RVJIT = f"{sys.executable} -m rvjit boot -m 512M"


@dataclass
class Boot:
    seconds: float                    # start to the shell prompt
    stats: dict = field(default_factory=dict)    # rvjit --stats (compute.parse_stats)
    peak_rss_mib: float | None = None
    report: str = ""                  # rvjit's --stats report as printed


def peak_rss_mib(pid: int) -> float | None:
    """The process's resident high-water mark so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024      # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def boot_once(name, paths, emulator: str, timeout: float) -> Boot:
    """Boot to the prompt, check the shell answers, power off; with rvjit --stats, its report."""
    con = Console(boot_command(name, paths, emulator))
    try:
        seconds = con.wait_for_shell(timeout)
        if con.run("echo $((6*7))", timeout).strip() != "42":
            raise RuntimeError(f"{name}: wrong answer from the shell under {emulator}")
        rss = peak_rss_mib(con.proc.pid)
        con.send("poweroff -f")
        con.proc.wait(timeout)
        con.reader.join(timeout)        # the --stats report is the last thing on the console
        text = con.text
        report = text[text.find("rvjit statistics:"):] if "rvjit statistics:" in text else ""
        return Boot(seconds, parse_stats(text), rss, report.replace("\r\n", "\n"))
    finally:
        con.close()


def rvjit_emulator(cache_dir: str) -> str:
    return f"{RVJIT} --stats --cache-dir {shlex.quote(cache_dir)}"


def _median(xs):
    return statistics.median(xs) if xs else None


def _row(label: str, qemu: list[Boot], rvjit: list[Boot]) -> Row:
    def stat(boot, key):
        return boot.stats.get(key)
    complete = [b for b in rvjit if stat(b, "insns") and stat(b, "total_s")]
    return Row(label, _median([b.seconds for b in qemu]), _median([b.seconds for b in rvjit]),
               insns=_median([stat(b, "insns") for b in complete]),
               # over the same span as the instruction count: rvjit's run to power-off
               mips=_median([stat(b, "insns") / stat(b, "total_s") / 1e6 for b in complete]),
               translate_share=_median([stat(b, "translate_s") / stat(b, "total_s")
                                        for b in complete if stat(b, "translate_s") is not None]),
               rss_mib=_median([b.peak_rss_mib for b in rvjit if b.peak_rss_mib is not None]),
               status="ok" if len(complete) == len(rvjit) else "no --stats")


def measure_image(name: str, repeat: int, timeout: float, verbose: bool = False) -> list[Row]:
    """Rows "NAME cold" and "NAME warm" (see the module's docstring)."""
    # The benchmark chooses the cache itself; an inherited RVJIT_NO_CACHE would make warm cold.
    os.environ.pop("RVJIT_NO_CACHE", None)
    as_installed()
    paths = lb.build_image(name)
    runs = {"cold": ([], []), "warm": ([], [])}
    try:
        for i in range(repeat):
            with tempfile.TemporaryDirectory(prefix="rvjit-bench-cache-") as cache:
                for kind in ("cold", "warm"):
                    qemu_runs, rvjit_runs = runs[kind]
                    qemu_runs.append(boot_once(name, paths, QEMU, timeout))
                    rvjit_runs.append(boot_once(name, paths, rvjit_emulator(cache), timeout))
                    if verbose:
                        r = rvjit_runs[-1]
                        print(f"  {name} {kind} #{i + 1}: QEMU {qemu_runs[-1].seconds:.2f} s, "
                              f"rvjit {r.seconds:.2f} s (start-up to first guest insn "
                              f"{r.stats.get('startup_s', float('nan')):.3f} s)\n{r.report}",
                              file=sys.stderr)
    except (TimeoutError, RuntimeError, OSError) as e:
        print(f"{name}: boot failed: {e}", file=sys.stderr)
        return [Row(f"{name} {kind}", None, None, status="FAIL") for kind in ("cold", "warm")]
    return [_row(f"{name} {kind}", *runs[kind]) for kind in ("cold", "warm")]


def check_qemu() -> str | None:
    """Why the boot benchmark cannot run, or None."""
    if shutil.which("qemu-system-riscv64") is None:
        return "qemu-system-riscv64 not found (apt-get install qemu-system-misc)"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*", choices=[[], *lb.IMAGES], default=[],
                    help=f"images to boot (default: all of {', '.join(lb.IMAGES)})")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every boot as it finishes")
    args = ap.parse_args(argv)
    why = check_qemu()
    if why:
        print(why, file=sys.stderr)
        return 2
    print(machine_info())
    print(f"qemu: {qemu_version('qemu-system-riscv64')}; repeats: {args.repeat} (medians shown)")
    sys.stdout.flush()
    rows = []
    for name in args.images or lb.IMAGES:
        rows += measure_image(name, args.repeat, args.timeout, args.verbose)
    print()
    print(format_table(rows))
    return 1 if any(r.status != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
