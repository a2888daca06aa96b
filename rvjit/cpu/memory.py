"""Guest memory accesses on the slow path: address translation, RAM, devices, watched pages.

Generated code handles RAM accesses whose page is in the software TLB by itself; everything else
comes here (a TLB miss, an access crossing a page, MMIO, a store to a page holding translated code
or the HTIF mailbox). The reference interpreter uses this path for every access.
"""
import ctypes

import numpy as np

from .codemap import CodeMap
from .state import NO_TAG, ITLB_ENTRIES, TLB_ENTRIES, TLB_MODE_SHIFT, ACCESS_STORE, ACCESS_AMO, ACCESS_LOAD
from .trap import GuestTrap, LOAD_ACCESS, STORE_ACCESS, INSN_ACCESS

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
M64 = (1 << 64) - 1
STORE_SLOTS_LIMIT = 1 << 16        # physical pages whose store-open TLB slots are tracked

# The native TLB refill walker's context (u64 words; backend.tlbrefill), and its log of fills:
# per fill REFILL_LOG_WORDS words, TLB slot | REFILLED_* flags << 32, physical page, first
# virtual page of the superpage (REFILLED_SUPERPAGE).
(REFILL_CODE_FLAGS, REFILL_RAM_SIZE, REFILL_LOG, REFILL_LOG_COUNT, REFILL_LOG_CAPACITY) = range(5)
# ... and the console UART it serves (soc.uart.Uart16550.serve_natively): its physical address,
# its state (UART_NATIVE_READY | LSR << 8, or 0 to leave every access to Python) and its
# transmit buffer (address, bytes in it, capacity).
(REFILL_UART_PADDR, REFILL_UART_STATE, REFILL_UART_TX, REFILL_UART_TX_COUNT,
 REFILL_UART_TX_CAPACITY) = range(5, 10)
UART_NATIVE_READY = 1
# ... and the code map's chunk bits (cpu.codemap), to make stores next to code itself
REFILL_CODE_CHUNKS = 10
REFILL_WORDS = 11
REFILL_LOG_WORDS = 3
REFILL_LOG_ENTRIES = 4096
REFILLED_PRIVATE, REFILLED_WRITABLE, REFILLED_SUPERPAGE = 1, 2, 4
SUPERPAGE_PAGES = 512              # the only superpages the walker fills from: 2 MiB


def _tags_in_span(tags: np.ndarray, first: int, pages: int) -> np.ndarray:
    """Which TLB tags name a virtual page in [first, first + pages), whatever their mode."""
    vpns = tags & np.uint64((1 << TLB_MODE_SHIFT) - 1)
    return (vpns >= np.uint64(first)) & (vpns < np.uint64(first + pages))


