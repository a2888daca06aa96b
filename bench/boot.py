"""Linux boot benchmark: wall time from start to the busybox shell prompt, rvjit vs QEMU.

    python3 bench/boot.py [IMAGE ...] [--repeat N] [--timeout S]

Each image (guests/linux: debian, small, payload) boots under `qemu-system-riscv64 -M virt` and
under `rvjit boot` with the same files and flags, alternately, N times; the table shows medians
and the ratio rvjit/QEMU. Built images are cached (guests/linux/build.py).
"""
import argparse
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guests.linux import build as lb                     # noqa: E402
from guests.linux.boot import Console, boot_command      # noqa: E402

QEMU = "qemu-system-riscv64 -M virt -m 512M -nographic"
RVJIT = f"{sys.executable} -m rvjit boot -m 512M"


def time_to_prompt(name, paths, emulator, timeout) -> float:
    con = Console(boot_command(name, paths, emulator))
    try:
        seconds = con.wait_for_shell(timeout)
        if con.run("echo $((6*7))", timeout).strip() != "42":
            raise RuntimeError(f"{name}: wrong answer from the shell under {emulator}")
        con.poweroff(timeout)
        return seconds
    finally:
        con.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*", default=list(lb.IMAGES))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)
    if shutil.which("qemu-system-riscv64") is None:
        print("qemu-system-riscv64 not found (apt-get install qemu-system-misc)", file=sys.stderr)
        return 2
    print(f"# {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{'image':<10} {'QEMU s':>8} {'rvjit s':>9} {'ratio':>7}")
    for name in args.images:
        paths = lb.build_image(name)
        q, r = [], []
        for _ in range(args.repeat):
            q.append(time_to_prompt(name, paths, QEMU, args.timeout))
            r.append(time_to_prompt(name, paths, RVJIT, args.timeout))
        qm, rm = statistics.median(q), statistics.median(r)
        print(f"{name:<10} {qm:>8.2f} {rm:>9.2f} {rm / qm:>7.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
