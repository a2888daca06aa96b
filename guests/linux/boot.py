"""Boot a guests.linux image on QEMU (or any emulator with QEMU's flags) and drive
its serial console like a person at a terminal.

    python3 -m guests.linux.boot [NAME ...] [--out DIR] [--runs N] [--emulator CMD] [--disk]

boots each image (default: all; `--emulator "rvjit boot"` for rvjit), waits for the shell, runs `uname -a` and
`echo $((6*7))`, powers off with `poweroff -f`, and prints the wall time from
start to the shell prompt.  --disk boots debian/small with root=/dev/vda on a
fresh copy of the rootfs disk image.  As a module:

    from guests.linux.boot import Console, boot_command
    con = Console(boot_command("debian", paths))
    t = con.wait_for_shell()          # seconds to the prompt
    out = con.run("uname -a")
    con.poweroff()
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import build as lb
from .initramfs import PROMPT, READY_MARKER
from .rootfs import ROOTFS_READY_MARKER, fresh_copy

DEFAULT_EMULATOR = "qemu-system-riscv64 -M virt -m 512M -nographic"


def boot_command(name: str, paths: dict[str, Path], emulator: str = DEFAULT_EMULATOR,
                 append: str = "console=ttyS0 earlycon", disk: Path | None = None) -> list[str]:
    """disk: a raw image for the virtio drive; a copy, since the guest writes to it."""
    argv = shlex.split(emulator)
    qemu = "qemu" in Path(argv[0]).name
    return argv + lb.qemu_args(name, paths, append, bios_flag=qemu, disk=disk)


class Console:
    """A guest's serial console on the emulator's stdin/stdout."""

    def __init__(self, cmd: list[str]) -> None:
        self.cmd = cmd
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, bufsize=0)
        self.buf = bytearray()
        self.pos = 0                       # where the next expect() starts looking
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            chunk = self.proc.stdout.read1(65536) if hasattr(self.proc.stdout, "read1") \
                else os.read(self.proc.stdout.fileno(), 65536)
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                self.buf += chunk
                self.cond.notify_all()

    @property
    def text(self) -> str:
        return self.buf.decode(errors="replace")

    def expect(self, pattern: str | bytes, timeout: float) -> re.Match:
        """Wait until pattern (a regex) appears after the last match; return the match."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = rx.search(self.buf, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    tail = self.buf[-2000:].decode(errors="replace")
                    why = "timed out" if left <= 0 else f"emulator exited ({self.proc.returncode})"
                    raise TimeoutError(f"{why} waiting for {pattern!r}; console tail:\n{tail}")
                self.cond.wait(min(left, 0.5))

    def send(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait_for_shell(self, timeout: float = 300, marker: str = READY_MARKER) -> float:
        """Wait for init's ready line (the initramfs's, or rootfs.ROOTFS_READY_MARKER
        for a disk boot) and then the shell prompt; seconds since start."""
        self.expect(re.escape(marker), timeout)
        self.expect(re.escape(PROMPT), timeout)
        return time.monotonic() - self.t0

    def run(self, command: str, timeout: float = 60) -> str:
        """Run a shell command; return its output (without the echoed command line)."""
        self.n_cmd = getattr(self, "n_cmd", 0) + 1
        tag = f"__rvjit{self.n_cmd}__"
        with self.cond:
            self.pos = start = len(self.buf)
        # the tty echoes `__rvjit""N__`, the shell prints `__rvjitN__`: only the output matches
        self.send(f'{command}; echo {tag[:7]}""{tag[7:]}')
        m = self.expect(re.escape(tag) + r"\r?\n", timeout)
        # The line editor wraps a long echoed command line at the terminal width
        # with "\r\r\n" (even inside the tag): undo that, then skip the echo.
        seg = self.buf[start:m.start()].decode(errors="replace").replace("\r\r\n", "")
        seg = seg.replace("\r", "")
        echoed = f'{tag[:7]}""{tag[7:]}'
        if echoed in seg:
            seg = seg.split(echoed, 1)[1]
        out = seg.split("\n", 1)[1] if "\n" in seg else ""
        self.expect(re.escape(PROMPT), timeout)
        return out.rstrip("\n")

    def poweroff(self, timeout: float = 60) -> int:
        self.send("poweroff -f")
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def boot_and_check(name: str, paths: dict[str, Path], emulator: str = DEFAULT_EMULATOR,
                   timeout: float = 300, disk: Path | None = None) -> dict:
    """Boot to the shell, run two commands, power off.  With disk (a copy of
    rootfs.img; paths from build.disk_boot_paths) root is the disk's file system."""
    if disk is None:
        con = Console(boot_command(name, paths, emulator))
        marker = READY_MARKER
    else:
        con = Console(boot_command(name, paths, emulator, lb.ROOT_APPEND, disk))
        marker = ROOTFS_READY_MARKER
    try:
        t = con.wait_for_shell(timeout, marker)
        uname = con.run("uname -a")
        answer = con.run("echo $((6*7))")
        rc = con.poweroff()
        return {"name": name, "to_prompt_s": t, "uname": uname, "answer": answer,
                "exit": rc, "total_s": time.monotonic() - con.t0}
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m guests.linux.boot")
    ap.add_argument("names", nargs="*", choices=[[], *lb.IMAGES], default=[])
    ap.add_argument("--out", help="image directory (as for guests.linux.build)")
    ap.add_argument("--runs", type=int, default=1, help="boots per image (the median is shown)")
    ap.add_argument("--emulator", default=DEFAULT_EMULATOR,
                    help=f"emulator command before the image flags (default: {DEFAULT_EMULATOR})")
    ap.add_argument("--disk", action="store_true",
                    help="root on (a copy of) the rootfs disk: debian and small only")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the console of the last run")
    args = ap.parse_args(argv)
    names = args.names or (["debian", "small"] if args.disk else lb.IMAGES)
    if args.disk and "payload" in names:
        ap.error("--disk boots debian or small (payload has its kernel command line built in)")
    for name in names:
        paths = lb.disk_boot_paths(name, args.out) if args.disk else lb.build_image(name, args.out)
        times = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="rvjit-disk-") as tmp:
                disk = fresh_copy(paths["disk"], Path(tmp)) if args.disk else None
                r = boot_and_check(name, paths, args.emulator, disk=disk)
            ok = r["answer"].strip() == "42" and r["exit"] == 0
            times.append(r["to_prompt_s"])
            print(f"{name}: {'ok' if ok else 'FAILED'}  to prompt {r['to_prompt_s']:.2f} s  "
                  f"total {r['total_s']:.2f} s  | {r['uname']}", flush=True)
            if not ok:
                print(r, file=sys.stderr)
                return 1
        if args.runs > 1:
            print(f"{name}: median to prompt {statistics.median(times):.2f} s over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
