"""TLB refills walked in native code: the memory slow path's common case without Python.

Generated code calls state.mem_helper when an access misses the software TLB. A Linux boot does
so ~130,000 times, mostly for the kernel's first touch of a page (and again after a flush); in
Python each cost ~8 us (the ctypes callback, the MMU, the fill). This native function goes
first: it walks the page table (Sv39/48/57) for the access, and where the common case holds it
fills the TLB entry as cpu.memory.MemoryPort._fill_tlb would and makes the access itself:

- paging is on and the access is made in S or U mode, within one page;
- the walk stays in RAM and ends at a 4 KiB leaf, or a global 2 MiB one, that allows the access
  (U bit and SUM, R/W, X with MXR) with A already set, and D for a store (Python sets them);
- the page is RAM and (for a store) is not watched, and either holds no translated code or the
  store only touches bytes next to it (data sharing a page with code: the TLB entry stays
  read-only, so each such store comes here, not to Python);
- or (paging on or not, any mode) the access is a console UART's LSR read or THR write that
  soc.uart allows native code to serve (a console printing with interrupts off: two accesses
  for every character).

Anything else (faults, devices, A/D updates, M-mode, larger superpages) goes to Python's helper
(state.py_mem_helper) as before. Private slots, slots opened to stores and the superpages filled
from are logged for Python (MemoryPort.absorb_refills). Walking the tables afresh is what a
hardware TLB refill does; Python's MMU may answer from translations it remembers until the next
sfence.vma, which is the same architectural choice.
"""
from __future__ import annotations

import weakref

from ..cpu.codemap import CODE, WATCHED, chunk_span_ir, chunk_word_ir, flags_ir
from ..cpu.memory import (REFILL_CODE_CHUNKS, REFILL_CODE_FLAGS, REFILL_RAM_SIZE, REFILL_LOG, REFILL_LOG_COUNT,
                          REFILL_LOG_CAPACITY, REFILL_LOG_WORDS, REFILLED_PRIVATE, REFILLED_WRITABLE,
                          REFILLED_SUPERPAGE, REFILL_UART_PADDR, REFILL_UART_STATE, REFILL_UART_TX,
                          REFILL_UART_TX_COUNT, REFILL_UART_TX_CAPACITY, UART_NATIVE_READY)
from ..cpu.mmu import PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D, PTE_HIGH_BITS
from ..cpu.state import (OFFSETS, TLB_ENTRIES, TLB_ENTRY_SIZE, TLB_FIELD, TLB_MODE_SHIFT, NO_TAG,
                         ACCESS_LOAD, ACCESS_STORE, ACCESS_AMO)
from ..soc.uart import THR as UART_THR, LSR as UART_LSR
from .llvmconst import c64, load_word
from .sfencelower import superpage_byte_ir

REFILL_FN = "rvjit_mem_refill"
PPN_MASK = (1 << 44) - 1


def chunk_test_ir() -> str:
    """IR setting i1 %touches: the store of %size bytes at %inpage of the RAM page at %poff
    overlaps its code (cpu.codemap's chunk bits; a store of at most 8 bytes within a page spans
    at most two chunks)."""
    return (load_word("%ctx", REFILL_CODE_CHUNKS, "chunkmap", "ptr") + "  %cpage = lshr i64 %poff, 12\n"
            + chunk_span_ir("%inpage", "%size", "cspan")
            + "".join(chunk_word_ir("%chunkmap", "%cpage", f"%cspan.{k}", f"c{k}")
                      + f"  %cv{k} = load i64, ptr %c{k}.p\n"
                        f"  %cs{k} = lshr i64 %cv{k}, %c{k}.bit\n"
                        f"  %ct{k} = and i64 %cs{k}, 1\n" for k in ("first", "last"))
            + "  %cany = or i64 %ctfirst, %ctlast\n"
              "  %touches = icmp ne i64 %cany, 0\n")


