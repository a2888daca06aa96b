"""Control and status registers: what each CSR reads as, which bits writes may change (WARL), and
who may access it. Both the reference interpreter and generated code come here for every CSR access.
"""
from .trap import (GuestTrap, ILLEGAL_INSN, PRV_M, PRV_S, PRV_U, MSTATUS_MPP, MSTATUS_MPP_SHIFT,
                   MSTATUS_SIE, MSTATUS_MIE, MSTATUS_SPIE, MSTATUS_MPIE, MSTATUS_SPP, MSTATUS_MPRV)
from .mmu import MSTATUS_SUM, MSTATUS_MXR

M64 = (1 << 64) - 1

# mstatus fields
SSTATUS_MASK = (1 << 1) | (1 << 5) | (1 << 6) | (1 << 8) | (3 << 9) | (3 << 13) | (3 << 15) \
    | (1 << 18) | (1 << 19) | (3 << 32) | (1 << 63)
MSTATUS_WRITABLE = (1 << 1) | (1 << 3) | (1 << 5) | (1 << 7) | (1 << 8) | MSTATUS_MPP | (3 << 13) \
    | (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20) | (1 << 21) | (1 << 22)
MSTATUS_FS = 3 << 13
MSTATUS_SD = 1 << 63
MSTATUS_TVM = 1 << 20
MSTATUS_TSR = 1 << 22
MSTATUS_TW = 1 << 21
XLEN_FIELDS = (2 << 32) | (2 << 34)   # UXL = SXL = 64-bit, read-only

MISA = (2 << 62) | sum(1 << (ord(c) - ord("A")) for c in "ACDFIMSU")
SUPPORTED_INTERRUPTS = (1 << 1) | (1 << 3) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 11)
S_INTERRUPTS = (1 << 1) | (1 << 5) | (1 << 9)
MIP_WRITABLE = S_INTERRUPTS            # MSIP/MTIP/MEIP come from devices
MIP_SEIP = 1 << 9
MIP_STIP = 1 << 5
ENVCFG_FIOM, ENVCFG_STCE = 1, 1 << 63  # STCE: Sstc's stimecmp drives mip.STIP (Hart.sstc only)
DELEGABLE_EXCEPTIONS = 0xB3FF          # everything but ecall from M (11) and reserved 10, 14

CSR_NAMES = {
    0x001: "fflags", 0x002: "frm", 0x003: "fcsr",
    0xC00: "cycle", 0xC01: "time", 0xC02: "instret",
    0x100: "sstatus", 0x104: "sie", 0x105: "stvec", 0x106: "scounteren", 0x10A: "senvcfg",
    0x140: "sscratch", 0x141: "sepc", 0x142: "scause", 0x143: "stval", 0x144: "sip", 0x14D: "stimecmp",
    0x180: "satp",
    0xF11: "mvendorid", 0xF12: "marchid", 0xF13: "mimpid", 0xF14: "mhartid", 0xF15: "mconfigptr",
    0x300: "mstatus", 0x301: "misa", 0x302: "medeleg", 0x303: "mideleg", 0x304: "mie",
    0x305: "mtvec", 0x306: "mcounteren", 0x30A: "menvcfg", 0x320: "mcountinhibit",
    0x340: "mscratch", 0x341: "mepc", 0x342: "mcause", 0x343: "mtval", 0x344: "mip",
    0xB00: "mcycle", 0xB02: "minstret",
}
for _i in range(3, 32):
    CSR_NAMES[0xC00 + _i] = f"hpmcounter{_i}"
    CSR_NAMES[0xB00 + _i] = f"mhpmcounter{_i}"
    CSR_NAMES[0x320 + _i] = f"mhpmevent{_i}"
for _i in range(0, 16, 2):
    CSR_NAMES[0x3A0 + _i] = f"pmpcfg{_i}"
for _i in range(64):
    CSR_NAMES[0x3B0 + _i] = f"pmpaddr{_i}"

_ZERO_CSRS = {n for n, name in CSR_NAMES.items()
              if name.startswith(("hpmcounter", "mhpm", "pmp")) or name in ("mvendorid", "marchid", "mimpid",
                                                                           "mhartid", "mconfigptr",
                                                                           "mcountinhibit")}
# Machine-level CSRs that read as zero: generated code reads them without Python.
ZERO_READ_CSRS = frozenset(n for n in _ZERO_CSRS if (n >> 8) & 3 == PRV_M)


def _state_field(name):
    """A CSR attribute kept in the hart state struct, where generated code reaches it."""
    return property(lambda self: getattr(self.hart.state, name),
                    lambda self, v: setattr(self.hart.state, name, v))


def _irq_input(name):
    """mie and the software mip bits: every change refreshes state.irq_pending."""
    private = "_" + name

    def set_(self, v):
        setattr(self, private, v)
        self.hart.update_irq_pending()
    return property(lambda self: getattr(self, private), set_)

