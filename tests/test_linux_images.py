"""Build the Linux guest images (guests/linux, cached under
$XDG_CACHE_HOME/rvjit/linux) and boot each on QEMU's virt machine to the
busybox shell: run `echo $((6*7))`, expect 42, power off with `poweroff -f`.

Slow (the first build of the small kernel takes ~15 minutes on 2 cores, a
boot a few seconds): run with `pytest -m slow tests/test_linux_images.py`.
Skipped when qemu-system-riscv64 is missing, or when an image is not cached
and the Debian archive cannot be reached or a build tool is missing.
RVJIT_LINUX_CACHE chooses the image directory.
"""

import os
import shutil

import pytest

from guests.linux import build as lb
from guests.linux.boot import Console, boot_command

pytestmark = pytest.mark.slow

QEMU = shutil.which("qemu-system-riscv64")
BOOT_TIMEOUT = 300


def _paths(name):
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 not on PATH (apt-get install qemu-system-misc)")
    try:
        return lb.build_image(name, os.environ.get("RVJIT_LINUX_CACHE"))
    except lb.ArchiveUnavailable as e:
        pytest.skip(f"Debian archive not reachable, image {name} not cached: {e}")
    except lb.ToolMissing as e:
        pytest.skip(f"build tool missing for image {name}: {e}")


@pytest.mark.parametrize("name", lb.IMAGES)
def test_image_boots_to_shell_on_qemu(name):
    paths = _paths(name)
    con = Console(boot_command(name, paths, f"{QEMU} -M virt -m 512M -nographic"))
    try:
        seconds = con.wait_for_shell(BOOT_TIMEOUT)
        assert con.run("echo $((6*7))").strip() == "42"
        uname = con.run("uname -a")
        assert "riscv64" in uname
        print(f"{name}: shell after {seconds:.2f} s; {uname}")
        assert con.poweroff() == 0
    except TimeoutError as e:
        pytest.fail(f"{name}: {e}")
    finally:
        con.close()


def test_images_have_expected_shape():
    paths = _paths("payload")       # builds debian and small on the way
    deb = lb.build_image("debian", os.environ.get("RVJIT_LINUX_CACHE"))
    small = lb.build_image("small", os.environ.get("RVJIT_LINUX_CACHE"))
    for k in (deb["kernel"], small["kernel"]):
        lb.check_riscv_image(k.read_bytes()[:64], str(k))
    for fw in (deb["firmware"], deb["fw_dynamic"], paths["firmware"]):
        _, entry, segs = lb.elf_load_segments(fw)
        assert entry == 0x80000000 and min(s[1] for s in segs) == 0x80000000, fw
    assert small["kernel"].stat().st_size < deb["kernel"].stat().st_size
