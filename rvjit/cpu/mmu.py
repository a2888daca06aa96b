"""Virtual memory: satp and the Sv39/Sv48/Sv57 page-table walk (privileged spec 1.12, 4.3-4.5).

The walk is the architectural one (spec 4.3.2) with hardware A/D updates, like QEMU: the accessed
bit is set on any access and the dirty bit on stores, written back to the PTE in RAM. Successful
translations are remembered per (virtual page, access class) until sfence.vma says otherwise (or a
privilege / mstatus MPRV/MPP/SUM/MXR change selects another mode), which is what a hardware TLB
may do too: PTE changes only take effect after sfence.vma.

Address spaces (spec 4.2.1): a satp write implies no invalidation, so translations are kept per
satp value (an address space is an (ASID, root) pair here, finer than the ASID alone) and reused
when the guest switches back, until sfence.vma with that ASID or without one. Translations through
global mappings are kept once, for every address space. Writing satp's current value again, or
changing its MODE, forgets the translations of that space (MODE: everything), as guests written
for TLBs without ASIDs may expect. satp.ASID has ASIDLEN = 16 (as QEMU).
"""
from .state import ACCESS_STORE, ACCESS_AMO
from .trap import (GuestTrap, PRV_M, PRV_S, PRV_U, MSTATUS_MPRV, MSTATUS_MPP, MSTATUS_MPP_SHIFT,
                   INSN_ACCESS, LOAD_ACCESS, STORE_ACCESS,
                   INSN_PAGE_FAULT, LOAD_PAGE_FAULT, STORE_PAGE_FAULT)

ACCESS_FETCH = -1
MSTATUS_SUM = 1 << 18
MSTATUS_MXR = 1 << 19

SATP_MODE_SHIFT = 60
SATP_ASID_SHIFT = 44
SATP_ASID_MASK = 0xFFFF << SATP_ASID_SHIFT
SATP_PPN_MASK = (1 << 44) - 1
MODE_BARE = 0
LEVELS = {8: 3, 9: 4, 10: 5}          # satp.MODE -> page-table levels (Sv39, Sv48, Sv57)

PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = (1 << i for i in range(8))
PTE_PPN_SHIFT = 10
PTE_PPN_MASK = (1 << 44) - 1
PTE_HIGH_BITS = ((1 << 10) - 1) << 54  # reserved, PBMT, N: none of Svnapot/Svpbmt is implemented

PAGE_SHIFT = 12
PAGE_MASK = (1 << PAGE_SHIFT) - 1
VPN_BITS = 9
SUPERPAGE_SIZES = (1 << 9, 1 << 18, 1 << 27, 1 << 36)   # in 4 KiB pages: 2M, 1G, 512G, 256T
CACHE_LIMIT = 8192                    # remembered translations before starting afresh
SPACES_KEPT = 16                      # address spaces whose translations are kept while away

# mstatus bits that change how loads and stores translate (see Mmu._how)
_HOW_BITS = MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM | MSTATUS_MXR

# What an access needs from a leaf PTE: execute, read (loads, LR) or write (stores, AMOs, SC)
_FETCH, _READ, _WRITE = 0, 1, 2


def _access_class(access: int) -> int:
    if access == ACCESS_FETCH:
        return _FETCH
    return _WRITE if access in (ACCESS_STORE, ACCESS_AMO) else _READ    # LR reads