# --- what generated code may do without calling Python (rvjit.backend.csrlower) ---------------
# Every trap into the kernel or the firmware reads and writes these; each Python call costs
# microseconds. Generated code checks the privilege level (the CSR number's bits 9:8) itself and
# calls Python for anything else, which also raises the illegal-instruction trap.
#
# Plain storage in a hart state field: number -> (field, bits a write keeps).
STATE_CSRS = {
    0x340: ("mscratch", M64), 0x341: ("mepc", M64 & ~1), 0x342: ("mcause", M64), 0x343: ("mtval", M64),
    0x140: ("sscratch", M64), 0x141: ("sepc", M64 & ~1), 0x142: ("scause", M64), 0x143: ("stval", M64),
}
# Views of mstatus: number -> (bits a read shows, bits a write may change). UXL/SXL read as 64-bit.
STATUS_VIEWS = {0x300: (M64, MSTATUS_WRITABLE), 0x100: (SSTATUS_MASK, MSTATUS_WRITABLE & SSTATUS_MASK)}
# A status write that changes only these bits needs no Python. Generated code keeps SD equal to
# (FS == Dirty) and recomputes state.tlb_mode (Hart.update_tlb_mode) from MPRV, MPP, SUM and MXR
# itself: Linux toggles SUM around every user access and FS on every trap. When a write sets an
# interrupt enable while state.irq_pending (mip & mie) is non-zero, generated code leaves for the
# run loop to deliver the interrupt. TVM, TW, TSR and a reserved MPP go through Python.
QUIET_STATUS_BITS = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP \
    | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR
INTERRUPT_ENABLES = MSTATUS_SIE | MSTATUS_MIE
TIME_CSR = 0xC01


