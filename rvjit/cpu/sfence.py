"""What generated code needs to carry out sfence.vma of one page by itself.

Python's copies of translations are what make most sfence.vma work: the MMU's remembered walks,
the jump caches' entries for code on the page, and whole superpages (each of whose 4 KiB pages
has its own TLB entry). Generated code can clear the page's TLB slot, queue the address, and
clear the page's jump cache entries; it must leave native code instead when the page lies in a
superpage walked before. This filter tells it both, conservatively (pages share bytes): the
translator marks code pages (whose jump cache entries need clearing), the MMU marks superpage
regions, and each clears its half on a full flush.
"""
import ctypes

import numpy as np

from .state import SFENCE_CODE_BITS, SFENCE_SUPER_BITS, SFENCE_REGION_HASH

PAGE_SHIFT = 12
REGION_SHIFT = 9                # a 2 MiB region, the smallest superpage
REGION_PAGES = 1 << REGION_SHIFT


def region_slot(region):
    """The superpage filter's byte for 2 MiB region numbers (an int or an array of them; the
    sfence lowering's superpage_byte_ir computes the same)."""
    with np.errstate(over="ignore"):     # the multiplication wraps, as in generated code
        hashed = np.asarray(region, dtype=np.uint64) * np.uint64(SFENCE_REGION_HASH)
    return (hashed >> np.uint64(64 - SFENCE_SUPER_BITS)).astype(np.intp)


class SfenceFilter:
    def __init__(self, state):
        self.bytes = np.zeros((1 << SFENCE_CODE_BITS) + (1 << SFENCE_SUPER_BITS), dtype=np.uint8)
        self.code = self.bytes[:1 << SFENCE_CODE_BITS]
        self.superpages = self.bytes[1 << SFENCE_CODE_BITS:]
        state.sfence_filter = self.bytes.ctypes.data_as(ctypes.c_void_p).value

    def mark_code_page(self, vpn: int):
        self.code[vpn & ((1 << SFENCE_CODE_BITS) - 1)] = 1

    def mark_superpage(self, first_vpn: int, pages: int):
        regions = pages // REGION_PAGES
        if regions >= len(self.superpages):
            self.superpages[:] = 1
            return
        first = first_vpn >> REGION_SHIFT
        self.superpages[region_slot(np.arange(first, first + regions, dtype=np.uint64))] = 1

    def clear_code(self):
        self.code[:] = 0

    def clear_superpages(self):
        self.superpages[:] = 0
