"""Lowering of the IR's `csr` op: inline for the CSRs rvjit.cpu.csr marks as safe for generated
code (plain trap registers, mstatus/sstatus reads and most writes, the time CSR off the host's
clock, read-as-zero machine registers), a call to the Python CSR file for everything else. A
mixin of llvmgen.FunctionWriter.

The inline path only ever does what CsrFile.access would do; whenever it cannot be sure (a lower
privilege level, a status write touching TVM/TW/TSR, a counter the guest has not enabled) it
takes the call instead.
"""
from ..cpu.csr import (INTERRUPT_ENABLES, MSTATUS_FS, MSTATUS_SD, QUIET_STATUS_BITS, STATE_CSRS, STATUS_VIEWS,
                       TIME_CSR, XLEN_FIELDS, ZERO_READ_CSRS)
from ..cpu.mmu import MSTATUS_MXR, MSTATUS_SUM
from ..cpu.state import (CLOCK_MONOTONIC, CSR_OPS, CSR_READ, CSR_WRITE, EXIT_STOP, MTIME_NS_PER_TICK, OFFSETS,
                         TLB_MODE_SHIFT)
from ..cpu.trap import MSTATUS_MPP, MSTATUS_MPP_SHIFT, MSTATUS_MPRV, PRV_M

# SUM (bit 18) and MXR (bit 19) sit where the data mode wants bits 2 and 3 (mmu._data_mode)
SUM_MXR_TO_MODE = MSTATUS_SUM.bit_length() - 1 - 2
assert MSTATUS_MXR >> SUM_MXR_TO_MODE == 8
from .llvmconst import c64


def inline_csr(num: int, write: bool) -> bool:
    """Whether generated code handles this access to CSR num itself (at a high enough level)."""
    return num in STATE_CSRS or num in STATUS_VIEWS or (num in ZERO_READ_CSRS or num == TIME_CSR) and not write


