"""The FDT writer and the virt board's device tree, checked with dtc and against QEMU's own tree."""
import re
import shutil
import struct
import subprocess

import pytest

from rvjit.soc.devicetree import virt_device_tree
from rvjit.soc.fdt import Node, ref, to_dtb, u64

needs_dtc = pytest.mark.skipif(shutil.which("dtc") is None, reason="dtc (device-tree-compiler) not installed")
ISA = "rv64imafdc_zicsr_zifencei"


def decompile(blob: bytes, tmp_path) -> tuple[str, str]:
    path = tmp_path / "tree.dtb"
    path.write_bytes(blob)
    done = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def header(blob: bytes) -> dict:
    names = ("magic totalsize off_dt_struct off_dt_strings off_mem_rsvmap version "
             "last_comp_version boot_cpuid_phys size_dt_strings size_dt_struct").split()
    return dict(zip(names, struct.unpack(">10I", blob[:40])))


def node_paths(dts: str) -> dict:
    """path -> compatible (or None) for every node of a decompiled tree."""
    paths, stack = {}, []
    for line in dts.splitlines():
        line = line.strip()
        if m := re.fullmatch(r"(\S+) \{", line):
            name = "" if m[1] == "/" else m[1]
            stack.append(name)
            paths["/".join(stack) or "/"] = None
        elif line == "};":
            stack.pop()
        elif m := re.fullmatch(r'compatible = (".*");', line):
            paths["/".join(stack) or "/"] = m[1]
    return paths


def virt(**kw):
    args = dict(mem_base=0x80000000, mem_size=512 << 20, bootargs="console=ttyS0 earlycon",
                initrd=(0x88200000, 0x88400000), isa=ISA, mmu_type="riscv,sv57")
    args.update(kw)
    return virt_device_tree(**args)


# --- the writer ----------------------------------------------------------------------------
def test_header_and_layout():
    blob = to_dtb(Node("", {"a": 1}, [Node("child@1", {"b": "x"})]), boot_cpuid=3, reserved=[(0x1000, 0x2000)])
    h = header(blob)
    assert h["magic"] == 0xD00DFEED and h["version"] == 17 and h["last_comp_version"] == 16
    assert h["totalsize"] == len(blob) and h["boot_cpuid_phys"] == 3
    assert h["off_mem_rsvmap"] % 8 == 0 and h["off_dt_struct"] % 4 == 0
    assert struct.unpack(">QQQQ", blob[h["off_mem_rsvmap"]:h["off_mem_rsvmap"] + 32]) == (0x1000, 0x2000, 0, 0)
    assert h["off_dt_strings"] == h["off_dt_struct"] + h["size_dt_struct"]
    assert h["off_dt_strings"] + h["size_dt_strings"] == len(blob)
    end = h["off_dt_struct"] + h["size_dt_struct"]
    assert struct.unpack(">I", blob[end - 4:end]) == (9,)          # FDT_END


def test_strings_are_shared():
    blob = to_dtb(Node("", {"compatible": "a"}, [Node(f"n{i}", {"compatible": "b", "reg": i}) for i in range(5)]))
    h = header(blob)
    strings = blob[h["off_dt_strings"]:]
    assert strings.count(b"compatible\0") == 1 and strings.count(b"reg\0") == 1


def test_value_encodings():
    from rvjit.soc.fdt import encode_value
    assert encode_value(0x12345678, {}) == bytes.fromhex("12345678")
    assert encode_value([1, 2], {}) == bytes.fromhex("0000000100000002")
    assert encode_value(u64(0x1_0000_0002), {}) == bytes.fromhex("0000000100000002")
    assert encode_value("ab", {}) == b"ab\0"
    assert encode_value(["a", "bc"], {}) == b"a\0bc\0"
    assert encode_value(b"\x01\x02\x03", {}) == b"\x01\x02\x03"
    assert encode_value(True, {}) == b"" and encode_value([], {}) == b""
    with pytest.raises(ValueError):
        encode_value(1 << 32, {})
    with pytest.raises(TypeError):
        encode_value(1.5, {})


