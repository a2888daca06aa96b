"""The reset ROM at 0x1000 (QEMU virt's boot contract): a0 = hart id, a1 = device tree,
a2 = struct fw_dynamic_info, then jump to the firmware."""
import struct

from .bus import Device

ROM_BASE, ROM_SIZE = 0x1000, 0xF000
FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION = 0x4942534F, 2
NEXT_MODE_S = 1

# register numbers
T0, A0, A1, A2 = 5, 10, 11, 12
CSR_MHARTID = 0xF14


def _i(opcode, rd, funct3, rs1, imm):
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode


def reset_vector(start: int, fdt: int, next_addr: int) -> bytes:
    """Machine code + data for the ROM. Offsets: code 0x00-0x17, start 0x18, fdt 0x20, info 0x28."""
    code = [
        (0 << 12) | (T0 << 7) | 0x17,            # auipc t0, 0          t0 = 0x1000
        _i(0x13, A2, 0, T0, 0x28),               # addi  a2, t0, 0x28   &fw_dynamic_info
        _i(0x73, A0, 2, 0, CSR_MHARTID),         # csrr  a0, mhartid
        _i(0x03, A1, 3, T0, 0x20),               # ld    a1, 0x20(t0)   device tree
        _i(0x03, T0, 3, T0, 0x18),               # ld    t0, 0x18(t0)   firmware entry
        _i(0x67, 0, 0, T0, 0),                   # jr    t0
    ]
    info = struct.pack("<6Q", FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, next_addr, NEXT_MODE_S, 0, 0)
    return struct.pack("<6I", *code) + struct.pack("<QQ", start, fdt) + info


class Rom(Device):
    name = "rom"

    def __init__(self, data: bytes, size: int = ROM_SIZE):
        self.data = bytes(data).ljust(size, b"\0")

    def read(self, offset, size):
        return int.from_bytes(self.data[offset:offset + size], "little")

    def fetch(self, offset, n):
        return self.data[offset:offset + n]