class CsrLowering:
    def lower_csr(self, op, idx, a) -> str:
        at = op.attrs
        if not inline_csr(at["csr"], at["write"]):
            return self.call_csr_helper(op, idx, a)
        e = self.emit
        num = at["csr"]
        ok, fast, slow, join = self.t(), self.label("csr"), self.label("csrslow"), self.label("csrjoin")
        e(f"{ok} = icmp uge i64 {self.read_field('priv')}, {(num >> 8) & 3}")
        e(f"br i1 {ok}, label %{fast}, label %{slow}")
        self.start(fast)
        old, stop = self.inline_csr_access(num, at["csrop"], at["write"], a[0], slow)
        fast_end = self.cur_label
        e(f"br label %{join}")
        self.start(slow)
        helper_old, helper_stop = self.call_csr_helper(op, idx, a, keep_stop=True)
        slow_end = self.cur_label
        e(f"br label %{join}")
        self.start(join)
        r, sf = self.t(), self.t()
        e(f"{r} = phi i64 [{old}, %{fast_end}], [{helper_old}, %{slow_end}]")
        e(f"{sf} = phi i1 [{stop}, %{fast_end}], [{helper_stop}, %{slow_end}]")
        self.field_values.clear()
        self.stop_flags.append(sf)
        return r

    def call_csr_helper(self, op, idx, a, keep_stop=False):
        at = op.attrs
        packed = at["csr"] | CSR_OPS[at["csrop"]] << 12 | (CSR_READ if at["read"] else 0) << 12 \
            | (CSR_WRITE if at["write"] else 0) << 12 | at["raw"] << 32
        r, stop = self.call_helper("csr_helper", idx, f"i64 {a[0]}, i64 {c64(packed)}, i64 0")
        if keep_stop:
            return r, stop
        self.field_values.clear()
        self.stop_flags.append(stop)
        return r

    def inline_csr_access(self, num, csrop, write, value, slow):
        """(old value, stop flag) of an access the privilege check allowed; may branch to slow."""
        e = self.emit
        if num in ZERO_READ_CSRS:
            return "0", "false"
        if num in STATE_CSRS:
            field, keep = STATE_CSRS[num]
            old = self.load_field(OFFSETS[field])
            if write:
                self.store_field(OFFSETS[field], self._csr_and(self._csr_new(csrop, old, value), keep))
            return old, "false"
        if num == TIME_CSR:
            return self._inline_time(slow), "false"
        read_mask, write_mask = STATUS_VIEWS[num]
        ms, view, old = self.load_field(OFFSETS["mstatus"]), self.t(), self.t()
        e(f"{view} = or i64 {ms}, {c64(XLEN_FIELDS)}")
        e(f"{old} = and i64 {view}, {c64(read_mask)}")
        if not write:
            return old, "false"
        new = self._csr_new(csrop, old, value)
        kept, changed, merged, diff, loud, quiet, mpp, reserved, fine = (self.t() for _ in range(9))
        e(f"{kept} = and i64 {ms}, {c64(~write_mask)}")
        e(f"{changed} = and i64 {new}, {c64(write_mask)}")
        e(f"{merged} = or i64 {kept}, {changed}")
        e(f"{diff} = xor i64 {merged}, {ms}")
        e(f"{loud} = and i64 {diff}, {c64(~QUIET_STATUS_BITS)}")
        e(f"{quiet} = icmp eq i64 {loud}, 0")
        e(f"{mpp} = and i64 {merged}, {MSTATUS_MPP}")
        e(f"{reserved} = icmp eq i64 {mpp}, {2 << MSTATUS_MPP_SHIFT}")      # WARL: Python keeps the old
        e(f"{fine} = select i1 {reserved}, i1 false, i1 {quiet}")
        store = self.label("csrquiet")
        e(f"br i1 {fine}, label %{store}, label %{slow}")
        self.start(store)
        status = self._with_sd(merged)
        self.store_field(OFFSETS["mstatus"], status)
        self.store_field(OFFSETS["tlb_mode"], self._data_tlb_mode(status))
        # an interrupt enable newly set while an interrupt is pending: let the run loop decide
        enabled, pending, any_, stop, reason, raised = (self.t() for _ in range(6))
        e(f"{raised} = and i64 {diff}, {merged}")
        e(f"{enabled} = and i64 {raised}, {INTERRUPT_ENABLES}")
        pend = self.load_field(OFFSETS["irq_pending"])
        e(f"{pending} = icmp ne i64 {pend}, 0")
        e(f"{any_} = icmp ne i64 {enabled}, 0")
        e(f"{stop} = and i1 {pending}, {any_}")
        cur = self.load_field(OFFSETS["exit_reason"], "i32")
        e(f"{reason} = select i1 {stop}, i32 {EXIT_STOP}, i32 {cur}")
        self.store_field(OFFSETS["exit_reason"], reason, "i32")
        return old, stop

    def _with_sd(self, status) -> str:
        """status with SD = (FS == Dirty), as CsrFile._write_mstatus keeps it."""
        e = self.emit
        fs, is_dirty, sd, clear, out = (self.t() for _ in range(5))
        e(f"{fs} = and i64 {status}, {MSTATUS_FS}")
        e(f"{is_dirty} = icmp eq i64 {fs}, {MSTATUS_FS}")
        e(f"{sd} = select i1 {is_dirty}, i64 {c64(MSTATUS_SD)}, i64 0")
        e(f"{clear} = and i64 {status}, {c64(~MSTATUS_SD)}")
        e(f"{out} = or i64 {clear}, {sd}")
        return out

    def _data_tlb_mode(self, status) -> str:
        """state.tlb_mode for a new mstatus (Hart.update_tlb_mode: mmu's data mode, the effective
        privilege with SUM and MXR)."""
        e = self.emit
        priv = self.read_field("priv")
        in_m, mprv, has_mprv, via_mpp, mpp, mpp2, eff, flags, bits, mode, out = (self.t() for _ in range(11))
        e(f"{in_m} = icmp eq i64 {priv}, {PRV_M}")
        e(f"{mprv} = and i64 {status}, {MSTATUS_MPRV}")
        e(f"{has_mprv} = icmp ne i64 {mprv}, 0")
        e(f"{via_mpp} = and i1 {in_m}, {has_mprv}")
        e(f"{mpp} = lshr i64 {status}, {MSTATUS_MPP_SHIFT}")
        e(f"{mpp2} = and i64 {mpp}, 3")
        e(f"{eff} = select i1 {via_mpp}, i64 {mpp2}, i64 {priv}")
        e(f"{flags} = and i64 {status}, {MSTATUS_SUM | MSTATUS_MXR}")
        e(f"{bits} = lshr i64 {flags}, {SUM_MXR_TO_MODE}")
        e(f"{mode} = or i64 {eff}, {bits}")
        e(f"{out} = shl i64 {mode}, {TLB_MODE_SHIFT}")
        return out

    def _inline_time(self, slow) -> str:
        """The time CSR off the host's monotonic clock, as soc.clint's mtime(); the CSR call when
        the guest's counter enables forbid it here (it raises the trap) or the clock is a test's."""
        e = self.emit
        fn = self.load_field(OFFSETS["clock_fn"], "ptr")
        access = self.load_field(OFFSETS["time_access"])
        bits, allowed, have, ok = (self.t() for _ in range(4))
        e(f"{bits} = lshr i64 {access}, {self.read_field('priv')}")
        e(f"{allowed} = trunc i64 {bits} to i1")
        e(f"{have} = icmp ne ptr {fn}, null")
        e(f"{ok} = and i1 {allowed}, {have}")
        native = self.label("timenow")
        e(f"br i1 {ok}, label %{native}, label %{slow}")
        self.start(native)
        ts, rc, ns, now, since, ticks, r = self.field_ptr(OFFSETS["clock_ts"]), *(self.t() for _ in range(6))
        e(f"{rc} = call i32 {fn}(i32 {CLOCK_MONOTONIC}, ptr {ts})")
        sec = self.load_field(OFFSETS["clock_ts"])
        nsec = self.load_field(OFFSETS["clock_ts"] + 8)
        e(f"{ns} = mul i64 {sec}, 1000000000")
        e(f"{now} = add i64 {ns}, {nsec}")
        e(f"{since} = sub i64 {now}, {self.load_field(OFFSETS['mtime_t0'])}")
        e(f"{ticks} = udiv i64 {since}, {MTIME_NS_PER_TICK}")
        e(f"{r} = add i64 {ticks}, {self.load_field(OFFSETS['mtime_offset'])}")
        return r

    def _csr_new(self, csrop, old, value) -> str:
        if csrop == "rw":
            return value
        r = self.t()
        if csrop == "rs":
            self.emit(f"{r} = or i64 {old}, {value}")
        else:
            inv = self.t()
            self.emit(f"{inv} = xor i64 {value}, -1")
            self.emit(f"{r} = and i64 {old}, {inv}")
        return r

    def _csr_and(self, v, mask) -> str:
        if mask == (1 << 64) - 1:
            return v
        r = self.t()
        self.emit(f"{r} = and i64 {v}, {c64(mask)}")
        return r
