#!/usr/bin/env python3
"""Compute benchmarks: rvjit against QEMU on the guests of guests/bench.

    python bench/compute.py [--repeat N] [--only NAME] [--timeout SEC]

Builds the benchmark guests if needed (guests/bench/build.py), then runs each
one under `rvjit run --stats` and under
`qemu-system-riscv64 -M spike -bios none -nographic -kernel X.elf`,
alternating the two, N times each, and prints one table of medians
(bench/table.py):

    guest, guest instructions (rvjit --stats), QEMU seconds, rvjit seconds,
    ratio rvjit/QEMU, rvjit guest MIPS (instructions / rvjit seconds),
    share of rvjit's time spent translating (rvjit --stats),
    peak resident size of the rvjit process

Times are wall-clock seconds of the whole emulator process (start-up, ELF
loading and, for rvjit, Python start-up and translation included).  A run
fails if the guest does not exit 0, does not print "<name>: ok", times out,
or prints something different under the two emulators.  The script exits
non-zero if any run failed.  Without qemu-system-riscv64 on PATH only rvjit
is run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
BENCH = str(Path(__file__).resolve().parent)
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

from guests.bench import build as bench_build  # noqa: E402
from table import Row, print_report  # noqa: E402  (bench/table.py)

QEMU = "qemu-system-riscv64"


def qemu_path() -> str | None:
    return shutil.which(QEMU)


def rvjit_command(elf: Path) -> list[str]:
    return [sys.executable, "-m", "rvjit", "run", "--stats", str(elf)]


def qemu_command(elf: Path, qemu: str = QEMU) -> list[str]:
    return [qemu, "-M", "spike", "-bios", "none", "-nographic", "-kernel", str(elf)]


@dataclass
class Run:
    ok: bool
    seconds: float
    returncode: int | None      # None: timed out
    stdout: str
    stderr: str
    stats: dict = field(default_factory=dict)
    why: str = ""
    peak_rss_mib: float | None = None


_STAT_PATTERNS = {
    "insns": r"guest instructions retired\s+([\d,]+)",
    "translate_s": r"time translating\s+([\d.]+)\s*s",
    "total_s": r"total wall time\s+([\d.]+)\s*s",
    "startup_s": r"start-up to first guest insn\s+([\d.]+)\s*s",
}


def parse_stats(stderr: str) -> dict:
    out = {}
    for key, pat in _STAT_PATTERNS.items():
        m = re.search(pat, stderr)
        if m:
            out[key] = float(m.group(1).replace(",", ""))
    return out


def run_process(cmd: list[str], timeout: float, env=None):
    """Run cmd to its end; (returncode or None if it timed out, stdout, stderr, seconds,
    peak resident MiB). Reaped with wait4 to learn the child's own peak resident size."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd=REPO)
    captured = {}

    def drain(name, stream):
        captured[name] = stream.read()
    readers = [threading.Thread(target=drain, args=(n, f), daemon=True)
               for n, f in (("out", p.stdout), ("err", p.stderr))]
    for r in readers:
        r.start()
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        p.kill()
    killer = threading.Timer(timeout, kill)
    killer.start()
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
    killer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)   # reaped here, not by Popen
    for r in readers:
        r.join()
    text = [captured.get(n, b"").decode(errors="replace") for n in ("out", "err")]
    returncode = None if timed_out.is_set() else p.returncode
    return returncode, text[0], text[1], seconds, usage.ru_maxrss / 1024   # Linux: KiB


def run_guest(cmd: list[str], name: str, timeout: float, env=None) -> Run:
    """Run one emulator process; check exit status 0 and the guest's 'ok' line."""
    returncode, stdout, stderr, secs, rss = run_process(cmd, timeout, env)
    if returncode is None:
        return Run(False, secs, None, stdout, stderr, why=f"timed out after {timeout:.0f} s",
                   peak_rss_mib=rss)
    stdout = stdout.replace("\r\n", "\n")
    r = Run(True, secs, returncode, stdout, stderr, parse_stats(stderr), peak_rss_mib=rss)
    if returncode != 0:
        r.ok, r.why = False, f"exit status {returncode}"
    elif not re.search(rf"^{re.escape(name)}: ok\b", stdout, re.M):
        r.ok, r.why = False, "no 'ok' line from the guest"
    return r


def guest_output(stdout: str) -> str:
    """The guest's own console lines (QEMU may add its own chatter)."""
    return "\n".join(l for l in stdout.splitlines() if not l.startswith("qemu-system"))


def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average %.2f %.2f %.2f" % os.getloadavg()
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return f"machine: {cpu}, {os.cpu_count()} CPUs{load}; {when}; Python {platform.python_version()}"


def qemu_version(qemu: str) -> str:
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=30).stdout
        return out.splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def _median(xs):
    return statistics.median(xs) if xs else None


