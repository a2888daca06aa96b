#!/usr/bin/env python3
"""Build the rvjit compute benchmarks (guests/bench/*.c) as bare-metal guests.

    python3 guests/bench/build.py [--out DIR] [--force] [--list] [--host] [NAME...]
    python3 -m guests.bench.build ...

ELFs go to <guest cache>/bench/<name>.elf, i.e. ~/.cache/rvjit/guests/bench/
by default (the guest cache directory is the one of guests/build.py).  They
are built with -O2 -march=rv64gc -mabi=lp64d against guests/common (crt0.S,
htif.c, link.ld) and picolibc, and rebuilt only when a source is newer.

--host builds native executables instead (cc -O2 -DBENCH_HOST) into
<out>/host/, for debugging a kernel or recomputing its expected values.

As a module:

    from guests.bench.build import build_all
    paths = build_all()            # {"crc32": Path(".../bench/crc32.elf"), ...}
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
GUESTS_DIR = BENCH_DIR.parent
REPO_DIR = GUESTS_DIR.parent

if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

from guests import build as _gb  # noqa: E402  (shared settings and build steps)

COMMON_DIR = _gb.COMMON_DIR
TOOL_PREFIX = _gb.TOOL_PREFIX
BuildError = _gb.BuildError

MARCH = "rv64gc"
MABI = "lp64d"

GUEST_FLAGS = [
    f"-march={MARCH}", f"-mabi={MABI}", "-mcmodel=medany", "-static", "-O2", "-g",
    "-Wall", "-Werror",
    "--specs=picolibc.specs", "-nostartfiles",
    f"-I{BENCH_DIR}", f"-I{COMMON_DIR}",
    f"-T{COMMON_DIR / 'link.ld'}",
    "-Wl,--no-warn-rwx-segments", "-Wl,--build-id=none",
]
HOST_FLAGS = ["-O2", "-Wall", "-Werror", "-DBENCH_HOST", f"-I{BENCH_DIR}"]


def default_out_dir() -> Path:
    return _gb.default_out_dir() / "bench"


def sources() -> dict[str, Path]:
    """Map of benchmark name -> source file."""
    return {src.stem: src for src in sorted(BENCH_DIR.glob("*.c"))}


def _deps(src: Path, host: bool) -> list[Path]:
    deps = [src, BENCH_DIR / "bench.h", Path(__file__).resolve()]
    if not host:
        deps += [COMMON_DIR / n for n in ("crt0.S", "htif.c", "htif.h", "link.ld")]
    return deps


def build_one(name: str, out_dir: Path | None = None, force: bool = False,
              verbose: bool = False, host: bool = False) -> Path:
    srcs = sources()
    if name not in srcs:
        raise KeyError(f"no benchmark named {name!r} (have: {', '.join(srcs)})")
    src = srcs[name]
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir()
    if host:
        cc = shutil.which(os.environ.get("CC", "cc"))
        if cc is None:
            raise BuildError("no host C compiler (cc) found")
        out = out_dir / "host" / name
        cmd_head = [cc, *HOST_FLAGS, str(src), "-lm", "-o"]
    else:
        cc = shutil.which(TOOL_PREFIX + "gcc")
        if cc is None:
            raise BuildError(f"{TOOL_PREFIX}gcc not found (apt-get install gcc-riscv64-unknown-elf "
                             "picolibc-riscv64-unknown-elf)")
        out = out_dir / f"{name}.elf"
        cmd_head = [cc, *GUEST_FLAGS, str(COMMON_DIR / "crt0.S"), str(COMMON_DIR / "htif.c"),
                    str(src), "-lm", "-o"]
    if not force and _gb.up_to_date(out, _deps(src, host)):
        return out
    return _gb.compile_to(name, lambda tmp: [*cmd_head, str(tmp)], out, verbose)


def build_all(out_dir: str | os.PathLike | None = None, force: bool = False,
              verbose: bool = False, names: list[str] | None = None,
              host: bool = False) -> dict[str, Path]:
    """Build the benchmarks (if out of date); return {name: path to ELF}."""
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    return {n: build_one(n, out, force=force, verbose=verbose, host=host)
            for n in (names or list(sources()))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None,
                    help=f"output directory (default {default_out_dir()})")
    ap.add_argument("--force", action="store_true", help="rebuild everything")
    ap.add_argument("-v", "--verbose", action="store_true", help="print compiler commands")
    ap.add_argument("--list", action="store_true", help="only list benchmark names")
    ap.add_argument("--host", action="store_true",
                    help="build native host executables (-DBENCH_HOST) instead")
    ap.add_argument("names", nargs="*", help="build only these benchmarks")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(sources()))
        return 0
    try:
        paths = build_all(args.out, args.force, args.verbose, args.names or None, args.host)
    except (BuildError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"  {name:12s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
