"""A bare-metal machine for `rvjit run`: RAM, CLINT, UART, test device and HTIF around one hart."""
import sys
import threading
import time

from .cpu import callbacks
from .cpu.hart import Hart
from .soc.bus import Bus, Ram
from .soc.clint import Clint
from .soc.htif import Htif
from .soc.syscon import TestDevice
from .soc.uart import Uart16550

RAM_BASE = 0x80000000
CLINT_BASE, TEST_BASE, UART_BASE = 0x2000000, 0x100000, 0x10000000


class Machine:
    def __init__(self, mem_size: int = 128 << 20, console=None):
        self.ram = Ram(RAM_BASE, mem_size)
        self.bus = Bus(self.ram)
        self.hart = Hart(self.bus)
        self.console = console if console is not None else sys.stdout.buffer
        self.console_unflushed = False
        self.exit_code: int | None = None
        self.host_error: BaseException | None = None
        self.image = None
        self.wakeup = threading.Event()
        self.deadline: float | None = None      # time.monotonic() after which the run is stopped
        self.pollers = []                       # devices with a poll() for the run loop
        self.quit_requested = False
        self.add_devices()
        callbacks.install(self.hart, self)

    def add_devices(self):
        """The bare-metal machine: CLINT, test device and UART (no interrupt controller)."""
        self.clint = self.bus.add(CLINT_BASE, 0x10000, Clint(self.hart))
        self.bus.add(TEST_BASE, 0x1000, TestDevice(self))
        self.uart = self.bus.add(UART_BASE, 0x100, Uart16550(self))
        self.uart.serve_natively(self.hart.mem.native_uart_words(UART_BASE))

    def load_elf(self, path):
        from .soc.loader import load_elf
        self.image = load_elf(path, self.ram)
        self.hart.state.pc = self.image.entry
        tohost = self.image.symbols.get("tohost")
        if tohost is not None:
            Htif(self, tohost, self.image.symbols.get("fromhost"))
        return self.image

    # --- called by devices -----------------------------------------------------------------
    def halt(self, code: int):
        if self.exit_code is None:
            self.exit_code = code
        self.hart.request_stop()

    def reset_request(self):
        self.halt(0)

    def quit(self):
        """Stop at the next poll (called from the console thread: touch no hart state here)."""
        self.quit_requested = True
        self.wakeup.set()

    def console_write(self, data: bytes):
        # Flushed at the next poll (at most half a millisecond away while the guest runs), not
        # per byte: a Linux boot prints 20,000 characters, and a write and a wake-up of whoever
        # reads the terminal for each cost the guest about a second.
        self.console.write(data)
        self.console_unflushed = True

    def flush_console(self):
        self.uart.take_native_output()
        if self.console_unflushed:
            self.console_unflushed = False
            self.console.flush()

    # --- called by the run loop ------------------------------------------------------------
    def poll(self):
        self.flush_console()
        if self.quit_requested and self.exit_code is None:
            self.exit_code = 0
        self.clint.update()
        for device in self.pollers:
            device.poll()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeoutError("guest ran past its wall-time limit")

    def wait_for_interrupt(self):
        """wfi: sleep until an enabled interrupt is pending (never busy-spin the host)."""
        hart = self.hart
        while self.exit_code is None:
            self.poll()
            if hart.mip() & hart.csr.mie:
                return
            delay = min(self.clint.seconds_until_timer(), 0.05)
            self.wakeup.wait(delay)
            self.wakeup.clear()


def make_translator(machine, opt_level=2, tiered=True):
    from .backend.translator import Translator
    return Translator(machine.hart, opt_level, tiered)


def run_program(path, mem_size=128 << 20, stats=False, trace=False, interpret=False,
                max_insns=None) -> int:
    """`rvjit run`: load a bare-metal ELF, run it, return the guest's exit status."""
    from .backend.runloop import run_interpreted, run_native
    t0 = time.perf_counter()
    machine = Machine(mem_size)
    machine.load_elf(path)
    if trace or interpret:
        tracer = _tracer(machine) if trace else None
        rs = run_interpreted(machine, max_insns, tracer)
        translator = None
    else:
        translator = make_translator(machine)
        rs = run_native(machine, translator, max_insns)
    if stats:
        from .stats import format_run_stats
        sys.stderr.write(format_run_stats(machine, translator, rs, time.perf_counter() - t0))
    return machine.exit_code if machine.exit_code is not None else 0


def _tracer(machine):
    from .frontend.lift import decode_at
    try:
        from .frontend.disasm import format_insn
    except ImportError:
        format_insn = None

    def trace(hart):
        pc = hart.state.pc
        insn = decode_at(hart.mem.fetch, pc)
        text = "(fetch fault)" if insn is None else (format_insn(insn) if format_insn else insn.name)
        sys.stderr.write(f"{pc:016x}: {text}\n")
    return trace


