"""A RISC-V hart: its state, CSRs, memory port, and the privileged operations Python carries out.

The same Hart serves the reference interpreter (`step`) and the JIT run loop: generated code
works on `state` directly and calls back here for CSRs, slow memory accesses and traps.
"""
from ..frontend.lift import decode_at, lift_insn
from ..ir.builder import Builder
from ..ir.interp import run_ops
from .csr import CsrFile
from .memory import MemoryPort
from .mmu import Mmu
from .sfence import SfenceFilter
from .state import HartState, NO_TAG, ACCESS_KINDS, EXIT_STOP, EXIT_NONE, TLB_MODE_SHIFT, FETCH_MODE_BASE
from .trap import (GuestTrap, enter_trap, do_mret, do_sret, pending_interrupt, PRV_M, PRV_S,
                   ILLEGAL_INSN, INSN_ACCESS)
from .csr import MIP_STIP, MSTATUS_TSR, MSTATUS_TW, MSTATUS_TVM
from .mmu import MSTATUS_SUM, MSTATUS_MXR
from .trap import MSTATUS_MPRV, MSTATUS_MPP, PRV_U

DATA_TRANSLATION_BITS = MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM | MSTATUS_MXR


class Hart:
    def __init__(self, bus, hartid: int = 0):
        self.state = HartState()
        st = self.state
        st.priv = PRV_M
        st.resv = NO_TAG
        st.ram = bus.ram.host_address
        st.ram_base = bus.ram.base
        self.hartid = hartid
        self._irq_lines = 0              # mip bits driven by devices (MSIP, MTIP, MEIP, SEIP; STIP under Sstc)
        self.csr = CsrFile(self)
        self.mem = MemoryPort(self, bus)
        st.itlb = self.mem.itlb.ctypes.data
        self.sfence_filter = SfenceFilter(st)
        self.mmu = Mmu(self, bus.ram)    # Sv39/Sv48/Sv57; satp starts Bare
        self.mem.flush_tlb()
        self.mtime = lambda: 0           # the board's timer source
        self.sstc = False                # implements Sstc (stimecmp): the board decides
        self.on_timer_change = None      # the board's timer re-evaluates its interrupt lines
        self.retired_base = 0            # instructions retired before the current native slice
        self.slice_budget = 0
        self.on_flush = []               # called when cached translations of addresses go stale
        self.on_priv_change = []         # called with the new privilege level
        self.on_flush_page = []          # called with a virtual address whose mapping went stale
        self.on_flush_span = []          # called with (first vpn, pages) whose mappings went stale
        self.update_tlb_mode()
        self.x = st.x
        self.f = st.f
        self._lifted = {}                # (pc, raw) -> lifted single instruction (interpreter)

    # --- counters --------------------------------------------------------------------------
    def instret(self) -> int:
        return self.retired_base + (self.slice_budget - self.state.budget)

    def set_instret(self, value: int):
        self.retired_base = value - (self.slice_budget - self.state.budget)

    # --- interrupts and mode ---------------------------------------------------------------
    def mip(self) -> int:
        soft = self.csr.mip_soft
        if self.csr.stce:               # Sstc: STIP comes from stimecmp (the timer's line) only
            soft &= ~MIP_STIP
        return self._irq_lines | soft

    def timer_changed(self):
        """stimecmp or menvcfg.STCE written: the timer interrupt lines may change now."""
        if self.on_timer_change is not None:
            self.on_timer_change()
        self.update_irq_pending()

    @property
    def irq_lines(self) -> int:
        return self._irq_lines

    @irq_lines.setter
    def irq_lines(self, value: int):
        if value != self._irq_lines:
            self._irq_lines = value
            self.update_irq_pending()

    def update_irq_pending(self):
        """Generated code setting an interrupt enable bit natively leaves when this is non-zero."""
        self.state.irq_pending = self.mip() & self.csr.mie

    def request_stop(self):
        """Ask generated code to return to Python after the current instruction."""
        if self.state.exit_reason == EXIT_NONE:
            self.state.exit_reason = EXIT_STOP

    def csr_written(self, name):
        """After a CSR write: leave native code only if the run loop has work to do now, an
        interrupt the write unmasked or a new address space. Linux writes sstatus (interrupt
        enable, SUM) and sscratch on every trap and uaccess; stopping for each cost more than
        everything else its boot does."""
        if name == "satp" or pending_interrupt(self) is not None:
            self.request_stop()

    def set_priv(self, priv: int):
        """Enter privilege level priv (trap entry, mret, sret: mstatus may have changed too)."""
        if priv != self.state.priv:
            self.state.priv = priv
            # The jump caches are kept per level (switching is cheap, refilling them through
            # Python after a flush is not).
            if self.on_priv_change:
                for fn in self.on_priv_change:
                    fn(priv)
            else:
                self.flush_translation_caches()
        self.update_tlb_mode()

    def update_tlb_mode(self):
        """TLB entries are tagged with the data-translation mode they were filled in; execute
        tags with the privilege level (fetches are untranslated in M-mode and under Bare)."""
        st = self.state
        st.tlb_mode = self.mmu.data_mode() << TLB_MODE_SHIFT
        bare = st.priv == PRV_M or self.csr.satp >> 60 == 0
        st.fetch_tag = 0 if bare else (FETCH_MODE_BASE + st.priv) << TLB_MODE_SHIFT

    def write_satp(self, value: int):
        leaving = set(self.mmu.private_code_pages)
        old = self.csr.satp
        self.mmu.write_satp(value)       # WARL: an unsupported mode leaves satp as it was
        if old >> 60 != self.csr.satp >> 60:
            self.flush_translation_caches()  # a new MODE (or Bare): every pc may mean another page
            self.update_tlb_mode()
        else:
            self.leave_address_space(leaving)

    def leave_address_space(self, private_pages):
        """The current address space's non-global translations no longer apply (satp names
        another, or sfence.vma x0, asid forgot them): TLB entries and jump-cache code filled
        through non-global mappings go; global ones (the kernel's) stay."""
        self.mem.flush_private_tlb_entries()
        if not self.on_flush_page:
            for fn in self.on_flush:
                fn()
        for vpn in private_pages:
            for fn in self.on_flush_page:
                fn(vpn << 12)

    def mstatus_changed(self, old: int):
        """Loads and stores translate differently once MPRV, MPP, SUM or MXR change: they now
        use (and fill) TLB entries and MMU walks of another mode. Fetches do not depend on them."""
        if (old ^ self.state.mstatus) & DATA_TRANSLATION_BITS:
            self.update_tlb_mode()

    def flush_translation_page(self, vaddr: int):
        """sfence.vma of one address; inside a superpage, of every page in it (Linux changes
        linear-map permissions this way when it loads a module)."""
        first, pages = self.mem.flush_tlb_page(vaddr)
        if pages == 1:
            for fn in self.on_flush_page:
                fn(vaddr)
        else:
            for fn in self.on_flush_span:
                fn(first, pages)

    def flush_translation_caches(self):
        self.mem.flush_tlb()             # also forgets the MMU's remembered walks
        for fn in self.on_flush:
            fn()

    # --- the interface the IR interpreter uses ----------------------------------------------
    def get(self, field):
        return getattr(self.state, field)

    def set(self, field, value):
        setattr(self.state, field, value)

    def load(self, addr, size, kind):
        return self.mem.load(addr, size, ACCESS_KINDS[kind])

    def store(self, addr, value, size):
        self.mem.store(addr, value, size)

    def csr_access(self, num, value, op, read, write, raw):
        return self.csr.access(num, value, op, read, write, raw)

    def fp(self, prim, a, b, c, rm):
        from ..fp import softfloat
        result, flags = softfloat.call(prim, a, b, c, rm)
        self.state.fflags |= flags
        return result

    # --- privileged operations requested by instructions -----------------------------------
    def do_sys(self, kind: str, pc: int, raw: int = 0) -> str | None:
        """Carry out mret/sret/wfi/sfence.vma at pc. Returns 'wfi' when the hart should wait."""
        st = self.state
        priv, ms = st.priv, st.mstatus
        if kind == "mret" and priv < PRV_M or kind == "sret" and (priv < PRV_S or priv == PRV_S and ms & MSTATUS_TSR) \
                or kind == "wfi" and (priv == PRV_U or priv == PRV_S and ms & MSTATUS_TW) \
                or kind == "sfence.vma" and (priv < PRV_S or priv == PRV_S and ms & MSTATUS_TVM):
            enter_trap(self, ILLEGAL_INSN, raw or self._raw_at(pc), pc)
            return None
        self.retire_one()
        if kind == "mret":
            do_mret(self)
            return None
        if kind == "sret":
            do_sret(self)
            return None
        st.pc = pc + 4
        if kind == "sfence.vma":
            raw = raw or self._raw_at(pc)
            rs1, rs2 = (raw >> 15) & 31, (raw >> 20) & 31
            if rs1 == 0 and rs2 != 0:        # one address space: global mappings stay
                private = set(self.mmu.private_code_pages)
                if self.mmu.flush_asid(st.x[rs2] & 0xFFFF):
                    self.leave_address_space(private)
            elif rs1 == 0:
                self.flush_translation_caches()
            else:                            # one page: Linux's common case (flush_tlb_page)
                self.flush_translation_page(st.x[rs1])
        elif kind == "wfi":
            return "wfi"
        return None

    def retire_one(self):
        self.state.budget -= 1

    def _raw_at(self, pc):
        data = self.mem.fetch(pc, 4)
        return int.from_bytes(data, "little") if data else 0

    def take_trap(self, trap: GuestTrap, pc: int):
        enter_trap(self, trap.cause, trap.tval, pc)

    def take_pending_interrupt(self) -> bool:
        irq = pending_interrupt(self)
        if irq is None:
            return False
        enter_trap(self, irq, 0, self.state.pc, interrupt=True)
        return True

    # --- the reference interpreter ---------------------------------------------------------
    def step(self) -> str | None:
        """Execute one instruction with the reference interpreter."""
        st = self.state
        pc = st.pc
        insn = decode_at(self.mem.fetch, pc)
        if insn is None:
            try:
                self.mem.fetch_paddr(pc)
                self.mem.fetch_paddr(pc + 2)
                raise GuestTrap(INSN_ACCESS, pc)
            except GuestTrap as t:
                self.take_trap(t, pc)
            return None
        key = (pc, insn.raw)
        lifted = self._lifted.get(key)
        if lifted is None:
            b = Builder(pc)
            lift_insn(b, insn)
            lifted = self._lifted[key] = b
        try:
            ex = run_ops(lifted.ops, lifted.insns, self)
        except GuestTrap as t:
            self.take_trap(t, pc)
            return None
        if ex.kind == "jump":
            st.pc = ex.pc
            self.retire_one()
        elif ex.kind == "trap":
            enter_trap(self, ex.cause, ex.tval, pc)
        else:
            return self.do_sys(ex.sys, pc, insn.raw)
        return None

