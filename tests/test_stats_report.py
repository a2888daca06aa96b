"""The --stats report of a real `rvjit run` process: the start-up line."""
import re
import subprocess
import sys
import time

import pytest

from guests.build import build_all, compiler

pytestmark = pytest.mark.skipif(compiler() is None, reason="riscv64-unknown-elf-gcc not installed")


def test_stats_report_start_up_to_first_guest_instruction():
    hello = build_all()["c/hello"]
    started = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "rvjit", "run", "--stats", str(hello)],
                       capture_output=True, text=True, timeout=120)
    process_seconds = time.monotonic() - started
    assert p.returncode == 0, p.stderr
    m = re.search(r"start-up to first guest insn\s+([\d.]+) s", p.stderr)
    assert m, p.stderr
    # Measured from the process's start, so it is inside the process's lifetime; not a speed test.
    assert 0 < float(m.group(1)) < process_seconds
