"""A flattened-device-tree (DTB) writer: format version 17, last compatible version 16.

Build a tree of `Node`s whose properties are plain Python values, then `to_dtb(root)`:

    intc = Node("interrupt-controller", {"compatible": "riscv,cpu-intc", "interrupt-controller": True})
    root = Node("", {"#address-cells": 2}, [Node("cpus", {}, [Node("cpu@0", {}, [intc])])])
    plic = root.add(Node("plic@c000000", {"interrupts-extended": [ref(intc), 11, ref(intc), 9]}))
    blob = to_dtb(root)

Property values:
    int                      one big-endian u32 cell
    u64(v)                   two cells, high word first (e.g. linux,initrd-start)
    ref(node)                one cell: the node's phandle (allocated at to_dtb time)
    list/tuple of the above  cells in order
    str                      NUL-terminated string
    list/tuple of str        string list
    bytes                    raw bytes
    True or empty list/bytes empty property (a flag such as `interrupt-controller`)
    None or False            no property at all (handy for optional ones)
Phandles go to referenced nodes only, numbered 1, 2, ... in document order (QEMU's virt tree
comes out numbered the same way).
"""
import struct

FDT_MAGIC = 0xD00DFEED
FDT_VERSION, FDT_LAST_COMPATIBLE = 17, 16
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_END = 1, 2, 3, 9
HEADER_SIZE = 40
U32_MAX = 0xFFFFFFFF


class Node:
    def __init__(self, name: str, props: dict | None = None, children: list | None = None):
        self.name = name
        self.props = dict(props or {})
        self.children: list[Node] = list(children or [])

    def add(self, child: "Node") -> "Node":
        self.children.append(child)
        return child

    def set(self, name: str, value):
        self.props[name] = value

    def find(self, path: str) -> "Node":
        """The descendant at a slash-separated path relative to this node, e.g. "soc/plic@c000000"."""
        node = self
        for part in filter(None, path.split("/")):
            node = next((c for c in node.children if c.name == part), None)
            if node is None:
                raise KeyError(path)
        return node

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class u64:
    """A 64-bit value stored as two cells, high word first."""
    __slots__ = ("value",)

    def __init__(self, value: int):
        if not 0 <= value <= (1 << 64) - 1:
            raise ValueError(f"{value:#x} does not fit in 64 bits")
        self.value = value


class ref:
    """One cell holding the phandle of `node`; the node gets a phandle property at to_dtb time."""
    __slots__ = ("node",)

    def __init__(self, node: Node):
        self.node = node


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _cell(value: int) -> bytes:
    if not 0 <= value <= U32_MAX:
        raise ValueError(f"{value:#x} does not fit in a 32-bit cell (use u64())")
    return struct.pack(">I", value)


def encode_value(value, phandles: dict) -> bytes:
    """The bytes of one property value (see the module docstring for the accepted types)."""
    if value is True:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode() + b"\0"
    if isinstance(value, int | u64 | ref):
        value = [value]
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, str) for v in value):
            return b"".join(s.encode() + b"\0" for s in value)
        out = []
        for v in value:
            if isinstance(v, u64):
                out.append(struct.pack(">II", v.value >> 32, v.value & U32_MAX))
            elif isinstance(v, ref):
                out.append(_cell(phandles[id(v.node)]))
            elif isinstance(v, int) and not isinstance(v, bool):
                out.append(_cell(v))
            else:
                raise TypeError(f"cannot mix {type(v).__name__} into a cell list")
        return b"".join(out)
    raise TypeError(f"no device-tree encoding for {type(value).__name__}")


def _referenced(value):
    items = value if isinstance(value, list | tuple) else [value]
    return [v.node for v in items if isinstance(v, ref)]


def allocate_phandles(root: Node) -> dict:
    """id(node) -> phandle for every node some property refers to, numbered in document order."""
    wanted = {id(n) for node in root.walk() for value in node.props.values() for n in _referenced(value)}
    phandles = {}
    for node in root.walk():
        if id(node) in wanted:
            if "phandle" in node.props:
                raise ValueError(f"node {node.name!r} has an explicit phandle; use ref() instead")
            phandles[id(node)] = len(phandles) + 1
    missing = wanted - phandles.keys()
    if missing:
        raise ValueError("ref() to a node that is not in the tree")
    return phandles


class _Strings:
    """The strings block: each property name stored once."""

    def __init__(self):
        self.offsets: dict[str, int] = {}
        self.data = bytearray()

    def offset(self, name: str) -> int:
        if name not in self.offsets:
            self.offsets[name] = len(self.data)
            self.data += name.encode() + b"\0"
        return self.offsets[name]


def _emit(node: Node, out: bytearray, strings: _Strings, phandles: dict):
    out += struct.pack(">I", FDT_BEGIN_NODE) + _pad4(node.name.encode() + b"\0")
    props = dict(node.props)
    if id(node) in phandles:
        props["phandle"] = phandles[id(node)]
    for name, value in props.items():
        if value is None or value is False:
            continue
        data = encode_value(value, phandles)
        out += struct.pack(">III", FDT_PROP, len(data), strings.offset(name)) + _pad4(data)
    for child in node.children:
        _emit(child, out, strings, phandles)
    out += struct.pack(">I", FDT_END_NODE)


def to_dtb(root: Node, boot_cpuid: int = 0, reserved: list[tuple[int, int]] = ()) -> bytes:
    """Serialise the tree. `reserved`: (address, size) pairs for the memory reservation block."""
    strings = _Strings()
    structure = bytearray()
    _emit(root, structure, strings, allocate_phandles(root))
    structure += struct.pack(">I", FDT_END)

    rsvmap = b"".join(struct.pack(">QQ", a, s) for a, s in reserved) + struct.pack(">QQ", 0, 0)
    off_rsvmap = HEADER_SIZE                    # 8-byte aligned, as the format requires
    off_struct = off_rsvmap + len(rsvmap)
    off_strings = off_struct + len(structure)
    total = off_strings + len(strings.data)
    header = struct.pack(">10I", FDT_MAGIC, total, off_struct, off_strings, off_rsvmap,
                         FDT_VERSION, FDT_LAST_COMPATIBLE, boot_cpuid, len(strings.data), len(structure))
    return header + rsvmap + bytes(structure) + bytes(strings.data)
