"""Disk throughput benchmark: sequential write and read inside the guest, rvjit vs QEMU.

    python3 bench/disk.py [--kernel small|debian] [--mib 64] [--repeat N] [--timeout S] [--qemu-only]

The kernel image (guests/linux; default small) boots with root=/dev/vda on a fresh copy of the
rootfs disk image (the pristine image is never booted), under `qemu-system-riscv64 -M virt` (the
disk a virtio-blk-device on virtio-mmio) and under `rvjit boot ... -drive file=COPY,format=raw`.
In the guest's shell, each round runs

    dd if=/dev/zero of=/root/dd.bin bs=1M count=64 oflag=direct conv=fsync     (write)
    dd if=/root/dd.bin of=/dev/null bs=1M iflag=direct                        (read)

with direct I/O (busybox dd has iflag/oflag=direct), so the page cache is not measured; the
caches are also dropped before reading where the kernel has /proc/sys (the small kernel has
not).  Debian's busybox dd prints no timing, so each dd runs between two lines stamped by busybox
`ts` (guest wall clock, microseconds); the host's time for the whole shell command is shown
too, as a check on the guest's clock.  The table has medians over the rounds and the ratio
rvjit/QEMU of the throughputs (below 1: rvjit is slower).  If `rvjit boot` has no -drive
option yet, only QEMU runs.
"""
import argparse
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import boot as boot_bench                                  # noqa: E402  (bench/boot.py)
from guests.linux import build as lb                       # noqa: E402
from guests.linux.boot import Console, boot_command        # noqa: E402
from guests.linux.rootfs import ROOTFS_READY_MARKER, fresh_copy  # noqa: E402

TEST_FILE = "/root/dd.bin"
STAMP = re.compile(r"^(\d+\.\d+) (\S.*)$", re.M)


def rvjit_has_drive() -> bool:
    """Whether this rvjit's `boot` command takes -drive (virtio-blk)."""
    r = subprocess.run([sys.executable, "-m", "rvjit", "boot", "--help"],
                       capture_output=True, text=True)
    return r.returncode == 0 and "-drive" in r.stdout


def timed_dd(con: Console, dd: str, mib: int, timeout: float) -> tuple[float, float]:
    """Run dd in the guest between two `ts`-stamped lines; (guest s, host s)."""
    t0 = time.monotonic()
    out = con.run(f"(echo start; {dd} 2>&1; echo end) | ts %.s", timeout)
    host = time.monotonic() - t0
    stamps = {text: float(t) for t, text in STAMP.findall(out)}
    if f"{mib}+0 records out" not in stamps or "start" not in stamps or "end" not in stamps:
        raise RuntimeError(f"dd failed in the guest: {dd}\n{out}")
    return stamps["end"] - stamps["start"], host


def measure(kernel: str, paths: dict, emulator: str, mib: int, repeat: int, timeout: float) -> dict:
    """Boot once from a fresh disk copy and time `repeat` write+read rounds."""
    with tempfile.TemporaryDirectory(prefix="rvjit-disk-bench-") as tmp:
        disk = fresh_copy(paths["disk"], Path(tmp))
        con = Console(boot_command(kernel, paths, emulator, lb.ROOT_APPEND, disk))
        try:
            con.wait_for_shell(timeout, ROOTFS_READY_MARKER)
            # look at the prompt before typing (busybox's line editor is still waiting for
            # the answer to its cursor-position query, as in tests/test_boot_linux.py)
            time.sleep(3)
            rounds = []
            for _ in range(repeat):
                con.run(f"rm -f {TEST_FILE}; sync", timeout)
                write = timed_dd(con, f"dd if=/dev/zero of={TEST_FILE} bs=1M count={mib} "
                                      "oflag=direct conv=fsync", mib, timeout)
                con.run("[ -w /proc/sys/vm/drop_caches ] && echo 3 > /proc/sys/vm/drop_caches", timeout)
                read = timed_dd(con, f"dd if={TEST_FILE} of=/dev/null bs=1M iflag=direct", mib, timeout)
                rounds.append((write, read))
            con.poweroff(timeout)
        finally:
            con.close()
    med = lambda xs: statistics.median(xs)                 # noqa: E731
    return {"write_s": med(w[0] for w, _ in rounds), "read_s": med(r[0] for _, r in rounds),
            "write_host_s": med(w[1] for w, _ in rounds), "read_host_s": med(r[1] for _, r in rounds)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", choices=("small", "debian"), default="small",
                    help="kernel image to boot with root on the disk (default small)")
    ap.add_argument("--mib", type=int, default=64, help="MiB written and read per round (default 64)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per emulator (default 3; medians)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--qemu-only", action="store_true", help="do not run rvjit")
    args = ap.parse_args(argv)
    if shutil.which("qemu-system-riscv64") is None:
        print("qemu-system-riscv64 not found (apt-get install qemu-system-misc)", file=sys.stderr)
        return 2
    tools = [("QEMU", boot_bench.QEMU)]
    if args.qemu_only:
        pass
    elif rvjit_has_drive():
        tools.append(("rvjit", boot_bench.RVJIT))
    else:
        print("note: `rvjit boot` has no -drive option (virtio-blk) in this tree: QEMU only",
              file=sys.stderr)
    paths = lb.disk_boot_paths(args.kernel)
    print(f"# {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"kernel {args.kernel}, {args.mib} MiB, dd bs=1M direct I/O, medians of {args.repeat}")
    print(f"{'tool':<11} {'write MiB/s':>11} {'read MiB/s':>11}   guest s w/r    host s w/r")
    rates = {}
    for tool, emulator in tools:
        m = measure(args.kernel, paths, emulator, args.mib, args.repeat, args.timeout)
        rates[tool] = (args.mib / m["write_s"], args.mib / m["read_s"])
        print(f"{tool:<11} {rates[tool][0]:>11.1f} {rates[tool][1]:>11.1f}   "
              f"{m['write_s']:6.2f} {m['read_s']:6.2f}  {m['write_host_s']:6.2f} {m['read_host_s']:6.2f}",
              flush=True)
    if "rvjit" in rates:
        (qw, qr), (rw, rr) = rates["QEMU"], rates["rvjit"]
        print(f"{'rvjit/QEMU':<11} {rw / qw:>10.2f}x {rr / qr:>10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
