"""The jump cache's Python side, a mixin of backend.translator.Translator.

Generated code finds the next block through a table indexed by guest pc (one per privilege
level): these methods fill it, switch tables on a privilege change, and forget entries whenever a
mapping change (sfence.vma, satp) or a code write could make one wrong.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..cpu.state import JCACHE_BITS, JCACHE_WORDS

if TYPE_CHECKING:
    from .translator import Translation

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
JCACHE_FILLED_LIMIT = (1 << JCACHE_BITS) // 8   # slots remembered per jump cache table


class JumpCacheMixin:
    def _absorb_native_fills(self):
        """Take over the jump cache slots the dispatcher filled natively (in the current table,
        since Python last looked): the flushes below must know every filled slot and page."""
        st = self.hart.state
        count = st.jfill_count
        if not count:
            return
        st.jfill_count = 0
        slots = self._jfill[:count].tolist()
        words, filled, vpages = self.jcache_words, self.jcache_filled[self.jcache_priv], self.jcache_vpages
        for slot in slots:
            vpages.add(words[slot * JCACHE_WORDS] >> PAGE_SHIFT)
        if len(filled) <= JCACHE_FILLED_LIMIT:
            filled.extend(slots)

    def flush_jcache(self):
        """Forget every jump cache entry: the current table now, the others when next used."""
        self._absorb_native_fills()
        self._clear_jcache(self.jcache_priv)
        self.stale_jcaches = {p for p in range(4) if p != self.hart.state.priv}
        self.jcache_vpages.clear()
        self.hart.sfence_filter.clear_code()

    def flush_jcache_page(self, vaddr: int):
        """Forget jump cache entries for guest pcs on one virtual page."""
        self._absorb_native_fills()
        page = (vaddr & ((1 << 64) - 1)) >> PAGE_SHIFT
        if page not in self.jcache_vpages:
            return
        self.jcache_vpages.discard(page)
        slots = PAGE >> 1                       # pc >> 1 indexes the table: 2048 per page
        first = (page * slots) & ((1 << JCACHE_BITS) - 1)
        # M-mode fetches are not translated: only the U and S tables can hold stale entries
        tags = self.jcaches[:2, first:first + slots, 0]
        tags[(tags >> np.uint64(PAGE_SHIFT)) == np.uint64(page)] = 1

    def flush_jcache_span(self, first_vpn: int, pages: int):
        """Forget jump cache entries for guest pcs on pages [first_vpn, first_vpn + pages)."""
        self._absorb_native_fills()
        for vpage in [p for p in self.jcache_vpages if first_vpn <= p < first_vpn + pages]:
            self.flush_jcache_page(vpage << PAGE_SHIFT)

    @staticmethod
    def _slot(pc: int) -> int:
        return (pc >> 1) & ((1 << JCACHE_BITS) - 1)

    def _forget(self, t: Translation):
        """Remove one translation's jump cache entries (every table)."""
        entries = self.jcaches[:, self._slot(t.pc)]
        entries[(entries[:, 0] == np.uint64(t.pc)) & (entries[:, 1] == np.uint64(t.address)), 0] = 1

    def _clear_jcache(self, priv: int):
        filled = self.jcache_filled[priv]
        if len(filled) > JCACHE_FILLED_LIMIT:
            self.jcaches[priv, :, 0] = 1
        elif filled:
            self.jcaches[priv, filled, 0] = 1
        filled.clear()

    def switch_jcache(self, priv: int):
        self._absorb_native_fills()             # the slots are in the table being left
        if priv in self.unmarked_jcaches:
            self.unmarked_jcaches.discard(priv)
            self.jcaches[priv, :, 0] = 1
        if priv in self.stale_jcaches:
            self.stale_jcaches.discard(priv)
            self._clear_jcache(priv)
        self.jcache, self.jcache_priv = self._jcache_tables[priv], priv
        self.jcache_words = self._jcache_words[priv]
        self.hart.state.jcache = self._jcache_addresses[priv]

    def _install(self, t: Translation):
        slot = self._slot(t.pc)
        vpage = t.pc >> PAGE_SHIFT
        if vpage not in self.jcache_vpages:
            self.jcache_vpages.add(vpage)
            self.hart.sfence_filter.mark_code_page(vpage)
        filled = self.jcache_filled[self.jcache_priv]
        if len(filled) <= JCACHE_FILLED_LIMIT:       # past it, a flush clears the whole table
            filled.append(slot)
        # through a flat view of the table: numpy item assignment costs a microsecond each
        words, at = self.jcache_words, slot * JCACHE_WORDS
        words[at] = t.pc
        words[at + 1] = t.address
        words[at + 2] = t.data
