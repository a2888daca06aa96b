"""virtio-blk against a temporary raw image: reads, writes, flush, GET_ID, discard, write zeroes,
read-only drives, capacity, image locking, and the `-drive` / `-device` command line."""
import hashlib
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rvjit.errors import GuestInputError
from rvjit.soc.virtio import BlockDevice, Drive
from rvjit.soc.virtio import blk as B
from rvjit.soc.virtio import transport as T
from rvjit.soc.virtio.drives import DriveSpec, parse_drive, plan_slots

from virtio_driver import Driver

REPO = Path(__file__).resolve().parents[1]
SECTORS = 64


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(range(256)) * (SECTORS * 2))     # 64 sectors, recognisable bytes
    return path


def open_blk(path, readonly=False, serial=None):
    wakeup = threading.Event()
    device = BlockDevice(Drive(DriveSpec(str(path), readonly, serial), 0), wakeup)
    d = Driver(device, wakeup=wakeup)
    (q,) = d.start(queue_size=64)
    return d, q, device


def request(d, q, kind, sector=0, data=b"", read_len=0):
    """Submit one request; returns (status, bytes read, used length)."""
    header = struct.pack("<IIQ", kind, 0, sector)
    buffers = [header] + ([data] if data else []) + ([read_len] if read_len else []) + [1]
    head, addrs = q.chain(buffers)
    q.submit(head)
    ((used_head, used_len),) = d.wait_used(q)
    assert used_head == head
    status = d.ram.read(addrs[-1], 1)[0]
    got = d.ram.read(addrs[-2], read_len) if read_len else b""
    return status, got, used_len


@pytest.fixture
def blk(image):
    d, q, device = open_blk(image)
    yield d, q, device
    device.close()


def test_capacity_and_features(blk):
    d, q, device = blk
    assert d.rd(0x100, 8) == SECTORS
    assert d.rd(0x100 + 12) == B.SEG_MAX and d.rd(0x100 + 20) == 512
    features = d.device_features()
    assert features & B.F_FLUSH and features & B.F_SEG_MAX and not features & B.F_RO


def test_read(blk, image):
    d, q, _ = blk
    status, got, used = request(d, q, B.T_IN, sector=3, read_len=1024)
    assert status == B.S_OK and used == 1025
    assert got == image.read_bytes()[3 * 512:5 * 512]


def test_write_reaches_the_file_and_reads_back(blk, image):
    d, q, _ = blk
    data = os.urandom(1024)
    assert request(d, q, B.T_OUT, sector=10, data=data)[0] == B.S_OK
    assert image.read_bytes()[10 * 512:12 * 512] == data
    assert request(d, q, B.T_IN, sector=10, read_len=1024)[1] == data
    assert request(d, q, B.T_FLUSH)[0] == B.S_OK


def test_requests_complete_in_order_write_then_flush(blk, image):
    d, q, _ = blk
    heads = []
    for k in range(4):
        head, _ = q.chain([struct.pack("<IIQ", B.T_OUT, 0, k), bytes([k]) * 512, 1])
        heads.append(head)
        q.submit(head, notify=False)
    head, _ = q.chain([struct.pack("<IIQ", B.T_FLUSH, 0, 0), 1])
    heads.append(head)
    q.submit(head)
    assert [h for h, _ in d.wait_used(q, 5)] == heads
    assert image.read_bytes()[:2048] == b"".join(bytes([k]) * 512 for k in range(4))


def test_get_id(image):
    d, q, device = open_blk(image, serial="my-serial")
    try:
        status, got, _ = request(d, q, B.T_GET_ID, read_len=20)
        assert status == B.S_OK and got == b"my-serial".ljust(20, b"\0")
    finally:
        device.close()


def test_default_serial(blk):
    d, q, _ = blk
    assert request(d, q, B.T_GET_ID, read_len=20)[1].rstrip(b"\0") == b"rvjit-vda"


def test_out_of_range_and_unaligned_requests_fail_with_ioerr(blk):
    d, q, _ = blk
    assert request(d, q, B.T_IN, sector=SECTORS - 1, read_len=1024)[0] == B.S_IOERR
    assert request(d, q, B.T_OUT, sector=SECTORS, data=bytes(512))[0] == B.S_IOERR
    assert request(d, q, B.T_IN, sector=0, read_len=100)[0] == B.S_IOERR
    assert request(d, q, B.T_IN, sector=2**63, read_len=512)[0] == B.S_IOERR
    assert request(d, q, 99)[0] == B.S_UNSUPP
    assert request(d, q, B.T_IN, sector=0, read_len=512)[0] == B.S_OK     # still working


def test_request_without_status_byte_stops_the_device(blk):
    d, q, _ = blk
    head, _ = q.chain([struct.pack("<IIQ", B.T_IN, 0, 0)])     # header only
    q.submit(head)
    assert d.rd(T.STATUS) & T.DEVICE_NEEDS_RESET


def test_discard_and_write_zeroes(blk, image):
    d, q, device = blk
    features = d.device_features()
    assert features & B.F_WRITE_ZEROES
    segment = struct.pack("<QII", 8, 8, 0)
    assert request(d, q, B.T_WRITE_ZEROES, data=segment)[0] == B.S_OK
    assert image.read_bytes()[8 * 512:16 * 512] == bytes(8 * 512)
    if device.drive.can_punch:
        assert features & B.F_DISCARD
        assert request(d, q, B.T_DISCARD, data=struct.pack("<QII", 20, 4, 0))[0] == B.S_OK
        assert image.read_bytes()[20 * 512:24 * 512] == bytes(4 * 512)
    else:
        assert not features & B.F_DISCARD
        assert request(d, q, B.T_DISCARD, data=segment)[0] == B.S_UNSUPP
    assert request(d, q, B.T_WRITE_ZEROES, data=struct.pack("<QII", SECTORS - 1, 2, 0))[0] == B.S_IOERR
    assert len(image.read_bytes()) == SECTORS * 512