def _effective_priv(access: int, priv: int, mstatus: int) -> int:
    """The privilege an access is translated for: MPRV makes M-mode loads and stores use MPP."""
    if access != ACCESS_FETCH and priv == PRV_M and mstatus & MSTATUS_MPRV:
        return (mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT
    return priv


def _data_mode(effective_priv: int, mstatus: int) -> int:
    return effective_priv | (4 if mstatus & MSTATUS_SUM else 0) | (8 if mstatus & MSTATUS_MXR else 0)


_PAGE_FAULT = {_FETCH: INSN_PAGE_FAULT, _READ: LOAD_PAGE_FAULT, _WRITE: STORE_PAGE_FAULT}
_ACCESS_FAULT = {_FETCH: INSN_ACCESS, _READ: LOAD_ACCESS, _WRITE: STORE_ACCESS}


class Mmu:
    def __init__(self, hart, ram):
        self.hart = hart
        self.ram = ram
        # vpn -> {(class, mode): physical page base}: translations of the current address space
        # through non-global mappings, and (in global_cache) through global ones
        self.cache: dict[int, dict] = {}
        self.global_cache: dict[int, dict] = {}
        # satp value -> (cache, private_code_pages) of address spaces the hart switched away from
        self.spaces: dict[int, tuple[dict, set]] = {}
        self.last_private = False           # whether the last translation used a non-global mapping
        self._hows: dict[tuple, tuple | None] = {}
        self.private_superpages = False     # whether superpage_walks may hold non-global walks
        self.superpages: set[tuple[int, int]] = set()       # (first vpn, pages) walked to
        # Superpage walks by (pages, first vpn): {(class, mode): (physical base, global)}. The
        # kernel's linear map is made of superpages, so one walk serves all its 4 KiB pages.
        self.superpage_walks: dict[tuple[int, int], dict] = {}
        # Pages code was fetched from through non-global mappings since the last flush: only
        # these can change meaning when the address space changes (satp write, sfence.vma
        # x0, asid). Kernel code is mapped global, so the jump cache keeps it.
        self.private_code_pages: set[int] = set()

    # --- satp ------------------------------------------------------------------------------------
    def write_satp(self, value: int):
        """WARL: an unsupported MODE makes the whole write have no effect (spec 4.1.11)."""
        mode = value >> SATP_MODE_SHIFT
        if mode != MODE_BARE and mode not in LEVELS:
            return
        old = self.hart.csr.satp
        new = self.hart.csr.satp = value & ((0xF << SATP_MODE_SHIFT) | SATP_ASID_MASK | SATP_PPN_MASK)
        self.hart.state.walk_satp = new
        if new >> SATP_MODE_SHIFT != old >> SATP_MODE_SHIFT:
            self.flush()
        elif new == old:
            self.flush_current_space()
        else:
            self._switch_space(old, new)

    def _switch_space(self, old: int, new: int):
        self.spaces[old] = (self.cache, self.private_code_pages)
        self.cache, self.private_code_pages = self.spaces.pop(new, None) or ({}, set())
        while len(self.spaces) > SPACES_KEPT:        # forget the least recently left
            del self.spaces[next(iter(self.spaces))]
        self._forget_private_superpages()

    def _forget_private_superpages(self):
        # Superpage walks serve the current space only (user space rarely has any): the kernel's
        # global ones stay.
        if not self.private_superpages:
            return
        self.private_superpages = False
        for (pages, first), walks in list(self.superpage_walks.items()):
            for key in [k for k, (_, global_mapping) in walks.items() if not global_mapping]:
                del walks[key]
            if not walks:
                del self.superpage_walks[(pages, first)]
                self.superpages.discard((first, pages))

    def flush(self):
        self.cache.clear()
        self.global_cache.clear()
        self.spaces.clear()
        self.superpages.clear()
        self.superpage_walks.clear()
        self.private_code_pages.clear()
        self.hart.state.sfence_count = 0
        self.hart.sfence_filter.clear_superpages()

    def forget_queued_pages(self):
        """Forget the walks of pages generated code ran sfence.vma for (rvjit.cpu.sfence): it
        could only do so where nothing else needed forgetting."""
        st = self.hart.state
        vpns = [(st.sfence_queue[k] & ((1 << 64) - 1)) >> PAGE_SHIFT for k in range(st.sfence_count)]
        st.sfence_count = 0
        for cache in self._caches():
            for vpn in vpns:
                cache.pop(vpn, None)

    def flush_current_space(self):
        """Forget the current address space's non-global translations."""
        self.cache = {}
        self.private_code_pages = set()
        self._forget_private_superpages()

    def flush_asid(self, asid: int):
        """sfence.vma x0, rs2: the non-global translations of every address space with this ASID.
        Returns whether that includes the current one."""
        for satp in [s for s in self.spaces if (s & SATP_ASID_MASK) >> SATP_ASID_SHIFT == asid]:
            del self.spaces[satp]
        if (self.hart.csr.satp & SATP_ASID_MASK) >> SATP_ASID_SHIFT != asid:
            return False
        self.flush_current_space()
        return True

    # --- translation -----------------------------------------------------------------------------
    def data_mode(self) -> int:
        """What loads and stores translate under: effective privilege, SUM, MXR (4 bits)."""
        st = self.hart.state
        return _data_mode(_effective_priv(0, st.priv, st.mstatus), st.mstatus)

    def effective_priv(self, access: int) -> int:
        st = self.hart.state
        return _effective_priv(access, st.priv, st.mstatus)

    def _how(self, access: int, priv: int, mstatus: int):
        """How an access translates in a given state: None (untranslated, M-mode), or (access
        class, effective privilege, key of the remembered translations: priv for fetches;
        priv, SUM and MXR for data, see data_mode). Memoised: the MMU's hottest question."""
        memo = (access, priv, mstatus & _HOW_BITS)
        how = self._hows.get(memo)
        if how is None and memo not in self._hows:
            eff = _effective_priv(access, priv, mstatus)
            if eff != PRV_M:
                cls = _access_class(access)
                how = (cls, eff, (cls, eff if cls == _FETCH else _data_mode(eff, mstatus)))
            self._hows[memo] = how
        return how

    def translate(self, vaddr: int, access: int) -> int:
        """Physical address of vaddr for `access` (an ACCESS_* kind or -1 for fetch)."""
        st = self.hart.state
        if st.sfence_count:
            self.forget_queued_pages()
        satp = self.hart.csr.satp
        mode = satp >> SATP_MODE_SHIFT
        if mode == MODE_BARE:
            self.last_private = False
            return vaddr
        how = self._hows.get((access, st.priv, st.mstatus & _HOW_BITS)) or self._how(access, st.priv, st.mstatus)
        if how is None:
            self.last_private = False
            return vaddr
        cls, priv, key = how
        vpn = vaddr >> PAGE_SHIFT
        page = self.cache.get(vpn)
        if page is not None:
            base = page.get(key)
            if base is not None:
                self.last_private = True
                return base | (vaddr & PAGE_MASK)
        page = self.global_cache.get(vpn)
        if page is not None:
            base = page.get(key)
            if base is not None:
                self.last_private = False
                return base | (vaddr & PAGE_MASK)
        found = self._superpage_hit(vaddr, vpn, cls, key)
        also_writable = cls == _READ and found is not None and \
            self._superpage_hit(vaddr, vpn, _WRITE, (_WRITE, key[1])) is not None
        if found is not None:
            paddr, global_mapping = found
        else:
            paddr, pages, global_mapping, pte = self._walk(vaddr, cls, priv, satp, LEVELS[mode])
            if cls == _FETCH and not global_mapping:
                self.private_code_pages.add(vpn)
            # A read through a writable PTE already marked dirty: a store would walk to the same
            # place and change nothing, so remember it for stores too (the TLB can then take
            # stores to this page at once, instead of after a second miss).
            also_writable = cls == _READ and pte & (PTE_W | PTE_D) == PTE_W | PTE_D
            if pages > 1:
                first = vpn & ~(pages - 1)
                self.superpages.add((first, pages))
                self.hart.sfence_filter.mark_superpage(first, pages)
                base = (paddr >> PAGE_SHIFT) - (vpn - first) << PAGE_SHIFT
                walks = self.superpage_walks.setdefault((pages, first), {})
                walks[key] = (base, global_mapping)
                self.private_superpages |= not global_mapping
                if also_writable:
                    walks[(_WRITE, key[1])] = (base, global_mapping)
        self.last_private = not global_mapping
        cache = self.global_cache if global_mapping else self.cache
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        page = cache.get(vpn)
        if page is None:
            page = cache[vpn] = {}
        page[key] = paddr & ~PAGE_MASK
        if also_writable:
            page[(_WRITE, key[1])] = paddr & ~PAGE_MASK
        return paddr

    def stores_translated(self, vaddr: int) -> bool:
        """Whether a store to vaddr is known to translate (like the load just done) with no
        fault and no PTE update: M-mode, Bare, or a remembered store translation."""
        if self.hart.csr.satp >> SATP_MODE_SHIFT == MODE_BARE or self.effective_priv(0) == PRV_M:
            return True
        if self.hart.state.sfence_count:
            self.forget_queued_pages()
        key = (_WRITE, self.data_mode())
        vpn = vaddr >> PAGE_SHIFT
        page = self.cache.get(vpn)
        if page is not None and key in page:
            return True
        page = self.global_cache.get(vpn)
        return page is not None and key in page

    def _superpage_hit(self, vaddr, vpn, cls, key):
        """(physical address of vaddr, global) through a superpage walked before, or None."""
        if not self.superpage_walks:
            return None
        for pages in SUPERPAGE_SIZES:
            first = vpn & ~(pages - 1)
            walks = self.superpage_walks.get((pages, first))
            if walks is not None:
                found = walks.get(key)
                if found is not None:
                    base, global_mapping = found
                    if cls == _FETCH and not global_mapping:
                        self.private_code_pages.add(vpn)
                    return base + ((vpn - first) << PAGE_SHIFT) + (vaddr & PAGE_MASK), global_mapping
        return None

    def flush_page(self, vaddr: int) -> tuple[int, int]:
        """sfence.vma for one address: forget what was remembered for it. Returns the span of
        virtual pages (first vpn, count) whose translations may be stale: the page itself, or
        the whole superpage it lies in (each of its pages was remembered separately)."""
        vpn = (vaddr & ((1 << 64) - 1)) >> PAGE_SHIFT
        if self.hart.state.sfence_count:
            self.forget_queued_pages()
        for pages in reversed(SUPERPAGE_SIZES) if self.superpages else ():   # the largest first
            first = vpn & ~(pages - 1)
            if (first, pages) in self.superpages:
                end = first + pages
                for inner in [sp for sp in self.superpages if first <= sp[0] < end]:
                    self.superpages.discard(inner)
                    self.superpage_walks.pop((inner[1], inner[0]), None)
                for cache in self._caches():
                    for v in [v for v in cache if first <= v < end]:
                        del cache[v]
                return first, pages
        for cache in self._caches():
            cache.pop(vpn, None)
        return vpn, 1

    def _caches(self):
        """Every remembered 4 KiB translation: sfence.vma of an address applies to all address
        spaces (Linux names the ASID too; forgetting more is allowed)."""
        yield self.cache
        yield self.global_cache
        for cache, _ in self.spaces.values():
            yield cache

    def _walk(self, vaddr, cls, priv, satp, levels):
        page_fault = _PAGE_FAULT[cls]               # raised as GuestTrap(page_fault, vaddr)
        va_bits = PAGE_SHIFT + VPN_BITS * levels
        top = vaddr >> (va_bits - 1)                # bits 63..va_bits-1 must be all equal
        if top != 0 and top != (1 << (65 - va_bits)) - 1:
            raise GuestTrap(page_fault, vaddr)
        table = (satp & SATP_PPN_MASK) << PAGE_SHIFT
        ram = self.ram
        global_mapping = False                      # a G bit anywhere on the path
        for level in range(levels - 1, -1, -1):
            index = (vaddr >> (PAGE_SHIFT + VPN_BITS * level)) & ((1 << VPN_BITS) - 1)
            pte_addr = table + 8 * index
            if not ram.contains(pte_addr, 8):       # the walk itself touched non-memory
                raise GuestTrap(_ACCESS_FAULT[cls], vaddr)
            pte = ram.load(pte_addr, 8)
            if not pte & PTE_V or (pte & (PTE_R | PTE_W)) == PTE_W or pte & PTE_HIGH_BITS:
                raise GuestTrap(page_fault, vaddr)
            ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK
            global_mapping = global_mapping or bool(pte & PTE_G)
            if pte & (PTE_R | PTE_X):
                break                               # a leaf
            table = ppn << PAGE_SHIFT
        else:
            raise GuestTrap(page_fault, vaddr)                        # no leaf at the last level
        if not self._leaf_allows(pte, cls, priv):
            raise GuestTrap(page_fault, vaddr)
        low_ppn_bits = VPN_BITS * level
        if ppn & ((1 << low_ppn_bits) - 1):         # misaligned superpage
            raise GuestTrap(page_fault, vaddr)
        wanted = PTE_A | (PTE_D if cls == _WRITE else 0)
        if pte & wanted != wanted:                  # hardware A/D update, like QEMU
            ram.store(pte_addr, pte | wanted, 8)
        page_offset_bits = PAGE_SHIFT + low_ppn_bits
        return ((ppn << PAGE_SHIFT) | (vaddr & ((1 << page_offset_bits) - 1)), 1 << low_ppn_bits, global_mapping,
                pte | wanted)

    def _leaf_allows(self, pte, cls, priv) -> bool:
        """Whether a leaf PTE lets privilege `priv` make an access of class cls (spec 4.3.1)."""
        if priv == PRV_U:
            if not pte & PTE_U:
                return False
        elif pte & PTE_U:                           # S-mode and a user page
            if cls == _FETCH or not self.hart.state.mstatus & MSTATUS_SUM:
                return False
        if cls == _FETCH:
            return bool(pte & PTE_X)
        if cls == _WRITE:
            return bool(pte & PTE_W)
        return bool(pte & PTE_R or (pte & PTE_X and self.hart.state.mstatus & MSTATUS_MXR))


assert PRV_S == 1 and PRV_U == 0
