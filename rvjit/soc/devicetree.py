"""The device tree of rvjit's virt board, shaped like QEMU 7.2's `virt` machine.

Same node names, compatibles, addresses, interrupt numbers and phandle numbering as QEMU's tree
(see ../shared/design/virt-board.md), minus the devices rvjit does not model (PCI, flash, fw-cfg,
platform bus, PMU). The CPU node lists only what the caller says is implemented.
"""
from .fdt import Node, ref, to_dtb, u64

TIMEBASE_HZ = 10_000_000
UART_CLOCK_HZ = 3_686_400

TEST_BASE, TEST_SIZE = 0x100000, 0x1000
RTC_BASE, RTC_SIZE, RTC_IRQ = 0x101000, 0x1000, 11
CLINT_BASE, CLINT_SIZE = 0x2000000, 0x10000
PLIC_BASE, PLIC_SIZE, PLIC_SOURCES = 0xC000000, 0x600000, 96
UART_BASE, UART_SIZE, UART_IRQ = 0x10000000, 0x100, 10
VIRTIO_BASE, VIRTIO_SIZE, VIRTIO_IRQ0 = 0x10001000, 0x1000, 1

# hart-local interrupt numbers (the cpu-intc's interrupt specifiers)
INTC_MSI, INTC_MTI, INTC_SEI, INTC_MEI = 3, 7, 9, 11
POWER_OFF, RESET = 0x5555, 0x7777


def _reg(base: int, size: int):
    return [u64(base), u64(size)]           # #address-cells = #size-cells = 2 under / and /soc


def _cpus(isa: str, mmu_type: str, hart_count: int):
    cpus = Node("cpus", {"#address-cells": 1, "#size-cells": 0, "timebase-frequency": TIMEBASE_HZ})
    intcs, cores = [], []
    for hart in range(hart_count):
        intc = Node("interrupt-controller", {
            "#interrupt-cells": 1,
            # not in QEMU 7.2's tree; dtc warns without it and the binding allows it
            "#address-cells": 0,
            "interrupt-controller": True,
            "compatible": "riscv,cpu-intc",
        })
        cpu = cpus.add(Node(f"cpu@{hart}", {
            "device_type": "cpu",
            "reg": hart,
            "status": "okay",
            "compatible": "riscv",
            "riscv,isa": isa,
            # The newer binding too, so kernels need not fall back to parsing the string.
            "riscv,isa-base": isa.split("_")[0][:4] + "i",
            "riscv,isa-extensions": isa_extensions(isa),
            "mmu-type": mmu_type,
        }, [intc]))
        intcs.append(intc)
        cores.append(Node(f"core{hart}", {"cpu": ref(cpu)}))
    cpus.add(Node("cpu-map", {}, [Node("cluster0", {}, cores)]))
    return cpus, intcs


def isa_extensions(isa: str) -> list[str]:
    """"rv64imafdc_zicsr_zba" -> ["i", "m", "a", "f", "d", "c", "zicsr", "zba"]."""
    base, *multi = isa.lower().split("_")
    return list(base[4:]) + multi


def _soc(intcs, virtio_count: int, rtc: bool):
    soc = Node("soc", {"#address-cells": 2, "#size-cells": 2, "compatible": "simple-bus", "ranges": True})
    soc.add(Node(f"clint@{CLINT_BASE:x}", {
        "interrupts-extended": [cell for i in intcs for cell in (ref(i), INTC_MSI, ref(i), INTC_MTI)],
        "reg": _reg(CLINT_BASE, CLINT_SIZE),
        "compatible": ["sifive,clint0", "riscv,clint0"],
    }))
    plic = soc.add(Node(f"plic@{PLIC_BASE:x}", {
        "#interrupt-cells": 1,
        "#address-cells": 0,
        "compatible": ["sifive,plic-1.0.0", "riscv,plic0"],
        "interrupt-controller": True,
        # contexts: per hart, M-mode then S-mode
        "interrupts-extended": [cell for i in intcs for cell in (ref(i), INTC_MEI, ref(i), INTC_SEI)],
        "reg": _reg(PLIC_BASE, PLIC_SIZE),
        # sources 1..95 exist (0 is reserved). QEMU 7.2 says 96 here, one too many.
        "riscv,ndev": PLIC_SOURCES - 1,
    }))
    soc.add(Node(f"serial@{UART_BASE:x}", {
        "interrupts": UART_IRQ,
        "interrupt-parent": ref(plic),
        "clock-frequency": UART_CLOCK_HZ,
        "reg": _reg(UART_BASE, UART_SIZE),
        "compatible": "ns16550a",
    }))
    test = soc.add(Node(f"test@{TEST_BASE:x}", {
        "reg": _reg(TEST_BASE, TEST_SIZE),
        "compatible": ["sifive,test1", "sifive,test0", "syscon"],
    }))
    if rtc:
        soc.add(Node(f"rtc@{RTC_BASE:x}", {
            "interrupts": RTC_IRQ,
            "interrupt-parent": ref(plic),
            "reg": _reg(RTC_BASE, RTC_SIZE),
            "compatible": "google,goldfish-rtc",
        }))
    for n in range(virtio_count):
        base = VIRTIO_BASE + n * VIRTIO_SIZE
        soc.add(Node(f"virtio_mmio@{base:x}", {
            "interrupts": VIRTIO_IRQ0 + n,
            "interrupt-parent": ref(plic),
            "reg": _reg(base, VIRTIO_SIZE),
            "compatible": "virtio,mmio",
        }))
    return soc, test


def virt_tree(mem_base: int, mem_size: int, bootargs: str | None, initrd: tuple[int, int] | None,
              isa: str, mmu_type: str, virtio_count: int = 8, *, hart_count: int = 1,
              rtc: bool = True, rng_seed: bytes | None = None, model: str = "riscv-virtio,rvjit") -> Node:
    """The tree as `Node`s, for a board that wants to add or change nodes before `to_dtb`.
    `initrd` is (start, end) in guest physical addresses; `mmu_type` e.g. "riscv,sv57"."""
    if not 0 <= virtio_count <= 8:
        raise ValueError("the virt board has 8 virtio-mmio slots")
    cpus, intcs = _cpus(isa, mmu_type, hart_count)
    soc, test = _soc(intcs, virtio_count, rtc)
    chosen = Node("chosen", {
        "bootargs": bootargs or None,
        "stdout-path": f"/soc/serial@{UART_BASE:x}",
        "linux,initrd-start": u64(initrd[0]) if initrd else None,
        "linux,initrd-end": u64(initrd[1]) if initrd else None,
        "rng-seed": rng_seed or None,
    })
    return Node("", {"#address-cells": 2, "#size-cells": 2, "compatible": "riscv-virtio", "model": model}, [
        chosen,
        Node("poweroff", {"value": POWER_OFF, "offset": 0, "regmap": ref(test), "compatible": "syscon-poweroff"}),
        Node("reboot", {"value": RESET, "offset": 0, "regmap": ref(test), "compatible": "syscon-reboot"}),
        Node(f"memory@{mem_base:x}", {"device_type": "memory", "reg": _reg(mem_base, mem_size)}),
        cpus,
        soc,
    ])


def virt_device_tree(mem_base: int, mem_size: int, bootargs: str | None, initrd: tuple[int, int] | None,
                     isa: str, mmu_type: str, virtio_count: int = 8, **options) -> bytes:
    """The DTB blob for the virt board; `options` as for `virt_tree` (hart_count, rtc, rng_seed, model)."""
    return to_dtb(virt_tree(mem_base, mem_size, bootargs, initrd, isa, mmu_type, virtio_count, **options))
