"""The boot console as a person uses it: on a terminal (a pty here), keys go to the guest,
Ctrl-A h shows help, Ctrl-A x quits with the terminal restored; on pipes it is a plain pipe."""
import os
import pty
import select
import subprocess
import sys
import termios
import time

import pytest

# A flat firmware: print "ok\n" on the UART, then echo every received byte back, forever.
#   lui t0,0x10000 ; li t1,'o' ; sb t1,0(t0) ; li t1,'k' ; sb t1,0(t0) ; li t1,10 ; sb t1,0(t0)
#   1: lbu t1,5(t0) ; andi t1,t1,1 ; beqz t1,1b ; lbu t1,0(t0) ; sb t1,0(t0) ; j 1b
ECHO_FIRMWARE = bytes.fromhex(
    "b7020010" "1303f006" "23806200" "1303b006" "23806200" "1303a000" "23806200"
    "03c35200" "13731300" "e30c03fe" "03c30200" "23806200" "6ff01fff")


def _read_until(fd, needle: bytes, timeout=60.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} in {out!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out


@pytest.fixture
def firmware(tmp_path):
    path = tmp_path / "echo.bin"
    path.write_bytes(ECHO_FIRMWARE)
    return path


def test_terminal_keys_help_and_quit(firmware):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([sys.executable, "-m", "rvjit", "boot", str(firmware), "-m", "16M"],
                            stdin=slave, stdout=slave, stderr=slave)
    try:
        _read_until(master, b"ok")
        os.write(master, b"hi")                       # raw mode: no Enter needed
        _read_until(master, b"hi")
        os.write(master, b"\x01h")
        _read_until(master, b"Ctrl-A x")
        os.write(master, b"\x01x")
        assert proc.wait(30) == 0
        assert termios.tcgetattr(slave) == before     # the terminal is restored
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)


def test_pipes_pass_bytes_through(firmware):
    proc = subprocess.Popen([sys.executable, "-m", "rvjit", "boot", str(firmware), "-m", "16M"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        proc.stdin.write(b"\x01xyz\n")                # no escape handling on a pipe
        proc.stdin.flush()
        out = _read_until(proc.stdout.fileno(), b"xyz\n")
        assert b"ok\n\x01xyz\n" in out
    finally:
        proc.kill()
        proc.wait()