class MemoryPort:
    def __init__(self, hart, bus):
        self.hart = hart
        self.bus = bus
        self.ram = bus.ram
        self.watched: dict[int, object] = {}       # physical page -> handler(paddr, size, value)
        # RAM pages with translated code, and which 16-byte chunks of them hold it: a store
        # elsewhere in such a page is plain data and needs no invalidation.
        self.code_pages = CodeMap(self.ram.base, self.ram.size)
        self.on_code_write = None                  # callback(page) invalidating translations
        # TLB slots filled through non-global mappings since the address space last changed:
        # only these go on a switch, the kernel's global entries stay.
        self.private_slots: set[int] = set()
        # TLB slots opened to stores, by physical page (some may have been refilled since): so
        # protecting a page that becomes code looks at a few slots, not the whole TLB.
        self.store_slots: dict[int, set[int]] | None = {}
        # The execute TLB (state.itlb), and its slots filled through non-global mappings
        self.itlb = np.full((ITLB_ENTRIES, 2), NO_TAG, dtype=np.uint64)
        self.itlb_words = memoryview(self.itlb.reshape(-1))
        self.private_itlb_slots: set[int] = set()
        # The native refill walker's context and log (it fills TLB entries Python learns of by
        # the log: absorb_refills)
        self.refill = np.zeros(REFILL_WORDS, dtype=np.uint64)
        self.refill_view = memoryview(self.refill)
        self.refill_log = np.zeros(REFILL_LOG_ENTRIES * REFILL_LOG_WORDS, dtype=np.uint64)
        self.refill_view[REFILL_CODE_FLAGS] = self.code_pages.flags.ctypes.data
        self.refill_view[REFILL_CODE_CHUNKS] = self.code_pages.chunks.ctypes.data
        self.refill_view[REFILL_RAM_SIZE] = self.ram.size
        self.refill_view[REFILL_LOG] = self.refill_log.ctypes.data
        self.refill_view[REFILL_LOG_CAPACITY] = REFILL_LOG_ENTRIES
        if hart is not None:
            hart.state.refill = self.refill.ctypes.data

    def native_uart_words(self, paddr: int) -> memoryview:
        """The refill walker's context words, its console UART placed at paddr (the UART fills
        in the rest: soc.uart.Uart16550.serve_natively)."""
        self.refill_view[REFILL_UART_PADDR] = paddr
        return self.refill_view

    def watch(self, page: int, handler):
        """Stores to a physical page go to handler(paddr, size, value) after reaching RAM."""
        self.watched[page] = handler
        self.code_pages.watch(page)
        self.flush_tlb()               # no entry may keep taking its stores directly

    def absorb_refills(self):
        """Take over the TLB fills the native walker logged: private slots, slots opened to
        stores, superpages (each kept where Python's own fills keep them)."""
        view = self.refill_view
        n = view[REFILL_LOG_COUNT]
        if not n:
            return
        view[REFILL_LOG_COUNT] = 0
        log = self.refill_log[:n * REFILL_LOG_WORDS].tolist()
        superpages = self.hart.mmu.superpages
        for i in range(0, len(log), REFILL_LOG_WORDS):
            packed, ppn, first = log[i:i + REFILL_LOG_WORDS]
            slot, flags = packed & 0xFFFFFFFF, packed >> 32
            if flags & REFILLED_PRIVATE:
                self.private_slots.add(slot)
            if flags & REFILLED_WRITABLE:
                self._note_store_slot(ppn, slot)
            if flags & REFILLED_SUPERPAGE:
                superpages.add((first, SUPERPAGE_PAGES))

    # --- translation ---------------------------------------------------------------------------
    def translate(self, vaddr: int, access: int) -> int:
        """Virtual to physical (rvjit.cpu.mmu). Raises GuestTrap on a page or access fault."""
        return self.hart.mmu.translate(vaddr, access)

    # --- loads and stores ----------------------------------------------------------------------
    def load(self, vaddr: int, size: int, access: int = ACCESS_LOAD) -> int:
        if (vaddr & (PAGE - 1)) + size > PAGE:        # crosses a page: byte by byte
            return int.from_bytes(bytes(self.load(vaddr + k, 1, access) for k in range(size)), "little")
        paddr = self.translate(vaddr, access)
        if self.ram.contains(paddr, size):
            self._fill_tlb(vaddr, paddr, access, self.hart.mmu.last_private)
            return self.ram.load(paddr, size)
        dev, offset = self._device(vaddr, paddr, size, access == ACCESS_AMO)
        return dev.read(offset, size)

    def store(self, vaddr: int, value: int, size: int, access: int = ACCESS_STORE):
        if (vaddr & (PAGE - 1)) + size > PAGE:
            for k in range(size):
                self.store(vaddr + k, value >> (8 * k), 1, access)
            return
        paddr = self.translate(vaddr, ACCESS_STORE)
        private = self.hart.mmu.last_private
        if self.ram.contains(paddr, size):
            page = paddr >> PAGE_SHIFT
            if page in self.code_pages:
                if not self.code_pages.touches(paddr, size):
                    self.ram.store(paddr, value, size)   # data next to code: page stays protected
                    return
                self.code_pages.discard(page)
                self.on_code_write(page)             # drops translations, asks to leave the block
            self.ram.store(paddr, value, size)
            handler = self.watched.get(page)
            if handler is not None:
                handler(paddr, size, value)
            self._fill_tlb(vaddr, paddr, ACCESS_STORE, private)
            return
        dev, offset = self._device(vaddr, paddr, size, True)
        dev.write(offset, size, value & ((1 << (8 * size)) - 1))

    def write_physical(self, paddr: int, data: bytes):
        """A device writes guest RAM (DMA): the bytes land in RAM and translated code on the pages
        they overlap is dropped, exactly as a guest store would (Linux execs what it read from disk)."""
        n = len(data)
        if n == 0:
            return
        if not self.ram.contains(paddr, n):
            raise ValueError(f"device write of {n} bytes at {paddr:#x} is outside guest RAM")
        if self.code_pages:
            end = paddr + n
            for page in range(paddr >> PAGE_SHIFT, ((end - 1) >> PAGE_SHIFT) + 1):
                if page in self.code_pages:
                    start = max(paddr, page << PAGE_SHIFT)
                    stop = min(end, (page + 1) << PAGE_SHIFT)
                    if self.code_pages.touches(start, stop - start):
                        self.code_pages.discard(page)
                        if self.on_code_write is not None:
                            self.on_code_write(page)
        self.ram.write(paddr, data)

    def mark_code(self, paddr: int, length: int):
        """Translated code now covers [paddr, paddr+length): watch stores to it."""
        end = paddr + length
        while paddr < end:
            page = paddr >> PAGE_SHIFT
            stop = min(end, (page + 1) << PAGE_SHIFT)
            if self.code_pages.mark(paddr, stop - paddr):
                self.protect_page(page)
            paddr = stop

    def fetch(self, vaddr: int, n: int) -> bytes | None:
        """Instruction bytes for the translator; None when the fetch would fault."""
        try:
            paddr = self.translate(vaddr, -1)
        except GuestTrap:
            return None
        if self.ram.contains(paddr, n):
            return self.ram.read(paddr, n)
        found = self.bus.find(paddr, n)
        if found and hasattr(found[0], "fetch"):
            return found[0].fetch(found[1], n)
        return None

    def fetch_paddr(self, vaddr: int) -> int:
        """Physical address of an instruction fetch; raises the fetch fault.

        A 4-byte instruction in the last halfword of a page also needs the next page: its fault
        is raised here with tval = the address of that second half (spec 3.1.16), as the
        translator would otherwise lift nothing at this pc."""
        fetch_tag = self.hart.state.fetch_tag
        if fetch_tag and vaddr & (PAGE - 1) != PAGE - 2:
            # a page fetched from before, in this mode, since its mapping last changed: the
            # execute TLB has it (flushed exactly when the MMU's own copies are)
            vpn = vaddr >> PAGE_SHIFT
            slot = 2 * (vpn % ITLB_ENTRIES)
            words = self.itlb_words
            if words[slot] == vpn | fetch_tag:
                return (vaddr + words[slot + 1] + self.ram.base) & M64
        paddr = self.translate(vaddr, -1)
        if self.ram.contains(paddr, 2):
            self._fill_exec_tlb(vaddr, paddr, self.hart.mmu.last_private)
        elif self.fetch(vaddr, 2) is None:
            raise GuestTrap(INSN_ACCESS, vaddr)
        if vaddr & (PAGE - 1) == PAGE - 2 and self.fetch(vaddr, 2)[0] & 3 == 3:
            second = self.translate(vaddr + 2, -1)
            if not (self.ram.contains(second, 2) or self.fetch(vaddr + 2, 2) is not None):
                raise GuestTrap(INSN_ACCESS, vaddr + 2)
        return paddr

    def _device(self, vaddr, paddr, size, is_store):
        found = self.bus.find(paddr, size)
        if found is None:                   # tval is the virtual address, as for page faults
            raise GuestTrap(STORE_ACCESS if is_store else LOAD_ACCESS, vaddr)
        return found

    # --- the software TLB shared with generated code -------------------------------------------
    def _fill_tlb(self, vaddr, paddr, access, private):
        vpn, ppn = vaddr >> PAGE_SHIFT, paddr >> PAGE_SHIFT
        st = self.hart.state
        slot = vpn % TLB_ENTRIES
        if private:
            self.private_slots.add(slot)
        # the entry's words (tag_read, tag_write, addend) through a flat view: a ctypes entry
        # object per fill cost more than the rest of it
        words, at = self._tlb_flat(), slot * 4
        tag = vpn | st.tlb_mode                  # valid only in the mode it was filled in
        addend = self._addend(vpn, ppn)
        if words[at] != tag or words[at + 2] != addend:
            words[at], words[at + 1], words[at + 2] = tag, NO_TAG, addend
        # Direct writes only once a store was allowed here (so the MMU has set the dirty bit),
        # and never to pages whose writes Python must see.
        if ppn not in self.code_pages and ppn not in self.watched and (
                access in (ACCESS_STORE, ACCESS_AMO) or self.hart.mmu.stores_translated(vaddr)):
            words[at + 1] = tag
            self._note_store_slot(ppn, slot)

    def _note_store_slot(self, ppn: int, slot: int):
        if self.store_slots is not None:
            slots = self.store_slots.get(ppn)
            if slots is None:
                if len(self.store_slots) >= STORE_SLOTS_LIMIT:
                    self.store_slots = None      # too many to track: scan until the next flush
                    return
                slots = self.store_slots[ppn] = set()
            slots.add(slot)

    def _addend(self, vpn: int, ppn: int) -> int:
        """What a TLB entry adds to a virtual address on page vpn to get its offset in RAM."""
        return ((ppn << PAGE_SHIFT) - self.ram.base - (vpn << PAGE_SHIFT)) & M64

    def _fill_exec_tlb(self, vaddr: int, paddr: int, private: bool):
        """Generated code may now find translated code at vaddr's page without Python (a jump
        cache miss looks the block up natively: backend.blocktable)."""
        st = self.hart.state
        if not st.fetch_tag:
            return
        vpn, ppn = vaddr >> PAGE_SHIFT, paddr >> PAGE_SHIFT
        slot = vpn % ITLB_ENTRIES
        if private:
            self.private_itlb_slots.add(slot)
        words = self.itlb_words
        words[2 * slot] = vpn | st.fetch_tag
        words[2 * slot + 1] = self._addend(vpn, ppn)

    def flush_tlb(self):
        self.refill_view[REFILL_LOG_COUNT] = 0   # what it logged is gone with the entries
        self._tlb_words()[:, :2] = NO_TAG      # tag_read, tag_write of every entry
        self.itlb[:, 0] = NO_TAG
        self.private_itlb_slots.clear()
        self.private_slots.clear()
        self.store_slots = {}
        self.hart.mmu.flush()                  # and the walks the MMU remembers

    def flush_private_tlb_entries(self):
        """The address space changed: forget the entries filled through non-global mappings
        (the MMU keeps those translations for the way back)."""
        self.absorb_refills()
        if self.private_slots:
            self._tlb_words()[np.fromiter(self.private_slots, np.int64, len(self.private_slots)), :2] = NO_TAG
            self.private_slots.clear()
        if self.private_itlb_slots:
            self.itlb[np.fromiter(self.private_itlb_slots, np.int64, len(self.private_itlb_slots)), 0] = NO_TAG
            self.private_itlb_slots.clear()

    def flush_tlb_page(self, vaddr: int) -> tuple[int, int]:
        """Forget one virtual page (sfence.vma rs1), or all of the superpage it lies in.
        Returns the span of virtual pages flushed (first vpn, count)."""
        self.absorb_refills()                  # superpages the walker filled from
        first, pages = self.hart.mmu.flush_page(vaddr)
        words = self._tlb_words()
        if pages == 1:
            words[first % TLB_ENTRIES, :2] = NO_TAG       # entries of every mode share a slot
            self.itlb[first % ITLB_ENTRIES, 0] = NO_TAG
        else:
            words[_tags_in_span(words[:, 0], first, pages), :2] = NO_TAG
            self.itlb[_tags_in_span(self.itlb[:, 0], first, pages), 0] = NO_TAG
        return first, pages

    def _tlb_flat(self) -> memoryview:
        """The TLB as one flat run of 64-bit words, four per entry (TlbEntry's layout)."""
        if getattr(self, "_tlb_memoryview", None) is None:
            tlb = self.hart.state.tlb
            raw = (ctypes.c_uint64 * (4 * TLB_ENTRIES)).from_address(ctypes.addressof(tlb))
            self._tlb_memoryview = memoryview(raw).cast("B").cast("Q")
        return self._tlb_memoryview

    def _tlb_words(self):
        # A numpy view of the TLB inside the hart state: flushing is a single fill.
        if getattr(self, "_tlb_view", None) is None:
            tlb = self.hart.state.tlb
            self._tlb_view = np.ctypeslib.as_array(
                (ctypes.c_uint64 * (4 * TLB_ENTRIES)).from_address(ctypes.addressof(tlb))).reshape(TLB_ENTRIES, 4)
        return self._tlb_view

    def protect_page(self, ppn: int):
        """Stop generated code from writing a physical page directly (it holds code now)."""
        self.absorb_refills()
        if self.store_slots is not None:
            words, base = self._tlb_flat(), self.ram.base
            for slot in self.store_slots.pop(ppn, ()):
                tag_write, addend = words[slot * 4 + 1], words[slot * 4 + 2]
                if tag_write != NO_TAG and (((tag_write << PAGE_SHIFT) + addend + base) & M64) >> PAGE_SHIFT == ppn:
                    words[slot * 4 + 1] = NO_TAG
            return
        words = self._tlb_words()
        tag_write, addend = words[:, 1], words[:, 2]
        with np.errstate(over="ignore"):
            phys_page = ((tag_write << np.uint64(PAGE_SHIFT)) + addend + np.uint64(self.ram.base)) >> np.uint64(PAGE_SHIFT)
        hit = (tag_write != np.uint64(NO_TAG)) & (phys_page == np.uint64(ppn))
        tag_write[hit] = np.uint64(NO_TAG)

