"""The `rvjit` command line.

Handlers validate user input with the cheap checks in rvjit.soc.loader before
importing the JIT machinery, so bad input is reported fast and as one line.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys

from rvjit.errors import GuestInputError, RvjitError
from rvjit.soc import loader

PROG = "rvjit"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("rvjit")
    except PackageNotFoundError:  # running from a source checkout
        return "0.1.0"


class _VersionAction(argparse.Action):
    """--version: looks the installed version up only when asked (the package metadata
    lookup costs tens of milliseconds of every start-up otherwise)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {_version()}")      # on stdout, like argparse's own action
        parser.exit()


def _address(text: str) -> int:
    """argparse type for guest addresses: hex (0x...) or decimal."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid address '{text}': use hex like 0x80000000 or decimal") from None
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError(f"invalid address '{text}': not a 64-bit address")
    return value


def _mem_size(text: str, default: str) -> int:
    return loader.parse_mem_size(default if text is None else text)


def _cmd_run(args: argparse.Namespace) -> int:
    mem_size = _mem_size(args.memory, "128M")
    loader.check_elf(args.program, ram_size=mem_size)
    from rvjit.machine import run_program
    return run_program(args.program, mem_size=mem_size, stats=args.stats, trace=args.trace)


def _cmd_explain(args: argparse.Namespace) -> int:
    mem_size = _mem_size(args.memory, "128M")
    loader.check_elf(args.program, ram_size=mem_size)
    from rvjit.explain import explain_block
    print(explain_block(args.program, pc=args.pc, symbol=args.symbol,
                        mem_size=mem_size, opt=args.opt))
    return 0


def _cmd_disasm(args: argparse.Namespace) -> int:
    loader.check_elf(args.program)
    from rvjit.frontend.disasm_listing import disassemble_elf
    sys.stdout.write(disassemble_elf(args.program))
    return 0


def _cmd_boot(args: argparse.Namespace) -> int:
    mem_size = _mem_size(args.memory, "512M")
    if _is_elf(args.firmware):
        loader.check_elf(args.firmware, ram_size=mem_size)
    else:
        loader.check_file(args.firmware, "firmware file")
    for path, what in ((args.kernel, "kernel image"), (args.initrd, "initrd file"),
                       (args.dtb, "device tree file")):
        if path is not None:
            loader.check_file(path, what)
    if args.dump_dtb is not None:
        parent = os.path.dirname(os.path.abspath(args.dump_dtb))
        if not os.path.isdir(parent):
            raise GuestInputError(f"{args.dump_dtb}: cannot write: no such directory {parent}")
    from rvjit.soc.virtio.drives import plan_slots
    virtio = plan_slots(args.drive, args.device)
    sstc = _cpu_sstc(args.cpu)
    from rvjit.board import boot
    return boot(firmware=args.firmware, kernel=args.kernel, initrd=args.initrd,
                append=args.append, mem_size=mem_size, dtb=args.dtb,
                dump_dtb=args.dump_dtb, stats=args.stats, virtio=virtio, sstc=sstc)


def _cpu_sstc(spec: str | None) -> bool | None:
    """-cpu rv64[,sstc=on|off] -> Sstc wanted (None: the firmware decides)."""
    if spec is None:
        return None
    model, *props = spec.split(",")
    if model != "rv64":
        raise GuestInputError(f"-cpu {spec}: unknown CPU model {model!r} (rvjit has rv64)")
    sstc = None
    for prop in props:
        name, _, value = prop.partition("=")
        if name != "sstc" or value not in ("on", "off", "true", "false"):
            raise GuestInputError(f"-cpu {spec}: unknown property {prop!r} (rv64 has sstc=on|off)")
        sstc = value in ("on", "true")
    return sstc


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False  # check_file reports the real problem


def _add_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir", metavar="DIR",
        help="keep what is compiled from the guest's code here between runs, with the decoded "
             "instruction words, the handlers needed and the regions that were hot (default "
             "$XDG_CACHE_HOME/rvjit/objects, i.e. ~/.cache/rvjit/objects). rvjit's own compiled "
             "instruction handlers stay in ~/.cache/rvjit/library ($RVJIT_LIBRARY_DIR)")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the compiled-code cache or the handler library")
    parser.add_argument("--cache-size", metavar="SIZE", type=_cache_size,
                        help="bound on the compiled-code cache directory, like 256M or 2G; the "
                             "least recently used objects go first when it is full (default 512M)")


def _cache_size(text: str) -> str:
    from rvjit.backend.objcache import parse_size
    try:
        parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _apply_cache_options(args: argparse.Namespace) -> None:
    # The engines read these when they are created (rvjit.backend.objcache).
    if getattr(args, "cache_size", None):
        os.environ["RVJIT_CACHE_SIZE"] = args.cache_size
    if getattr(args, "no_cache", False):
        os.environ["RVJIT_NO_CACHE"] = "1"
    elif getattr(args, "cache_dir", None):
        os.environ["RVJIT_CACHE_DIR"] = os.path.abspath(args.cache_dir)


def _add_memory(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "-m", "--memory", metavar="SIZE",
        help=f"guest RAM size, QEMU style: 128M, 1G, or a bare number of MiB "
             f"(default {default})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="A JIT-compiling RISC-V RV64GC full-system emulator. Guest code "
                    "is translated block by block to native code with LLVM.")
    parser.add_argument("--version", action=_VersionAction,
                        help="show program's version number and exit")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND",
        help="one of the commands below; 'rvjit COMMAND --help' describes each")

    run = sub.add_parser(
        "run", allow_abbrev=False, help="run a bare-metal RV64 ELF program",
        description="Run a bare-metal RISC-V RV64 ELF program (linked at 0x80000000) "
                    "and exit with the guest's exit status.")
    run.add_argument("program", metavar="PROGRAM.elf", help="RV64 ELF program to run")
    _add_memory(run, "128M")
    run.add_argument("--stats", action="store_true",
                     help="print JIT and execution statistics at exit")
    run.add_argument("--trace", action="store_true",
                     help="trace each executed block to stderr (slow)")
    _add_cache(run)
    run.set_defaults(handler=_cmd_run)

    explain = sub.add_parser(
        "explain", allow_abbrev=False,
        help="show how one guest block is translated",
        description="Show the guest instructions of one basic block and the LLVM IR "
                    "and native code the JIT produces for it.")
    explain.add_argument("program", metavar="PROGRAM.elf", help="RV64 ELF program")
    where = explain.add_mutually_exclusive_group(required=True)
    where.add_argument("--pc", type=_address, metavar="ADDR",
                       help="guest address of the block (hex 0x... or decimal)")
    where.add_argument("--symbol", metavar="NAME", help="start the block at this function")
    _add_memory(explain, "128M")
    explain.add_argument("--opt", type=int, choices=range(4), default=2, metavar="LEVEL",
                         help="LLVM optimisation level 0-3 (default 2)")
    explain.set_defaults(handler=_cmd_explain)

    disasm = sub.add_parser(
        "disasm", allow_abbrev=False, help="disassemble an RV64 ELF program",
        description="Disassemble the code of a RISC-V RV64 ELF program using "
                    "rvjit's own decoder, labelled with its symbols.")
    disasm.add_argument("program", metavar="PROGRAM.elf", help="RV64 ELF program")
    disasm.set_defaults(handler=_cmd_disasm)

    boot = sub.add_parser(
        "boot", allow_abbrev=False, help="boot firmware and an OS (e.g. OpenSBI + Linux)",
        description="Boot a full system on a virt-like board: firmware (e.g. OpenSBI, "
                    "ELF or raw binary) and optionally a kernel, initrd and device "
                    "tree. Options are spelled as in qemu-system-riscv64.")
    boot.add_argument("firmware", metavar="FIRMWARE",
                      help="M-mode firmware loaded at 0x80000000 (ELF or raw binary)")
    boot.add_argument("-kernel", "--kernel", dest="kernel", metavar="IMAGE",
                      help="kernel image handed to the firmware")
    boot.add_argument("-initrd", "--initrd", dest="initrd", metavar="FILE",
                      help="initial ramdisk")
    boot.add_argument("-append", "--append", dest="append", metavar="ARGS",
                      help="kernel command line")
    _add_memory(boot, "512M")
    boot.add_argument("-cpu", "--cpu", dest="cpu", metavar="rv64[,sstc=on|off]",
                      help="the CPU model, as QEMU spells it: rv64 (RV64GC with Zba, Zbb, "
                           "Zbs), with the Sstc timer (stimecmp) on or off. Default: Sstc on "
                           "when the firmware is OpenSBI, which enables it for the kernel; off "
                           "for others such as bbl, which does not")
    boot.add_argument("-dtb", "--dtb", dest="dtb", metavar="FILE",
                      help="use this device tree blob instead of the generated one")
    boot.add_argument("-drive", "--drive", dest="drive", action="append", default=[],
                      metavar="OPTS",
                      help="file=IMG,format=raw[,readonly=on][,if=virtio]: a raw disk image as a virtio-blk disk (/dev/vda, vdb, ... in Linux); "
                           "repeat for more. Also serial=S, and if=none,id=NAME for use with "
                           "-device virtio-blk-device,drive=NAME. Writes go to the file; the "
                           "image is locked while in use")
    boot.add_argument("-device", "--device", dest="device", action="append", default=[],
                      metavar="NAME",
                      help="add a virtio device: virtio-serial-device (a console: boot Linux "
                           "with console=hvc0), virtio-rng-device (entropy from the host), "
                           "virtio-blk-device,drive=NAME. Drives take the first virtio slots, "
                           "then devices in the order given")
    boot.add_argument("--dump-dtb", dest="dump_dtb", metavar="FILE",
                      help="write the generated device tree blob to FILE")
    boot.add_argument("--stats", action="store_true",
                      help="print JIT and execution statistics at exit")
    _add_cache(boot)
    boot.set_defaults(handler=_cmd_boot)
    return parser


def _say(message: str) -> None:
    # One line, whatever the message contains, so errors stay grep-able.
    text = " ".join(message.split()) or "unknown error"
    print(f"{PROG}: error: {text}", file=sys.stderr)


def _main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # usage errors (2), --help/--version (0)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if args.command is None:
        parser.print_usage(sys.stderr)
        return 2
    _apply_cache_options(args)
    try:
        status = args.handler(args)
        sys.stdout.flush()  # surface a broken pipe here, not at interpreter exit
        return int(status or 0)
    except GuestInputError as e:
        _say(str(e))
        return 2
    except RvjitError as e:
        _say(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); point stdout at /dev/null so
        # Python's exit-time flush does not complain, and exit like SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def main(argv: list[str] | None = None) -> None:
    """Exits (SystemExit) with _main's status."""
    sys.exit(_main(argv))


def console_main() -> None:
    """The `rvjit` command: exits the process with _main's status. Exit handlers (saved word
    tables, handler bundles, the terminal's mode) run and output is flushed, but the interpreter
    is not torn down object by object: freeing a boot's translations and guest RAM that way
    took a tenth of a second."""
    status = _main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):     # a closed or broken pipe: nothing more can be said
            pass
    os._exit(status)