@needs_dtc
def test_writer_round_trips_through_dtc(tmp_path):
    target = Node("target", {"flag": True})
    root = Node("", {"#address-cells": 2, "#size-cells": 2}, [
        Node("a", {"str": "hello", "list": ["x", "yz"], "cells": [1, 2, 3], "wide": u64(0x123456789),
                   "raw": b"\x01\x02", "omitted": None, "points": ref(target)}),
        target,
    ])
    dts, _ = decompile(to_dtb(root), tmp_path)
    assert 'str = "hello";' in dts
    assert 'list = "x\\0yz";' in dts
    assert "cells = <0x01 0x02 0x03>;" in dts
    assert "wide = <0x01 0x23456789>;" in dts
    assert "raw = [01 02];" in dts
    assert "omitted" not in dts
    assert "points = <0x01>;" in dts and "flag;" in dts and "phandle = <0x01>;" in dts


# --- the virt board's tree -----------------------------------------------------------------
@needs_dtc
def test_virt_tree_has_no_dtc_warnings(tmp_path):
    dts, stderr = decompile(virt(), tmp_path)
    assert "Warning" not in stderr and "ERROR" not in stderr, stderr


@needs_dtc
def test_virt_tree_contents(tmp_path):
    dts, _ = decompile(virt(rng_seed=b"\x11" * 32), tmp_path)
    assert 'bootargs = "console=ttyS0 earlycon";' in dts
    assert 'stdout-path = "/soc/serial@10000000";' in dts
    assert "linux,initrd-start = <0x00 0x88200000>;" in dts
    assert "linux,initrd-end = <0x00 0x88400000>;" in dts
    assert "rng-seed = <0x11111111" in dts
    assert f'riscv,isa = "{ISA}";' in dts and 'mmu-type = "riscv,sv57";' in dts
    assert "timebase-frequency = <0x989680>;" in dts
    assert "reg = <0x00 0x80000000 0x00 0x20000000>;" in dts
    assert "riscv,ndev = <0x5f>;" in dts
    # phandles numbered as in QEMU: cpu 1, intc 2, plic 3, test 4
    assert "interrupts-extended = <0x02 0x0b 0x02 0x09>;" in dts       # plic: M, S contexts
    assert "interrupts-extended = <0x02 0x03 0x02 0x07>;" in dts       # clint
    assert dts.count("interrupt-parent = <0x03>;") == 10               # uart, rtc, 8 virtio
    assert dts.count("regmap = <0x04>;") == 2
    assert 'clock-frequency = "\\08@";' in dts                         # 3686400, as dtc prints it
    for n in range(8):
        assert f"virtio_mmio@{0x10001000 + n * 0x1000:x} {{" in dts
    assert "sstc" not in dts


@needs_dtc
def test_optional_parts_omitted(tmp_path):
    dts, _ = decompile(virt(bootargs="", initrd=None, virtio_count=2, rtc=False), tmp_path)
    assert "bootargs" not in dts and "initrd" not in dts and "rng-seed" not in dts
    assert "rtc@" not in dts and "virtio_mmio@10003000" not in dts and "virtio_mmio@10002000" in dts


@needs_dtc
def test_large_memory_uses_both_cells(tmp_path):
    dts, _ = decompile(virt(mem_size=6 << 30), tmp_path)
    assert "reg = <0x00 0x80000000 0x01 0x80000000>;" in dts


@pytest.mark.skipif(shutil.which("qemu-system-riscv64") is None or shutil.which("dtc") is None,
                    reason="qemu-system-riscv64 or dtc not installed")
def test_same_nodes_and_compatibles_as_qemu(tmp_path):
    qemu_dtb = tmp_path / "qemu.dtb"
    subprocess.run(["qemu-system-riscv64", "-M", f"virt,dumpdtb={qemu_dtb}", "-m", "512M", "-nographic",
                    "-bios", "none"], capture_output=True, timeout=60)
    qemu, _ = decompile(qemu_dtb.read_bytes(), tmp_path)
    ours, _ = decompile(virt(), tmp_path)
    qemu_nodes, our_nodes = node_paths(qemu), node_paths(ours)
    not_modelled = ("/pmu", "/fw-cfg@", "/flash@", "/platform-bus@", "/soc/pci@")
    expected = {p: c for p, c in qemu_nodes.items() if not any(p.startswith(x) for x in not_modelled)}
    assert our_nodes == expected
