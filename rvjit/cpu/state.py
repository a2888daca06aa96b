"""The hart's architectural state as one C struct shared by Python and generated code.

Field list -> ctypes Structure. Generated code reaches fields by byte offset from the state pointer
it is given (`OFFSETS`), so compiled code holds no host addresses.
"""
import ctypes

TLB_ENTRIES = 16384             # direct-mapped software TLB, indexed by virtual page number
JCACHE_BITS = 19                # native jump cache: 512 Ki entries of (guest pc, host function, data)
NO_TAG = (1 << 64) - 1          # TLB tag that never matches a page number
# TLB tags are vpn | mode << TLB_MODE_SHIFT: a virtual page number has at most 52 bits, so entries
# filled in different translation modes (privilege, SUM, MXR) never match each other, and a mode
# switch (every trap, every SBI call, every uaccess SUM toggle) needs no flush.
TLB_MODE_SHIFT = 52
# Execute tags carry FETCH_MODE_BASE + privilege as their mode (data modes are below 16)
FETCH_MODE_BASE = 16


class TlbEntry(ctypes.Structure):
    # Tags are virtual page numbers that may be read / written; addend turns a virtual address
    # into an offset into the guest RAM buffer (only RAM pages are ever entered).
    _fields_ = [("tag_read", ctypes.c_uint64), ("tag_write", ctypes.c_uint64),
                ("addend", ctypes.c_uint64), ("pad", ctypes.c_uint64)]


# Execute TLB: pages Python has fetched code from in the current mode, so that generated code can
# find translated blocks natively (backend.blocktable). Entries: u64 tag (vpn | mode), u64 addend.
ITLB_ENTRIES = 4096


class JcacheEntry(ctypes.Structure):
    # fn(state, data) enters the block: data is the record array of a threaded block (fn is then
    # the shared executor) and unused by compiled blocks.
    _fields_ = [("pc", ctypes.c_uint64), ("fn", ctypes.c_void_p), ("data", ctypes.c_void_p)]


JCACHE_WORDS = 3                # 64-bit words per JcacheEntry
JFILL_CAPACITY = 4096           # native jump cache fills recorded before Python must look


# Why a native run ended (state.exit_reason)
EXIT_NONE, EXIT_BUDGET, EXIT_MISS, EXIT_TRAP, EXIT_SYS, EXIT_STOP = 0, 1, 2, 3, 4, 5
# EXIT_STOP: a helper asked to leave after the current instruction (guest halted, code modified...)

SYS_KINDS = ("mret", "sret", "wfi", "sfence.vma")

# sfence.vma of one page is carried out by generated code when nothing but the TLB and the MMU's
# remembered walk of that page can be stale (rvjit.cpu.sfence): the filter's bytes say which pages
# need Python instead, and the walks to forget wait in a queue the MMU empties before its next use.
SFENCE_QUEUE = 128
SFENCE_CODE_BITS = 16           # filter bytes [0, 1 << 16): by virtual page, pages holding code
SFENCE_SUPER_BITS = 12          # then [1 << 16, + 1 << 12): by 2 MiB region, remembered superpages
# A region's byte is picked by a multiplicative hash of its number, not its low bits: the top of
# the kernel's address space and the top of a user stack share their low bits, and then every
# sfence.vma of a stack page left native code for a superpage of the kernel's.
SFENCE_REGION_HASH = 0x9E3779B97F4A7C15

# mtime counts at 10 MHz of host time
MTIME_NS_PER_TICK = 100
CLOCK_MONOTONIC = 1             # Linux's clock id, what time.monotonic_ns reads

u64 = ctypes.c_uint64
i64 = ctypes.c_int64
u32 = ctypes.c_uint32
ptr = ctypes.c_void_p