def refill_ir() -> str:
    """i64 @rvjit_mem_refill(ptr %s, i64 %addr, i64 %value, i64 %op): mem_helper's signature."""
    o = OFFSETS
    tlb, entry = o["tlb"], TLB_ENTRY_SIZE
    sizes = (1, 2, 4, 8)

    loads = "".join(f"""ld{n}:
  %lv{n} = load i{8 * n}, ptr %host, align 1
  %lz{n} = zext i{8 * n} %lv{n} to i64
  ret i64 %lz{n}
""" if n < 8 else """ld8:
  %lv8 = load i64, ptr %host, align 1
  ret i64 %lv8
""" for n in sizes)
    stores = "".join(f"""st{n}:
  %sv{n} = trunc i64 %value to i{8 * n}
  store i{8 * n} %sv{n}, ptr %host, align 1
  ret i64 0
""" if n < 8 else """st8:
  store i64 %value, ptr %host, align 1
  ret i64 0
""" for n in sizes)
    return f"""define i64 @{REFILL_FN}(ptr noalias %s, i64 %addr, i64 %value, i64 %op) nounwind {{
entry:
  %size = and i64 %op, 255
  %kind = lshr i64 %op, 8
  %isstore = icmp eq i64 %kind, {ACCESS_STORE}
  %isamo = icmp eq i64 %kind, {ACCESS_AMO}
  %write = or i1 %isstore, %isamo
  %inpage = and i64 %addr, 4095
  %endpage = add i64 %inpage, %size
  %crosses = icmp ugt i64 %endpage, 4096
  %satpp = getelementptr i8, ptr %s, i64 {o['walk_satp']}
  %satp = load i64, ptr %satpp
  %smode = lshr i64 %satp, 60
  %bare = icmp ult i64 %smode, 8
  %tmp = getelementptr i8, ptr %s, i64 {o['tlb_mode']}
  %tmode = load i64, ptr %tmp
  %mode = lshr i64 %tmode, {TLB_MODE_SHIFT}
  %priv = and i64 %mode, 3
  %mpriv = icmp eq i64 %priv, 3
  %ctxp = getelementptr i8, ptr %s, i64 {o['refill']}
  %ctx = load ptr, ptr %ctxp
{load_word("%ctx", REFILL_LOG_COUNT, "lc")}{load_word("%ctx", REFILL_LOG_CAPACITY, "lcap")}  %full = icmp uge i64 %lc, %lcap
  %no1 = or i1 %crosses, %bare
  %no2 = or i1 %mpriv, %full
  %no = or i1 %no1, %no2
  br i1 %no, label %nowalk, label %start
nowalk:
  %direct = or i1 %mpriv, %bare
  %notcross = xor i1 %crosses, true
  %physical = and i1 %direct, %notcross
  br i1 %physical, label %device, label %python
start:
  %levels = sub i64 %smode, 5
  %vabits0 = mul i64 %levels, 9
  %vabits = add i64 %vabits0, 12
  %topshift = sub i64 %vabits, 1
  %top = ashr i64 %addr, %topshift
  %top0 = icmp eq i64 %top, 0
  %topm = icmp eq i64 %top, -1
  %canon = or i1 %top0, %topm
  %root0 = and i64 %satp, {PPN_MASK}
  %root = shl i64 %root0, 12
  %rbp = getelementptr i8, ptr %s, i64 {o['ram_base']}
  %rbase = load i64, ptr %rbp
  %ramp = getelementptr i8, ptr %s, i64 {o['ram']}
  %ram = load ptr, ptr %ramp
{load_word("%ctx", REFILL_RAM_SIZE, "ramsize")}  %ptelimit = sub i64 %ramsize, 8
  %level0 = sub i64 %levels, 1
  br i1 %canon, label %walk, label %python
walk:
  %level = phi i64 [%level0, %start], [%leveln, %down]
  %table = phi i64 [%root, %start], [%next, %down]
  %g = phi i64 [0, %start], [%g1, %down]
  %ishift0 = mul i64 %level, 9
  %ishift = add i64 %ishift0, 12
  %ix0 = lshr i64 %addr, %ishift
  %ix = and i64 %ix0, 511
  %ixb = shl i64 %ix, 3
  %pteaddr = add i64 %table, %ixb
  %pteoff = sub i64 %pteaddr, %rbase
  %pteout = icmp ugt i64 %pteoff, %ptelimit
  br i1 %pteout, label %python, label %readpte
readpte:
  %ptep = getelementptr i8, ptr %ram, i64 %pteoff
  %pte = load i64, ptr %ptep, align 8
  %v = and i64 %pte, {PTE_V}
  %invalid = icmp eq i64 %v, 0
  %rw = and i64 %pte, {PTE_R | PTE_W}
  %wonly = icmp eq i64 %rw, {PTE_W}
  %high = and i64 %pte, {c64(PTE_HIGH_BITS)}
  %reserved = icmp ne i64 %high, 0
  %bad1 = or i1 %invalid, %wonly
  %bad = or i1 %bad1, %reserved
  %gbit = and i64 %pte, {PTE_G}
  %g1 = or i64 %g, %gbit
  %rx = and i64 %pte, {PTE_R | PTE_X}
  %isleaf = icmp ne i64 %rx, 0
  %ppn0 = lshr i64 %pte, 10
  %ppn = and i64 %ppn0, {PPN_MASK}
  br i1 %bad, label %python, label %kindof
kindof:
  br i1 %isleaf, label %leaf, label %down0
down0:
  %last = icmp eq i64 %level, 0
  br i1 %last, label %python, label %down
down:
  %leveln = sub i64 %level, 1
  %next = shl i64 %ppn, 12
  br label %walk
leaf:
  %big = icmp ugt i64 %level, 1
  %super = icmp eq i64 %level, 1
  %private = icmp eq i64 %g1, 0
  %privsuper = and i1 %super, %private
  %lno = or i1 %big, %privsuper
  %ubit = and i64 %pte, {PTE_U}
  %isuser = icmp ne i64 %ubit, 0
  %upriv = icmp eq i64 %priv, 0
  %sumb = and i64 %mode, 4
  %nosum = icmp eq i64 %sumb, 0
  %u_denied = xor i1 %isuser, true
  %s_denied = and i1 %isuser, %nosum
  %udeny = select i1 %upriv, i1 %u_denied, i1 %s_denied
  %wbit = and i64 %pte, {PTE_W}
  %hasw = icmp ne i64 %wbit, 0
  %rbit = and i64 %pte, {PTE_R}
  %hasr = icmp ne i64 %rbit, 0
  %xbit = and i64 %pte, {PTE_X}
  %hasx = icmp ne i64 %xbit, 0
  %mxrb = and i64 %mode, 8
  %mxr = icmp ne i64 %mxrb, 0
  %xr = and i1 %hasx, %mxr
  %readable = or i1 %hasr, %xr
  %allowed = select i1 %write, i1 %hasw, i1 %readable
  %abit = and i64 %pte, {PTE_A}
  %noa = icmp eq i64 %abit, 0
  %dbit = and i64 %pte, {PTE_D}
  %hasd = icmp ne i64 %dbit, 0
  %nod = xor i1 %hasd, true
  %needd = and i1 %write, %nod
  %ppnlow = and i64 %ppn, 511
  %misal0 = icmp ne i64 %ppnlow, 0
  %misal = and i1 %super, %misal0
  %notallowed = xor i1 %allowed, true
  %lbad1 = or i1 %lno, %udeny
  %lbad2 = or i1 %notallowed, %noa
  %lbad3 = or i1 %needd, %misal
  %lbad4 = or i1 %lbad1, %lbad2
  %lbad = or i1 %lbad4, %lbad3
  br i1 %lbad, label %python, label %phys
phys:
  %vpn = lshr i64 %addr, 12
  %vlow = and i64 %vpn, 511
  %sub = select i1 %super, i64 %vlow, i64 0
  %pfn = add i64 %ppn, %sub
  %pa = shl i64 %pfn, 12
  %poff = sub i64 %pa, %rbase
  %pout = icmp uge i64 %poff, %ramsize
  %walkedpa = add i64 %pa, %inpage
  br i1 %pout, label %device, label %inram
device:
  %dpa = phi i64 [%addr, %nowalk], [%walkedpa, %phys]
{load_word("%ctx", REFILL_UART_STATE, "ustate")}{load_word("%ctx", REFILL_UART_PADDR, "uaddr")}  %uready0 = and i64 %ustate, {UART_NATIVE_READY}
  %uready = icmp ne i64 %uready0, 0
  %ubyte = icmp eq i64 %size, 1
  %userve = and i1 %uready, %ubyte
  %ureg = sub i64 %dpa, %uaddr
  %isthr = icmp eq i64 %ureg, {UART_THR}
  %thrw = and i1 %isthr, %isstore
  %islsr = icmp eq i64 %ureg, {UART_LSR}
  %isload = icmp eq i64 %kind, {ACCESS_LOAD}
  %lsrr = and i1 %islsr, %isload
  %uthr = and i1 %userve, %thrw
  %ulsr = and i1 %userve, %lsrr
  br i1 %uthr, label %uartthr, label %device2
device2:
  br i1 %ulsr, label %uartlsr, label %python
uartlsr:
  %lsr0 = lshr i64 %ustate, 8
  %lsr = and i64 %lsr0, 255
  ret i64 %lsr
uartthr:
{load_word("%ctx", REFILL_UART_TX_COUNT, "txn")}{load_word("%ctx", REFILL_UART_TX_CAPACITY, "txcap")}  %txfull = icmp uge i64 %txn, %txcap
  br i1 %txfull, label %python, label %uartsend
uartsend:
{load_word("%ctx", REFILL_UART_TX, "txbuf", "ptr")}  %txp = getelementptr i8, ptr %txbuf, i64 %txn
  %txb = trunc i64 %value to i8
  store i8 %txb, ptr %txp
  %txn1 = add i64 %txn, 1
  store i64 %txn1, ptr %txn.p
  ret i64 0
inram:
{load_word("%ctx", REFILL_CODE_FLAGS, "flags", "ptr")}{flags_ir("%flags", "%poff", CODE | WATCHED, "guarded")}  %wguard = and i1 %write, %guarded
  br i1 %wguard, label %nextto, label %fill
nextto:
{flags_ir("%flags", "%poff", WATCHED, "watched")}  %notplain = or i1 %watched, %isamo
  br i1 %notplain, label %python, label %chunks
chunks:
{chunk_test_ir()}  br i1 %touches, label %python, label %fill
fill:
  %dirtyw = and i1 %hasw, %hasd
  %wantw = or i1 %write, %dirtyw
  %notguarded = xor i1 %guarded, true
  %openw = and i1 %wantw, %notguarded
  %slot = and i64 %vpn, {TLB_ENTRIES - 1}
  %tag = or i64 %vpn, %tmode
  %eoff0 = mul i64 %slot, {entry}
  %eoff = add i64 %eoff0, {tlb}
  %ep = getelementptr i8, ptr %s, i64 %eoff
  %tagr = getelementptr i8, ptr %ep, i64 {TLB_FIELD['tag_read']}
  store i64 %tag, ptr %tagr
  %tagw = getelementptr i8, ptr %ep, i64 {TLB_FIELD['tag_write']}
  %wtag = select i1 %openw, i64 %tag, i64 {c64(NO_TAG)}
  store i64 %wtag, ptr %tagw
  %vbase = shl i64 %vpn, 12
  %addend = sub i64 %poff, %vbase
  %adp = getelementptr i8, ptr %ep, i64 {TLB_FIELD['addend']}
  store i64 %addend, ptr %adp
  %fpriv = select i1 %private, i64 {REFILLED_PRIVATE}, i64 0
  %fw = select i1 %openw, i64 {REFILLED_WRITABLE}, i64 0
  %fsup = select i1 %super, i64 {REFILLED_SUPERPAGE}, i64 0
  %fl1 = or i64 %fpriv, %fw
  %fl = or i64 %fl1, %fsup
  %flsh = shl i64 %fl, 32
  %packed = or i64 %slot, %flsh
{load_word("%ctx", REFILL_LOG, "log", "ptr")}  %lix = mul i64 %lc, {REFILL_LOG_WORDS}
  %l0 = getelementptr i64, ptr %log, i64 %lix
  store i64 %packed, ptr %l0
  %l1 = getelementptr i64, ptr %l0, i64 1
  store i64 %pfn, ptr %l1
  %first = and i64 %vpn, -512
  %l2 = getelementptr i64, ptr %l0, i64 2
  store i64 %first, ptr %l2
  %lc1 = add i64 %lc, 1
  store i64 %lc1, ptr %lc.p
  br i1 %super, label %mark, label %access
mark:
  %sfp = getelementptr i8, ptr %s, i64 {o['sfence_filter']}
  %sf = load ptr, ptr %sfp
{superpage_byte_ir("%vpn", "%fix")}  %fb = getelementptr i8, ptr %sf, i64 %fix
  store i8 1, ptr %fb
  br label %access
access:
  %hoff = add i64 %poff, %inpage
  %host = getelementptr i8, ptr %ram, i64 %hoff
  br i1 %isstore, label %dostore, label %doload
doload:
  switch i64 %size, label %python [i64 1, label %ld1
                                   i64 2, label %ld2
                                   i64 4, label %ld4
                                   i64 8, label %ld8]
{loads}dostore:
  switch i64 %size, label %python [i64 1, label %st1
                                   i64 2, label %st2
                                   i64 4, label %st4
                                   i64 8, label %st8]
{stores}python:
  %pyp = getelementptr i8, ptr %s, i64 {o['py_mem_helper']}
  %py = load ptr, ptr %pyp
  %r = call i64 %py(ptr %s, i64 %addr, i64 %value, i64 %op)
  ret i64 %r
}}
"""


# by engine (weakly: an id() could name a later engine, and code freed with the old one)
_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def install(hart, engine):
    """Put the native walker in front of the hart's Python memory helper (once per engine)."""
    st = hart.state
    if not st.py_mem_helper:             # a ctypes pointer field reads None when null
        st.py_mem_helper = st.mem_helper
    address = _compiled.get(engine)
    if address is None:
        address = _compiled[engine] = engine.compile(refill_ir(), [REFILL_FN]).addresses[REFILL_FN]
    st.mem_helper = address
    st.walk_satp = hart.csr.satp
    return address


def uninstall(hart):
    """Python's helper alone again (tests comparing the two)."""
    st = hart.state
    if st.py_mem_helper:
        st.mem_helper = st.py_mem_helper