def select_guests(only: list[str] | None) -> list[str]:
    """The guest names asked for (each item may be comma-separated); all of them by default.
    Raises ValueError naming any unknown ones."""
    names = list(bench_build.sources())
    if not only:
        return names
    wanted = [n.strip() for o in only for n in o.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ValueError(f"unknown guest(s) {', '.join(unknown)}; have {', '.join(names)}")
    return wanted


def as_installed():
    """Run rvjit as an installed copy runs: Python keeps the bytecode it compiles (a sandbox or
    CI job may set PYTHONDONTWRITEBYTECODE; then every start compiles rvjit's ~90 modules again,
    ~0.12 s of each run). The first run writes the cache."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def measure_guest(name: str, elf: Path, qemu: str | None, repeat: int, timeout: float,
                  verbose: bool = False) -> tuple[Row, list[str]]:
    """Run one guest `repeat` times under each emulator, alternating; its table row (medians)
    and what failed."""
    as_installed()
    failures = []
    q_runs: list[Run] = []
    r_runs: list[Run] = []
    q_dead = r_dead = False   # stop repeating an emulator after a timeout
    for i in range(repeat):
        todo = []
        if qemu and not q_dead:
            todo.append(("qemu", qemu_command(elf, qemu), q_runs))
        if not r_dead:
            todo.append(("rvjit", rvjit_command(elf), r_runs))
        if i % 2:          # alternate which emulator goes first
            todo.reverse()
        for emu, cmd, runs in todo:
            r = run_guest(cmd, name, timeout)
            runs.append(r)
            if verbose:
                print(f"  {name} {emu} #{i + 1}: {r.seconds:.2f} s "
                      f"{'ok' if r.ok else 'FAILED: ' + r.why}", file=sys.stderr)
            if not r.ok:
                out = guest_output(r.stdout).strip().splitlines()
                err = r.stderr.strip().splitlines()
                detail = "; ".join(out[-3:] + [e for e in err[-3:] if "statistics" not in e])
                failures.append(f"{name} under {emu} (run {i + 1}): {r.why}"
                                + (f" -- {detail}" if detail else ""))
                if r.returncode is None:
                    q_dead = q_dead or emu == "qemu"
                    r_dead = r_dead or emu == "rvjit"
    # Same console output under both emulators (the guests print their results).
    q_ok = [r for r in q_runs if r.ok]
    r_ok = [r for r in r_runs if r.ok]
    if q_ok and r_ok and guest_output(q_ok[0].stdout) != guest_output(r_ok[0].stdout):
        failures.append(f"{name}: output differs between QEMU ({guest_output(q_ok[0].stdout)!r}) "
                        f"and rvjit ({guest_output(r_ok[0].stdout)!r})")

    insns = _median([r.stats["insns"] for r in r_runs if "insns" in r.stats])
    rs = _median([r.seconds for r in r_ok])
    status = "ok"
    if any(r.returncode is None for r in r_runs):
        status = f"rvjit >{timeout:.0f} s"
    elif any(not r.ok for r in r_runs):
        status = "rvjit FAIL"
    if any(not r.ok for r in q_runs):
        status = "QEMU FAIL" if status == "ok" else status + ", QEMU FAIL"
    row = Row(name, _median([r.seconds for r in q_ok]), rs, insns=insns,
              mips=insns / rs / 1e6 if insns and rs else None,
              translate_share=_median([r.stats["translate_s"] / r.stats["total_s"] for r in r_ok
                                       if r.stats.get("total_s")]),
              rss_mib=_median([r.peak_rss_mib for r in r_ok]), status=status)
    return row, failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, metavar="N",
                    help="runs per guest and emulator; the table shows medians (default 3)")
    ap.add_argument("--only", action="append", metavar="NAME",
                    help="run only this guest (repeatable, or comma-separated)")
    ap.add_argument("--timeout", type=float, default=900, metavar="SEC",
                    help="per-run time limit; a run over it fails (default 900)")
    ap.add_argument("--no-qemu", action="store_true", help="run rvjit only")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every run as it finishes")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    try:
        names = select_guests(args.only)
    except ValueError as e:
        ap.error(str(e))
    try:
        elfs = bench_build.build_all(names=names)
    except (bench_build.BuildError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    qemu = None if args.no_qemu else qemu_path()
    print(machine_info())
    print(f"qemu: {qemu_version(qemu) if qemu else 'not run'}; repeats: {args.repeat} "
          "(alternating QEMU/rvjit, medians shown)")
    sys.stdout.flush()

    rows, failures = [], []
    for name in names:
        row, failed = measure_guest(name, elfs[name], qemu, args.repeat, args.timeout, args.verbose)
        rows.append(row)
        failures += failed
    print_report(rows, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
