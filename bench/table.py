"""The one results table of the benchmarks (bench/compute.py, bench/boot.py, bench/run.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    guest: str
    qemu_s: float | None              # median wall seconds under QEMU
    rvjit_s: float | None             # median wall seconds under rvjit
    insns: float | None = None        # guest instructions retired (rvjit --stats)
    mips: float | None = None         # guest instructions per microsecond of rvjit time
    translate_share: float | None = None   # of rvjit's run, the share spent translating
    rss_mib: float | None = None      # peak resident size of the rvjit process
    status: str = "ok"

    @property
    def ratio(self) -> float | None:
        return self.rvjit_s / self.qemu_s if self.rvjit_s and self.qemu_s else None


HEADER = ["guest", "guest insns", "QEMU s", "rvjit s", "rvjit/QEMU", "guest MIPS",
          "translate %", "peak RSS MiB", "status"]


def _fmt(x, spec) -> str:
    return "-" if x is None else format(x, spec)


def cells(row: Row) -> list[str]:
    return [row.guest,
            _fmt(row.insns, ",.0f"),
            _fmt(row.qemu_s, ".2f"),
            _fmt(row.rvjit_s, ".2f"),
            _fmt(row.ratio, ".2f"),
            _fmt(row.mips, ",.1f"),
            _fmt(None if row.translate_share is None else row.translate_share * 100, ".1f"),
            _fmt(row.rss_mib, ",.0f"),
            row.status]


def format_table(rows: list[Row]) -> str:
    body = [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in body + [HEADER]) for i in range(len(HEADER))]

    def line(values):
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths)))

    head = line(HEADER)
    return "\n".join([head, "-" * len(head)] + [line(values) for values in body])


def format_markdown(rows: list[Row]) -> str:
    """The same table for README.md."""
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(out)


def print_report(rows: list[Row], failures: list[str], markdown: bool = False):
    """The table (and its markdown form if asked), then any failed runs."""
    print()
    print(format_table(rows))
    if markdown:
        print()
        print(format_markdown(rows))
    if failures:
        print("\nfailures:")
        for f in failures:
            print(f"  {f}")
