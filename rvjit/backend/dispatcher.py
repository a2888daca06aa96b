"""The native dispatcher: where the run loop re-enters native code after a trap or system
instruction, and where every block goes when its own jump cache lookup misses. It is compiled
into the threaded handler library's module (handlergen.handlers_module).

    void @rvjit_dispatch(ptr %s, ptr %unused)
"""
from ..cpu.state import OFFSETS, JCACHE_BITS, JCACHE_WORDS, EXIT_MISS, JFILL_CAPACITY, SFENCE_CODE_BITS, ITLB_ENTRIES
from .blocktable import slot_ir

DISPATCHER = "rvjit_dispatch"


def dispatcher_ir() -> str:
    """Enter the block for state.pc from the jump cache; on a miss, find it in the block table
    (backend.blocktable) through the TLB's execute tag and refill the jump cache entry; not
    there, have it translated natively (state.new_block_fn, backend.nativeblock); else leave
    with EXIT_MISS. The run loop's way back into native code after a trap or system
    instruction, and where every block goes when its own jump cache lookup misses."""
    o = OFFSETS
    return f"""define void @{DISPATCHER}(ptr noalias %s, ptr %unused) nounwind {{
entry:
  %pcp = getelementptr i8, ptr %s, i64 {o['pc']}
  %pc = load i64, ptr %pcp
  %jcp = getelementptr i8, ptr %s, i64 {o['jcache']}
  %jc = load ptr, ptr %jcp
  %ix0 = lshr i64 %pc, 1
  %ix = and i64 %ix0, {(1 << JCACHE_BITS) - 1}
  %ep = getelementptr [{JCACHE_WORDS} x i64], ptr %jc, i64 %ix
  %tag = load i64, ptr %ep
  %hit = icmp eq i64 %tag, %pc
  br i1 %hit, label %go, label %miss, !prof !1
go:
  %fp = getelementptr i8, ptr %ep, i64 8
  %fn = load ptr, ptr %fp
  %dp = getelementptr i8, ptr %ep, i64 16
  %nd = load ptr, ptr %dp
  musttail call void %fn(ptr %s, ptr %nd)
  ret void
miss:
  %ftp = getelementptr i8, ptr %s, i64 {o['fetch_tag']}
  %ft = load i64, ptr %ftp
  %bare = icmp eq i64 %ft, 0
  br i1 %bare, label %off_bare, label %off_tlb
off_bare:
  %rbp = getelementptr i8, ptr %s, i64 {o['ram_base']}
  %rb = load i64, ptr %rbp
  %offb = sub i64 %pc, %rb
  br label %find
off_tlb:
  %vpn = lshr i64 %pc, 12
  %tslot = and i64 %vpn, {ITLB_ENTRIES - 1}
  %itp = getelementptr i8, ptr %s, i64 {o['itlb']}
  %itlb = load ptr, ptr %itp
  %xp = getelementptr [2 x i64], ptr %itlb, i64 %tslot
  %xt = load i64, ptr %xp
  %want = or i64 %vpn, %ft
  %xok = icmp eq i64 %xt, %want
  br i1 %xok, label %tlb_hit, label %give_up
tlb_hit:
  %ap = getelementptr i8, ptr %xp, i64 8
  %addend = load i64, ptr %ap
  %offt = add i64 %pc, %addend
  br label %find
find:
  %off = phi i64 [%offb, %off_bare], [%offt, %tlb_hit]
  %cntp = getelementptr i8, ptr %s, i64 {o['jfill_count']}
  %cnt = load i64, ptr %cntp
  %room = icmp ult i64 %cnt, {JFILL_CAPACITY}
  br i1 %room, label %hash, label %give_up
hash:
  %btp = getelementptr i8, ptr %s, i64 {o['block_table']}
  %bt = load ptr, ptr %btp
  %bmp = getelementptr i8, ptr %s, i64 {o['block_mask']}
  %bm = load i64, ptr %bmp
{slot_ir("%pc", "%off", "%bm", "h0")}  br label %probe
probe:
  %h = phi i64 [%h0, %hash], [%hn, %next]
  %eoff = shl i64 %h, 5
  %e = getelementptr i8, ptr %bt, i64 %eoff
  %epc = load i64, ptr %e
  %eop = getelementptr i8, ptr %e, i64 8
  %eo = load i64, ptr %eop
  %efp = getelementptr i8, ptr %e, i64 16
  %efn = load i64, ptr %efp
  %m1 = icmp eq i64 %epc, %pc
  %m2 = icmp eq i64 %eo, %off
  %m = and i1 %m1, %m2
  br i1 %m, label %found, label %nomatch
nomatch:
  %empty = icmp eq i64 %efn, 0
  br i1 %empty, label %new, label %next
next:
  %h1 = add i64 %h, 1
  %hn = and i64 %h1, %bm
  br label %probe
new:
  %nbfp = getelementptr i8, ptr %s, i64 {o['new_block_fn']}
  %nbf = load ptr, ptr %nbfp
  %hasnb = icmp ne ptr %nbf, null
  br i1 %hasnb, label %translate, label %give_up
translate:
  %ne = call ptr %nbf(ptr %s, i64 %pc, i64 %off)
  %made = icmp ne ptr %ne, null
  br i1 %made, label %found, label %give_up
found:
  %ef = phi ptr [%e, %probe], [%ne, %translate]
  %efp2 = getelementptr i8, ptr %ef, i64 16
  %efn2 = load i64, ptr %efp2
  %edp = getelementptr i8, ptr %ef, i64 24
  %edata = load i64, ptr %edp
  store i64 %pc, ptr %ep
  %jfp = getelementptr i8, ptr %ep, i64 8
  store i64 %efn2, ptr %jfp
  %jdp = getelementptr i8, ptr %ep, i64 16
  store i64 %edata, ptr %jdp
  %jbp = getelementptr i8, ptr %s, i64 {o['jfill_buf']}
  %jb = load ptr, ptr %jbp
  %jslot = getelementptr i64, ptr %jb, i64 %cnt
  store i64 %ix, ptr %jslot
  %cnt1 = add i64 %cnt, 1
  store i64 %cnt1, ptr %cntp
  %sfp = getelementptr i8, ptr %s, i64 {o['sfence_filter']}
  %sf = load ptr, ptr %sfp
  %cvpn = lshr i64 %pc, 12
  %fi = and i64 %cvpn, {(1 << SFENCE_CODE_BITS) - 1}
  %fb = getelementptr i8, ptr %sf, i64 %fi
  store i8 1, ptr %fb
  %fnp = inttoptr i64 %efn2 to ptr
  %dptr = inttoptr i64 %edata to ptr
  musttail call void %fnp(ptr %s, ptr %dptr)
  ret void
give_up:
  %erp = getelementptr i8, ptr %s, i64 {o['exit_reason']}
  store i32 {EXIT_MISS}, ptr %erp
  ret void
}}
"""
