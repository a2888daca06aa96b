#!/usr/bin/env python3
"""Build the rvjit bare-metal guest test programs.

Every guest is built from source with the Debian riscv64-unknown-elf GCC
toolchain (and picolibc for the C programs) into a cache directory:

    python3 -m guests.build [--out DIR] [--force] [--list]

The default output directory is $XDG_CACHE_HOME/rvjit/guests (or
~/.cache/rvjit/guests).  A program is rebuilt only when one of its sources
(its own file, anything in guests/common, or this script) is newer than the
ELF.  As a module:

    from guests.build import build_all
    paths = build_all(out_dir)        # {"isa/rv64i": Path(".../isa/rv64i.elf"), ...}

Program names are "isa/<stem>" for guests/isa/<stem>.S, "priv/<stem>" for
guests/priv/<stem>.S (privileged architecture: paging, delegation; built like
the ISA tests, may include headers next to them) and "c/<stem>" for
guests/c/<stem>.c.  A C program may have guests/c/<stem>.expected holding
the exact text it prints on the HTIF console (see expected_stdout()).

All programs exit through HTIF with status 0 on success; an ISA test that
fails exits with the number of the failing case and prints "FAIL <n>".
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

GUESTS_DIR = Path(__file__).resolve().parent
COMMON_DIR = GUESTS_DIR / "common"
ISA_DIR = GUESTS_DIR / "isa"
PRIV_DIR = GUESTS_DIR / "priv"
C_DIR = GUESTS_DIR / "c"

MARCH = "rv64gc_zba_zbb_zbs"
MABI = "lp64d"
TOOL_PREFIX = os.environ.get("RVJIT_GUEST_PREFIX", "riscv64-unknown-elf-")

COMMON_FLAGS = [
    f"-march={MARCH}",
    f"-mabi={MABI}",
    "-mcmodel=medany",
    "-static",
    "-g",
    f"-I{COMMON_DIR}",
    f"-T{COMMON_DIR / 'link.ld'}",
    "-Wl,--no-warn-rwx-segments",
    "-Wl,--build-id=none",
]
ASM_FLAGS = ["-nostdlib", "-nostartfiles", "-Wl,--no-relax"]
C_FLAGS = [
    "--specs=picolibc.specs",
    "-nostartfiles",
    "-O2",
    "-Wall",
    "-Werror",
    "-ffunction-sections",
    "-fdata-sections",
]


class BuildError(RuntimeError):
    pass


def default_out_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rvjit" / "guests"


def compiler() -> str | None:
    """Path of the cross compiler, or None if it is not installed."""
    return shutil.which(TOOL_PREFIX + "gcc")


def sources() -> dict[str, Path]:
    """Map of program name -> main source file."""
    progs: dict[str, Path] = {}
    for src in sorted(ISA_DIR.glob("*.S")):
        progs[f"isa/{src.stem}"] = src
    for src in sorted(PRIV_DIR.glob("*.S")):
        progs[f"priv/{src.stem}"] = src
    for src in sorted(C_DIR.glob("*.c")):
        progs[f"c/{src.stem}"] = src
    return progs


def expected_stdout(name: str) -> str | None:
    """Exact console output of program `name`, if it has a .expected file."""
    kind, stem = name.split("/", 1)
    p = GUESTS_DIR / kind / f"{stem}.expected"
    return p.read_text() if p.exists() else None


def _deps(src: Path) -> list[Path]:
    deps = [src, Path(__file__).resolve()]
    deps += [p for p in COMMON_DIR.iterdir() if p.is_file()]
    deps += list(src.parent.glob("*.h"))          # headers shared by neighbouring programs
    return deps


def up_to_date(out: Path, deps: list[Path]) -> bool:
    if not out.exists():
        return False
    t = out.stat().st_mtime
    return all(d.stat().st_mtime <= t for d in deps)


def _command(name: str, src: Path, out: Path, cc: str) -> list[str]:
    if name.startswith(("isa/", "priv/")):
        return [cc, *COMMON_FLAGS, *ASM_FLAGS, str(src), "-o", str(out)]
    return [
        cc, *COMMON_FLAGS, *C_FLAGS,
        str(COMMON_DIR / "crt0.S"), str(COMMON_DIR / "htif.c"), str(src),
        "-lm", "-o", str(out),
    ]


def build_file(src: str | os.PathLike, out: str | os.PathLike, kind: str = "isa") -> Path:
    """Build one source file (kind "isa" for an assembly test, "c" for a C
    program) unconditionally into `out`; used e.g. to build mutated copies."""
    cc = compiler()
    if cc is None:
        raise BuildError(f"{TOOL_PREFIX}gcc not found")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = _command(f"{kind}/x", Path(src), out, cc)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"building {src} failed:\n{' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return out


def build_one(name: str, out_dir: Path, force: bool = False, verbose: bool = False) -> Path:
    srcs = sources()
    if name not in srcs:
        raise KeyError(name)
    src = srcs[name]
    cc = compiler()
    if cc is None:
        raise BuildError(f"{TOOL_PREFIX}gcc not found (apt-get install gcc-riscv64-unknown-elf "
                         "picolibc-riscv64-unknown-elf)")
    out = Path(out_dir) / f"{name}.elf"
    if not force and up_to_date(out, _deps(src)):
        return out
    return compile_to(name, lambda tmp: _command(name, src, tmp, cc), out, verbose)


def compile_to(name: str, command, out: Path, verbose: bool = False) -> Path:
    """Run command(tmp_path) and move the result to out only if it succeeded (no half-built
    ELF is ever left where a later up-to-date check would trust it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}{out.suffix}")
    cmd = command(tmp)
    if verbose:
        print(" ".join(cmd), file=sys.stderr)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"building {name} failed:\n{' '.join(cmd)}\n{r.stdout}{r.stderr}")
    os.replace(tmp, out)
    return out


def build_all(out_dir: str | os.PathLike | None = None, force: bool = False,
              verbose: bool = False) -> dict[str, Path]:
    """Build every guest (if out of date); return {name: path to ELF}."""
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    return {name: build_one(name, out, force=force, verbose=verbose) for name in sources()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None,
                    help=f"output directory (default {default_out_dir()})")
    ap.add_argument("--force", action="store_true", help="rebuild everything")
    ap.add_argument("-v", "--verbose", action="store_true", help="print compiler commands")
    ap.add_argument("--list", action="store_true", help="only list program names")
    ap.add_argument("names", nargs="*", help="build only these programs")
    args = ap.parse_args(argv)
    if args.list:
        for name in sources():
            print(name)
        return 0
    out = args.out if args.out is not None else default_out_dir()
    try:
        if args.names:
            paths = {n: build_one(n, out, args.force, args.verbose) for n in args.names}
        else:
            paths = build_all(out, args.force, args.verbose)
    except (BuildError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"guests built in {out.resolve()}")
    for name, path in paths.items():
        print(f"  {name:24s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
