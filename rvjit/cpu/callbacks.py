"""The C-callable entry points generated code uses to reach Python (slow memory path, CSRs)."""
import ctypes

from .state import EXIT_TRAP, EXIT_STOP, CSR_READ, CSR_WRITE
from .trap import GuestTrap

HELPER_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64,
                             ctypes.c_uint64)
_CSR_OP_NAMES = ("rw", "rs", "rc")


def install(hart, machine):
    """Create the callbacks for this hart and store their addresses in its state."""
    st = hart.state
    mem = hart.mem

    def trapped(t: GuestTrap):
        st.trap_cause, st.trap_tval = t.cause, t.tval
        st.exit_reason = EXIT_TRAP

    def host_failed(e: BaseException):
        # A bug in rvjit (not the guest): stop the guest and re-raise it in the run loop.
        machine.host_error = e
        st.exit_reason = EXIT_STOP

    def mem_helper(_state, addr, value, op):
        size, kind = op & 0xFF, op >> 8
        try:
            if kind == 1:
                mem.store(addr, value, size)
                return 0
            return mem.load(addr, size, kind)
        except GuestTrap as t:
            trapped(t)
        except BaseException as e:   # noqa: BLE001 - must not unwind through native frames
            host_failed(e)
        return 0

    def csr_helper(_state, value, packed, _unused):
        csr = packed & 0xFFF
        flags = (packed >> 12) & 0xF
        try:
            return hart.csr.access(csr, value, _CSR_OP_NAMES[flags & 3], bool(flags & CSR_READ),
                                   bool(flags & CSR_WRITE), packed >> 32)
        except GuestTrap as t:
            trapped(t)
        except BaseException as e:   # noqa: BLE001
            host_failed(e)
        return 0

    hart._callbacks = (HELPER_FN(mem_helper), HELPER_FN(csr_helper))   # keep them alive
    st.mem_helper = ctypes.cast(hart._callbacks[0], ctypes.c_void_p).value
    st.csr_helper = ctypes.cast(hart._callbacks[1], ctypes.c_void_p).value