def test_readonly_drive_rejects_writes(image):
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    d, q, device = open_blk(image, readonly=True)
    try:
        assert d.device_features() & B.F_RO
        assert request(d, q, B.T_OUT, sector=0, data=b"x" * 512)[0] == B.S_IOERR
        assert request(d, q, B.T_WRITE_ZEROES, data=struct.pack("<QII", 0, 1, 0))[0] == B.S_IOERR
        assert request(d, q, B.T_IN, sector=0, read_len=512)[0] == B.S_OK
    finally:
        device.close()
    assert hashlib.sha256(image.read_bytes()).hexdigest() == digest


def test_reset_drops_requests_in_flight(blk):
    d, q, device = blk
    head, addrs = q.chain([struct.pack("<IIQ", B.T_IN, 0, 0), 512, 1])
    q.submit(head)
    d.wr(T.STATUS, 0)                          # before the worker's completion is taken
    while device.worker.in_flight:
        d.t.poll()
        device.worker.finish()
    assert q.used_idx() == 0 and d.ram.read(addrs[1], 512) == bytes(512)


def test_second_open_of_an_image_is_refused(image):
    first = Drive(DriveSpec(str(image)), 0)
    try:
        with pytest.raises(GuestInputError, match="in use"):
            Drive(DriveSpec(str(image)), 1)
        with pytest.raises(GuestInputError, match="in use"):
            Drive(DriveSpec(str(image), readonly=True), 1)
    finally:
        first.close()
    Drive(DriveSpec(str(image)), 0).close()            # free again once closed


def test_readonly_drives_share_an_image(image):
    a = Drive(DriveSpec(str(image), readonly=True), 0)
    b = Drive(DriveSpec(str(image), readonly=True), 1)
    try:
        with pytest.raises(GuestInputError, match="in use"):
            Drive(DriveSpec(str(image)), 2)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_directory_is_not_an_image(tmp_path, readonly):
    with pytest.raises(GuestInputError, match="is a directory"):
        Drive(DriveSpec(str(tmp_path), readonly), 0)


def test_missing_image(tmp_path):
    with pytest.raises(GuestInputError, match="no such drive image"):
        Drive(DriveSpec(str(tmp_path / "nope.img")), 0)


# --- the command line ---------------------------------------------------------------------------

def test_parse_drive_spellings():
    assert parse_drive("file=a.img,format=raw") == DriveSpec("a.img")
    spec = parse_drive("file=a,,b.img,format=raw,readonly=on,if=virtio,serial=S1")
    assert (spec.file, spec.readonly, spec.serial) == ("a,b.img", True, "S1")
    assert parse_drive("file=a.img,readonly").readonly
    assert not parse_drive("file=a.img,readonly=off").readonly


@pytest.mark.parametrize("text, needle", [
    ("file=a.img,format=qcow2", "qcow2"),
    ("file=a.img,if=ide", "if=ide"),
    ("file=a.img,cache=none", "cache"),
    ("format=raw", "file="),
    ("file=a.img,readonly=maybe", "readonly"),
    ("file=a.img,if=none", "id="),
])
def test_parse_drive_errors(text, needle):
    with pytest.raises(GuestInputError, match=needle):
        parse_drive(text)


def test_plan_slots_order_and_devices():
    plan = plan_slots(["file=a.img", "file=b.img,if=none,id=hd1", "file=c.img"],
                      ["virtio-rng-device", "virtio-blk-device,drive=hd1", "virtio-serial-device"])
    assert [(p.kind, p.drive.file if p.drive else None) for p in plan] == [
        ("blk", "a.img"), ("blk", "c.img"), ("rng", None), ("blk", "b.img"), ("console", None)]


@pytest.mark.parametrize("devices, needle", [
    (["virtio-gpu-device"], "virtio-rng-device"),
    (["virtio-rng-device,speed=9"], "speed"),
    (["virtio-blk-device,drive=nothere"], "nothere"),
    (["virtio-serial-device", "virtio-serial-device"], "one virtio console"),
    (["virtio-rng-device"] * 9, "8 virtio-mmio slots"),
])
def test_plan_slots_errors(devices, needle):
    with pytest.raises(GuestInputError, match=needle):
        plan_slots([], devices)


def _boot_cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "rvjit", "boot", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)


def _assert_one_line_error(result, *needles):
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rvjit: error: "), result.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])


@pytest.fixture
def firmware(tmp_path):
    path = tmp_path / "fw.bin"
    path.write_bytes(bytes.fromhex("6f000000"))        # j .
    return path


def test_cli_missing_drive_file(firmware, tmp_path):
    _assert_one_line_error(_boot_cli(firmware, "-drive", f"file={tmp_path / 'no.img'},format=raw"),
                           "no.img", "no such drive image")


def test_cli_bad_drive_format(firmware, image):
    _assert_one_line_error(_boot_cli(firmware, "-drive", f"file={image},format=qcow2"), "qcow2")


def test_cli_bad_drive_option(firmware, image):
    _assert_one_line_error(_boot_cli(firmware, "-drive", f"file={image},format=raw,aio=native"), "aio")


def test_cli_unknown_device(firmware):
    _assert_one_line_error(_boot_cli(firmware, "-device", "e1000"), "e1000", "virtio-blk-device",
                           "virtio-serial-device", "virtio-rng-device")


def test_cli_image_in_use(firmware, image):
    held = Drive(DriveSpec(str(image)), 0)
    try:
        _assert_one_line_error(_boot_cli(firmware, "-drive", f"file={image},format=raw"), "in use")
    finally:
        held.close()