class HartState(ctypes.Structure):
    _fields_ = [
        ("x", u64 * 32),
        ("f", u64 * 32),
        ("pc", u64),
        ("budget", i64),            # instructions left before returning to Python
        ("exit_reason", u32),
        ("exit_sys", u32),          # index into SYS_KINDS for EXIT_SYS
        ("trap_cause", u64),
        ("trap_tval", u64),
        ("priv", u64),
        ("fflags", u64),
        ("frm", u64),
        ("mstatus", u64),
        ("resv", u64),              # LR/SC reservation address, NO_TAG when none
        ("ram", ptr),               # host address of guest RAM
        ("mem_helper", ptr),        # u64 (state*, addr, value, op): slow-path loads and stores
        ("csr_helper", ptr),        # u64 (state*, csr, value, op)
        ("fp_table", ptr),          # array of FP primitive functions, in rvjit.fp.PRIMITIVES order
        ("jcache", ptr),            # JcacheEntry[1 << JCACHE_BITS]: the current privilege's table
        ("jcache_tables", ptr),     # all four tables (by privilege), one after the other
        ("counters", ptr),          # u64 execution counters of first-tier blocks
        ("mem_table", ptr),         # runtime memory access functions used by first-tier code
        ("tlb_mode", u64),          # translation mode << TLB_MODE_SHIFT, or-ed into TLB tags
        ("irq_pending", u64),       # mip & mie, kept current by Python (Hart.update_irq_pending)
        # CSRs generated code reads and writes itself (rvjit.cpu.csr.STATE_CSRS)
        ("mscratch", u64), ("mepc", u64), ("mcause", u64), ("mtval", u64),
        ("sscratch", u64), ("sepc", u64), ("scause", u64), ("stval", u64),
        ("sfence_filter", ptr),     # u8 per page / region: its sfence.vma needs Python
        ("sfence_count", u64),      # queued single-page sfence.vma addresses
        ("sfence_queue", u64 * SFENCE_QUEUE),
        ("budget_entry", i64),      # budget when the running threaded block was entered (its
                                    # handlers compute the exact budget from it for CSR helpers)
        # Finding a translated block natively when the jump cache misses (backend.blocktable)
        ("fetch_tag", u64),         # mode bits of execute tags now; 0: fetches are untranslated
        ("itlb", ptr),              # [ITLB_ENTRIES][tag, addend]
        ("ram_base", u64),          # guest physical address of RAM
        ("block_table", ptr),       # [pc, pc's RAM offset, fn, data] per translated block
        ("block_mask", u64),
        ("block_used", u64),        # its live entries and tombstones
        ("jfill_buf", ptr),         # jump cache slots filled natively since Python last looked
        ("jfill_count", u64),
        ("miss_fn", ptr),           # what generated code calls when its jump cache misses
        # Translating a new threaded block natively on a block table miss (backend.nativeblock):
        # ptr new_block_fn(state*, pc, RAM offset) -> its block table entry, or null; 0: never
        ("new_block_fn", ptr),
        ("new_block", ptr),         # its context (nativeblock.CTX_*)
        # TLB refills walked natively (backend.tlbrefill): mem_helper is the native walker,
        # which calls py_mem_helper (Python) for everything it leaves alone
        ("py_mem_helper", ptr),
        ("walk_satp", u64),         # satp, for the walker
        ("refill", ptr),            # the walker's context (cpu.memory.REFILL_*)
        # The time CSR read natively (backend.csrlower), as soc.clint computes mtime:
        # (clock_gettime(CLOCK_MONOTONIC) in ns - mtime_t0) / MTIME_NS_PER_TICK + mtime_offset
        ("clock_fn", ptr),          # libc's clock_gettime; 0: the CLINT's clock is not the host's
        ("clock_ts", u64 * 2),      # its struct timespec
        ("mtime_t0", u64),
        ("mtime_offset", u64),
        ("time_access", u64),       # bit p set: privilege p may read time (mcounteren, scounteren)
        ("tlb", TlbEntry * TLB_ENTRIES),
    ]


OFFSETS = {name: getattr(HartState, name).offset for name, _ in HartState._fields_}
TLB_ENTRY_SIZE = ctypes.sizeof(TlbEntry)
TLB_FIELD = {name: getattr(TlbEntry, name).offset for name, _ in TlbEntry._fields_}

# Slow-path memory op encoding: size in bytes | access kind << 8
ACCESS_LOAD, ACCESS_STORE, ACCESS_AMO, ACCESS_LR = 0, 1, 2, 3
ACCESS_KINDS = {"load": ACCESS_LOAD, "store": ACCESS_STORE, "amo": ACCESS_AMO, "lr": ACCESS_LR}
# CSR helper op encoding
CSR_OPS = {"rw": 0, "rs": 1, "rc": 2}
CSR_READ, CSR_WRITE = 4, 8
