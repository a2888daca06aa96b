"""The hot profile: which regions earlier runs optimised, so that a later run optimises them again
as soon as they run, instead of after HOT_THRESHOLD threaded runs of each block, and links the
objects compiled then from the disk cache.

The profile lists every region a run installed as its member blocks, head first, each by guest pc
and a digest of its instruction words (a member's physical address follows from the head's: a
region lies on one page). It is only a hint: a region is formed again from the blocks as they
are now, and only if each member's words still have the digest listed; its object is linked
only if the disk cache holds one made from exactly that code (backend.promotion keys regions by
their members' pcs and instruction bytes, so no IR is written to find it). A stale or foreign
profile costs a few lookups, never wrong code, and never an optimising compile.

One profile per guest entry (the first block a run translates: the reset ROM for every board
boot, the start of a bare-metal program), so unrelated guests (the test programs) do not push a
kernel's regions out. It lives in the compiled-code cache directory, keyed by rvjit's source
signature, checksummed (objcache), and merged with what other runs saved; at most MAX_REGIONS
regions, the most recently installed first.
"""
from __future__ import annotations

import hashlib
import sys
import time
from array import array

from . import objcache, promotion, threaded

MAX_REGIONS = 4096

Region = tuple          # (head's physical address, ((pc, digest), ...) head first)


def code_digest(words) -> int:
    """64 bits of hash of a block's instruction words."""
    return int.from_bytes(hashlib.blake2b(array("I", words).tobytes(), digest_size=8).digest(), "little")


def block_digest(t) -> int:
    return code_digest(t.words or [insn.raw for insn in t.decoded()])


def _region_key(region: Region):
    paddr, members = region
    return members[0][0], paddr, members[0][1]


def encode(regions: list[Region]) -> bytes:
    flat = array("Q")
    for paddr, members in regions:
        flat.extend((paddr, len(members)))
        for pc, digest in members:
            flat.extend((pc, digest))
    return flat.tobytes()


def decode(payload: bytes) -> list[Region]:
    """The regions of a profile file; ValueError if it does not hold well-formed ones."""
    flat = array("Q")
    flat.frombytes(payload)         # ValueError unless whole words
    words, regions, i = flat.tolist(), [], 0
    while i < len(words):
        paddr, count = words[i], words[i + 1] if i + 1 < len(words) else 0
        end = i + 2 + 2 * count
        if not 1 <= count <= promotion.MAX_REGION_BLOCKS or end > len(words):
            raise ValueError("malformed hot profile")
        regions.append((paddr, tuple(zip(words[i + 2:end:2], words[i + 3:end:2]))))
        i = end
    return regions


class HotProfile:
    """The profile of the guest entering with block `entry` (pc, digest), in directory."""

    def __init__(self, directory: str, entry: tuple[int, int]):
        self._cache = objcache.ObjectCache(directory, f"rvjit hot profile 1 {sys.byteorder} "
                                                      f"{objcache.source_signature()}")
        self._key = self._cache.key(f"guest entering at {entry[0]:#x} with code {entry[1]:#x}")
        self.path = self._cache.path(self._key)
        self._saved = self._read()
        self.by_head: dict[tuple[int, int], list[Region]] = {}   # (pc, paddr) -> regions it heads
        for region in self._saved:
            self.by_head.setdefault(_region_key(region)[:2], []).append(region)
        self.recorded: dict[tuple, Region] = {}      # installed by this run, the latest last
        self._unsaved = False

    def _read(self) -> list[Region]:
        payload = self._cache.load(self._key)
        try:
            return decode(payload) if payload is not None else []
        except ValueError:          # damaged in a way the checksum could not see
            return []

    def record(self, paddr: int, members: tuple):
        region = (paddr, members)
        self.recorded.pop(_region_key(region), None)
        self.recorded[_region_key(region)] = region
        self._unsaved = True

    def save(self):
        """Merge this run's regions into the file (re-read: other runs may have saved since)."""
        if not self._unsaved:
            return
        self._unsaved = False
        merged = list(reversed(self.recorded.values()))
        saved = self._read()
        merged += [r for r in saved if _region_key(r) not in self.recorded]
        merged = merged[:MAX_REGIONS]
        if merged != saved:
            self._cache.store(self._key, encode(merged), trim=False)


class ProfileHints:
    """A mixin of backend.translator.Translator: regions of the hot profile are promoted once
    their head has run promotion.hinted_threshold() times."""

    def _init_hints(self):
        self.hot_profile: HotProfile | None = None
        self.profile_heads: dict | None = None      # None until the first block is translated
        self._hinted: list[tuple] = []              # (head translation, region) not yet promoted

    def note_translated(self, t):
        """A new translation: the first one opens the profile; one heading a region of the
        profile with the same code waits for its runs."""
        if self.profile_heads is None:
            self._open_profile(t)
        for region in self.profile_heads.get((t.pc, t.paddr), ()):
            if region[1][0][1] == block_digest(t):
                self._hinted.append((t, region))

    def _open_profile(self, first):
        cache = self.hot_engine.cache if self.hot_engine is not None else None
        if cache is None:            # no disk cache (--no-cache): nothing to link from either
            self.profile_heads = {}
            return
        self.hot_profile = HotProfile(cache.directory, (first.pc, block_digest(first)))
        self.profile_heads = self.hot_profile.by_head

    def save_hot_profile(self):
        if self.hot_profile is not None:
            self.hot_profile.save()

    def _record_region(self, members):
        if self.hot_profile is not None:
            self.hot_profile.record(members[0].paddr, tuple((m.pc, block_digest(m)) for m in members))

    def promote_hinted(self) -> int:
        """Submit the profile's regions whose heads have run enough (link only: backend.promotion).
        Returns regions installed (when compiling in this thread)."""
        if not self._hinted:
            return 0
        threshold, installed = promotion.hinted_threshold(), 0
        pending, self._hinted = self._hinted, []     # blocks translated ahead may add to it
        for head, region in pending:
            if self.blocks.get((head.pc, head.paddr)) is not head or head.counter is None:
                continue                    # dropped meanwhile
            # a head already optimised in another region (its counter stopped) is as hot as that
            if head.compiling or head.tier == 0 and self.counters[head.counter] < threshold:
                self._hinted.append((head, region))
                continue
            members = self._hinted_members(head, region)
            if members is None:
                self._hinted.append((head, region))
            elif members:
                installed += self._run_job(self._region_job(members, link_only=True))
        return installed

    def _hinted_members(self, head, region) -> list | None:
        """The region's blocks as translated now, head first; [] if one's code has changed (or
        the region breaks the rules promotion forms regions by), None to wait for one that can be
        translated only when it runs."""
        members = [head]
        for pc, digest in region[1][1:]:
            paddr = head.paddr + (pc - head.pc)
            if pc >> promotion.PAGE_SHIFT != head.pc >> promotion.PAGE_SHIFT or any(m.pc == pc for m in members):
                return []
            m = self.blocks.get((pc, paddr))
            if m is None:
                # not run yet: its words are on the head's page in RAM (the same code, if the
                # digest says so), so translate it now rather than wait for its first run
                counter = self._next_counter()
                scanned = self._scan_threaded(pc, paddr, counter, ram_only=True) if self.library is not None else None
                if scanned is None:
                    return None
                scan, code = scanned
                if code_digest(threaded.words_of(code)) != digest:
                    return []
                m = self._translate_threaded(pc, paddr, scan, code, counter, time.perf_counter())
                self.note_translated(m)
            elif block_digest(m) != digest or set(m.pages) != set(head.pages):
                return []
            members.append(m)
        return members
