"""pytest-benchmark benchmarks: the compute guests of guests/bench under rvjit and QEMU.

Not part of the default test suite (testpaths = ["tests"]); run them by naming
the directory:

    python -m pytest bench/ [-k crc32] [--benchmark-columns=min,median,max]

Each benchmark runs one guest in a fresh emulator process (one round by
default; set RVJIT_BENCH_ROUNDS for more) and asserts that it exits 0 and
prints its "ok" line.  The QEMU benchmarks are skipped when
qemu-system-riscv64 is not installed.  For a side-by-side table use
bench/compute.py instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compute  # noqa: E402  (bench/compute.py)

from guests.bench import build as bench_build  # noqa: E402

NAMES = list(bench_build.sources())
ROUNDS = int(os.environ.get("RVJIT_BENCH_ROUNDS", "1"))
TIMEOUT = float(os.environ.get("RVJIT_BENCH_TIMEOUT", "1800"))


@pytest.fixture(scope="module")
def elfs():
    try:
        return bench_build.build_all()
    except bench_build.BuildError as e:
        pytest.skip(f"cannot build the benchmark guests: {e}")


def _bench(benchmark, cmd, name):
    result = benchmark.pedantic(compute.run_guest, args=(cmd, name, TIMEOUT),
                                rounds=ROUNDS, iterations=1, warmup_rounds=0)
    assert result.ok, (f"{name}: {result.why}\nstdout:\n{result.stdout[-2000:]}"
                       f"\nstderr:\n{result.stderr[-2000:]}")
    benchmark.extra_info["guest_instructions"] = result.stats.get("insns")
    benchmark.extra_info["translate_seconds"] = result.stats.get("translate_s")
    return result


@pytest.mark.parametrize("name", NAMES)
def test_rvjit(benchmark, elfs, name):
    benchmark.group = name
    _bench(benchmark, compute.rvjit_command(elfs[name]), name)


@pytest.mark.parametrize("name", NAMES)
def test_qemu(benchmark, elfs, name):
    qemu = compute.qemu_path()
    if qemu is None:
        pytest.skip("qemu-system-riscv64 not installed")
    benchmark.group = name
    _bench(benchmark, compute.qemu_command(elfs[name], qemu), name)
