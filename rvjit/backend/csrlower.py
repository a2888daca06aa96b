"""Lowering of the IR's `csr` op: inline for the CSRs rvjit.cpu.csr marks as safe for generated
code (plain trap registers, mstatus/sstatus reads and interrupt-enable writes, read-as-zero
machine registers), a call to the Python CSR file for everything else. A mixin of
llvmgen.FunctionWriter.

The inline path only ever does what CsrFile.access would do; whenever it cannot be sure (a lower
privilege level, a status write touching more than the quiet bits) it takes the call instead.
"""
from ..cpu.csr import (INTERRUPT_ENABLES, QUIET_STATUS_BITS, STATE_CSRS, STATUS_VIEWS, XLEN_FIELDS,
                       ZERO_READ_CSRS)
from ..cpu.state import CSR_OPS, CSR_READ, CSR_WRITE, EXIT_STOP, OFFSETS
from .llvmconst import c64


def inline_csr(num: int, write: bool) -> bool:
    """Whether generated code handles this access to CSR num itself (at a high enough level)."""
    return num in STATE_CSRS or num in STATUS_VIEWS or (num in ZERO_READ_CSRS and not write)


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
        read_mask, write_mask = STATUS_VIEWS[num]
        ms, view, old = self.load_field(OFFSETS["mstatus"]), self.t(), self.t()
        e(f"{view} = or i64 {ms}, {c64(XLEN_FIELDS)}")
        e(f"{old} = and i64 {view}, {c64(read_mask)}")
        if not write:
            return old, "false"
        new = self._csr_new(csrop, old, value)
        kept, changed, merged, diff, loud, quiet = (self.t() for _ in range(6))
        e(f"{kept} = and i64 {ms}, {c64(~write_mask)}")
        e(f"{changed} = and i64 {new}, {c64(write_mask)}")
        e(f"{merged} = or i64 {kept}, {changed}")
        e(f"{diff} = xor i64 {merged}, {ms}")
        e(f"{loud} = and i64 {diff}, {c64(~QUIET_STATUS_BITS)}")
        e(f"{quiet} = icmp eq i64 {loud}, 0")
        store = self.label("csrquiet")
        e(f"br i1 {quiet}, label %{store}, label %{slow}")
        self.start(store)
        self.store_field(OFFSETS["mstatus"], merged)
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
