"""The guest console on the user's terminal.

On a terminal: raw mode (keys go to the guest as typed, Ctrl-C included), Ctrl-A x quits,
Ctrl-A h lists the keys, Ctrl-A a sends a literal Ctrl-A, and the terminal is restored however
rvjit ends. Otherwise stdin and stdout are plain pipes, so scripts and tests can drive the guest.
"""
import atexit
import os
import signal
import sys
import threading

CTRL_A = 0x01
HELP = (b"\r\nrvjit console keys:\r\n"
        b"  Ctrl-A x    quit rvjit\r\n"
        b"  Ctrl-A h    show this help\r\n"
        b"  Ctrl-A a    send Ctrl-A to the guest\r\n")


class Console:
    def __init__(self, machine, receive, stdin=None, stdout=None):
        self.machine = machine
        self.receive = receive                   # receive(bytes): into the guest's UART
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout.buffer
        self.saved_tty = None
        self.escape = False
        self.quit_requested = False

    # --- terminal mode -------------------------------------------------------------------------
    def __enter__(self):
        try:
            fd = self.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        if fd is not None and os.isatty(fd):
            import termios
            import tty
            self.saved_tty = (fd, termios.tcgetattr(fd))
            tty.setraw(fd)
            atexit.register(self.restore)
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, self._on_signal)
        if fd is not None:
            threading.Thread(target=self._reader, args=(fd,), name="console-input", daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.restore()
        return False

    def restore(self):
        if self.saved_tty is not None:
            import termios
            fd, attrs = self.saved_tty
            termios.tcsetattr(fd, termios.TCSADRAIN, attrs)
            self.saved_tty = None

    def _on_signal(self, signum, frame):
        self.restore()
        raise SystemExit(128 + signum)

    # --- input -----------------------------------------------------------------------------------
    def _reader(self, fd):
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            if not data:             # end of input: the guest just sees no more keys
                return
            self.feed(data)

    def feed(self, data: bytes):
        """Handle keys typed by the user (escape sequences when on a terminal)."""
        if self.saved_tty is None:
            self.receive(data)
            return
        out = bytearray()
        for byte in data:
            if self.escape:
                self.escape = False
                if byte in (ord("x"), ord("X")):
                    self.quit()
                    return
                if byte in (ord("h"), ord("H"), ord("?")):
                    self.stdout.write(HELP)
                    self.stdout.flush()
                elif byte in (CTRL_A, ord("a")):
                    out.append(CTRL_A)
            elif byte == CTRL_A:
                self.escape = True
            else:
                out.append(byte)
        if out:
            self.receive(bytes(out))

    def quit(self):
        self.quit_requested = True
        self.restore()
        self.stdout.write(b"\r\nrvjit: terminated (Ctrl-A x)\r\n")
        self.stdout.flush()
        self.machine.quit()