class CsrFile:
    mscratch, mepc, mcause, mtval = (_state_field(n) for n in ("mscratch", "mepc", "mcause", "mtval"))
    sscratch, sepc, scause, stval = (_state_field(n) for n in ("sscratch", "sepc", "scause", "stval"))
    mie = _irq_input("mie")
    mip_soft = _irq_input("mip_soft")   # software-writable mip bits (SSIP, STIP, SEIP)

    def __init__(self, hart):
        self.hart = hart
        self.mtvec = self.stvec = 0
        self._mie = self._mip_soft = 0
        self.mepc = self.sepc = 0
        self.mcause = self.scause = self.mtval = self.stval = 0
        self.mscratch = self.sscratch = 0
        self.medeleg = self.mideleg = 0
        self.mcounteren = self.scounteren = 0
        self._counters_enabled()
        self.menvcfg = self.senvcfg = 0
        self.stimecmp = M64
        self.satp = 0

    # --- entry point ------------------------------------------------------------------------
    def access(self, num: int, value: int, op: str, read: bool, write: bool, raw: int = 0) -> int:
        """Read and/or write CSR `num` as csrrw/csrrs/csrrc would; returns the old value."""
        st = self.hart.state
        priv = st.priv
        name = CSR_NAMES.get(num)
        if name is None or priv < (num >> 8) & 3 or (write and num >> 10 == 3):
            raise GuestTrap(ILLEGAL_INSN, raw)
        old = self._read(num, name, priv, raw)
        if write:
            base = old
            if name == "mip":
                # SEIP reads as the software bit OR the PLIC's line, but only the software bit
                # takes part in csrrs/csrrc (privileged spec 3.1.9): else a read-modify-write
                # of mip latches the external interrupt forever.
                base = (old & ~MIP_SEIP) | (self.mip_soft & MIP_SEIP)
            new = value if op == "rw" else (base | value if op == "rs" else base & ~value)
            self._write(num, name, new & M64, raw)
        return old

    # --- reads ---------------------------------------------------------------------------------
    def _read(self, num, name, priv, raw):
        h, st = self.hart, self.hart.state
        if num <= 3:
            self._require_fp(raw)
            return {1: st.fflags, 2: st.frm, 3: st.fflags | st.frm << 5}[num]
        if 0xC00 <= num <= 0xC1F:
            self._check_counter(num & 31, priv, raw)
        if num in STATE_CSRS:
            return getattr(st, STATE_CSRS[num][0])
        if num in _ZERO_CSRS:
            return 0
        if name in ("cycle", "instret", "mcycle", "minstret"):
            return h.instret() & M64
        if name == "time":
            return h.mtime() & M64
        if num in STATUS_VIEWS:
            return self._mstatus_view() & STATUS_VIEWS[num][0]
        if name == "misa":
            return MISA
        if name == "mip":
            return h.mip()
        if name == "sip":
            return h.mip() & self.mideleg & S_INTERRUPTS
        if name == "sie":
            return self.mie & self.mideleg & S_INTERRUPTS
        if name == "satp":
            if priv == PRV_S and st.mstatus & MSTATUS_TVM:
                raise GuestTrap(ILLEGAL_INSN, raw)
            return self.satp
        if name == "stimecmp":
            self._require_stimecmp(priv, raw)
        return getattr(self, name)

    def _mstatus_view(self):
        # SD is kept equal to (FS == Dirty) by every writer of state.mstatus (CSR writes here,
        # FP instructions' mark_dirty), so the view only adds the fixed XLEN fields.
        return self.hart.state.mstatus | XLEN_FIELDS

    def _check_counter(self, index, priv, raw):
        if priv < PRV_M and not (self.mcounteren >> index) & 1:
            raise GuestTrap(ILLEGAL_INSN, raw)
        if priv == PRV_U and not (self.scounteren >> index) & 1:
            raise GuestTrap(ILLEGAL_INSN, raw)

    def _counters_enabled(self):
        """Tell generated code which privilege levels may read time (state.time_access)."""
        bit = TIME_CSR & 31
        tm = self.mcounteren >> bit & 1
        self.hart.state.time_access = 1 << PRV_M | tm << PRV_S | (tm & self.scounteren >> bit) << PRV_U

    @property
    def stce(self) -> bool:
        """Sstc in use: stimecmp drives mip.STIP, which software can no longer write."""
        return bool(self.menvcfg & ENVCFG_STCE)

    def _require_stimecmp(self, priv, raw):
        # Sstc: S-mode reaches stimecmp only when M-mode enabled both it and the time counter
        if not self.hart.sstc or priv == PRV_S and not self.stce:
            raise GuestTrap(ILLEGAL_INSN, raw)
        self._check_counter(TIME_CSR & 31, priv, raw)

    def _require_fp(self, raw):
        if self.hart.state.mstatus & MSTATUS_FS == 0:
            raise GuestTrap(ILLEGAL_INSN, raw)

    # --- writes --------------------------------------------------------------------------------
    def _write(self, num, name, v, raw):
        h, st = self.hart, self.hart.state
        if num <= 3:
            if num == 1:
                st.fflags = v & 0x1F
            elif num == 2:
                st.frm = v & 7
            else:
                st.fflags, st.frm = v & 0x1F, (v >> 5) & 7
            st.mstatus |= MSTATUS_FS | MSTATUS_SD
            return
        if num in STATE_CSRS:
            field, keep = STATE_CSRS[num]
            setattr(st, field, v & keep)
        elif num in _ZERO_CSRS:
            pass                          # read-only zero (no PMP regions, no hpm counters)
        elif name in ("mcycle", "minstret"):
            h.set_instret(v)
        elif num in STATUS_VIEWS:
            self._write_mstatus(v, STATUS_VIEWS[num][1])
        elif name in ("mtvec", "stvec"):
            if v & 3 < 2:                 # modes 2 and 3 are reserved: keep the old value
                setattr(self, name, v)
        elif name == "medeleg":
            self.medeleg = v & DELEGABLE_EXCEPTIONS
        elif name == "mideleg":
            self.mideleg = v & S_INTERRUPTS
        elif name == "mie":
            self.mie = v & SUPPORTED_INTERRUPTS
        elif name == "sie":
            mask = self.mideleg & S_INTERRUPTS
            self.mie = (self.mie & ~mask) | (v & mask)
        elif name == "mip":
            writable = MIP_WRITABLE & ~MIP_STIP if self.stce else MIP_WRITABLE
            self.mip_soft = (self.mip_soft & ~writable) | (v & writable)
        elif name == "sip":
            mask = self.mideleg & (1 << 1)   # only SSIP is writable through sip
            self.mip_soft = (self.mip_soft & ~mask) | (v & mask)
        elif name in ("mcounteren", "scounteren"):
            setattr(self, name, v & 0xFFFFFFFF)
            self._counters_enabled()
        elif name == "menvcfg":           # FIOM, and STCE where Sstc is implemented
            self.menvcfg = v & (ENVCFG_FIOM | (ENVCFG_STCE if h.sstc else 0))
            h.timer_changed()
        elif name == "senvcfg":
            self.senvcfg = v & ENVCFG_FIOM  # no Svpbmt, no Zicbo*
        elif name == "stimecmp":
            self.stimecmp = v
            h.timer_changed()
        elif name == "satp":
            if st.priv == PRV_S and st.mstatus & MSTATUS_TVM:
                raise GuestTrap(ILLEGAL_INSN, raw)
            h.write_satp(v)
        # misa and the read-only-zero CSRs ignore writes (WARL)
        h.csr_written(name)

    def _write_mstatus(self, v, mask):
        st = self.hart.state
        old = st.mstatus
        if (v & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT == 2:   # reserved MPP: keep the old one
            v = (v & ~MSTATUS_MPP) | (old & MSTATUS_MPP)
        st.mstatus = (old & ~mask) | (v & mask)
        if st.mstatus & MSTATUS_FS == MSTATUS_FS:
            st.mstatus |= MSTATUS_SD
        else:
            st.mstatus &= ~MSTATUS_SD
        self.hart.mstatus_changed(old)


assert PRV_U == 0
