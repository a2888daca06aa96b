"""The handlers runs needed, remembered for later runs and linked there a bundle at a time.

A handler compiled in a module of its own costs about a millisecond to take from the disk cache
(its IR written and hashed for the key, the object read, MCJIT finalising the module), and a
Linux boot needs some 350 such modules: a handler per CSR access word, and the definitions'
handlers in the small batches blocks bring them in. So each engine of the handler library
(threaded.HandlerLibrary) remembers in the cache directory which handlers runs needed: the key,
an instruction word that has it, and what word_info needs (where a block ends, whether it calls
the FP runtime). They are grouped in bundles, each one object: a run links a bundle the first
time it needs any handler in it, without lifting or writing their IR. A bundle's object is keyed
by rvjit's source (objcache.source_signature), the engine (LLVM, CPU, optimisation level) and
the list of its handlers.

A handler in no bundle is compiled on demand as before, and noted at exit as waiting; once
NEW_BUNDLE_AFTER wait, they become a new bundle. So a bundle holds what one kind of run needed (a
kernel's boot, the test programs...), a run links the few bundles it needs, and a run that needs
new handlers does not make the next one rebuild those it had. Bundles a run used move to the end
of the record; past MAX_BUNDLES the first are forgotten.

A new bundle of word handlers is built by the run that needed them, at exit (compiling them
together, unoptimised, costs less than a run linking them one by one; built later, by the next
run needing one of them, it could be a bundle of another kind of run). A new bundle of
definitions, optimised, is built by the compile server's process in the next run that needs one
of them, which meanwhile links them one by one. A bundle whose object has gone (evicted,
damaged) is built again likewise: word handlers at once. Record and objects are checksummed; a
damaged one, or one of another rvjit, is not used.
"""
import atexit
import pickle
import sys
import threading
import weakref
from typing import Callable, NamedTuple

from . import compileserver, objcache
from .handlergen import handlers_module

NEW_BUNDLE_AFTER = 8        # handlers waiting outside the bundles before they make one
MAX_BUNDLES = 16            # per engine: the least recently used beyond are forgotten
ENDS = (None, "jump", "block")


class Remembered(NamedTuple):
    raw: int                # an instruction word whose handler this is
    end: str | None         # as HandlerLibrary.ends
    fp: bool                # calls the FP runtime


def _valid_key(key) -> bool:
    """A definition's name, or (definition name, instruction word)."""
    return isinstance(key, str) or (isinstance(key, tuple) and len(key) == 2
                                    and isinstance(key[0], str) and isinstance(key[1], int))


def _checked(entries) -> dict:
    """key -> Remembered from a saved list of (key, raw, end, fp); raises ValueError if it is
    not what save() writes."""
    out = {}
    for key, raw, end, fp in entries:
        if not (_valid_key(key) and isinstance(raw, int) and end in ENDS and isinstance(fp, bool)):
            raise ValueError("not a handler record")
        out[key] = Remembered(raw, end, fp)
    return out


def _entries(handlers: dict) -> list:
    return [(key, *r) for key, r in handlers.items()]


class Bundle:
    """Remembered handlers compiled into one object."""

    def __init__(self, handlers: dict):
        self.handlers = handlers        # key -> Remembered
        self.usable: bool | None = None   # its handlers are taken from its object (None: not asked yet)
        self.obj: bytes | None = None
        self.linked = False
        self.taken: list = []           # keys taken from it, in order


class HandlerBundles:
    """The remembered handlers of one engine."""

    def __init__(self, engine, kind: str, lift: Callable, function_name: Callable, build_now: bool):
        """kind names the record ("words", "definitions"); lift(key, Remembered) -> the
        handler's Builder (None if impossible); function_name(key) -> its function's name;
        build_now: build a new bundle's object at exit, a missing one at once (else in the
        compile server, for the next run)."""
        self.engine, self.kind, self.build_now = engine, kind, build_now
        self.lift, self.function_name = lift, function_name
        self.bundles: list[Bundle] = []
        self.waiting: dict = {}         # key -> Remembered: needed by earlier runs, in no bundle yet
        self.needed: dict = {}          # key -> Remembered: what this run needed
        self.built = 0                  # bundle objects built by this run
        self.builders: list[threading.Thread] = []   # building objects for the next run
        self._bundle_of: dict = {}      # key -> its Bundle
        self._due: list[Bundle] = []    # taken from, not linked yet
        self._cache: objcache.ObjectCache | None = None
        self._opened = False

    def _record_key(self) -> str:
        return self._cache.key(f"handler bundles: {self.kind}\0{objcache.source_signature()}")

    def _object_key_text(self, bundle: Bundle) -> str:
        return f"handler bundle: {self.kind}\0{objcache.source_signature()}\0" + "\n".join(map(repr, bundle.handlers))

    def _open(self):
        self._opened = True
        self._cache = self.engine.cache
        if self._cache is None:                 # --no-cache
            return
        alive = weakref.ref(self)           # a library dropped before exit saves nothing
        atexit.register(lambda: alive() is not None and alive().save())
        payload = self._cache.load(self._record_key())
        if payload is None:
            return
        try:
            bundles, waiting = pickle.loads(payload)
            self.bundles = [Bundle(_checked(entries)) for entries in bundles]
            self.waiting = _checked(waiting)
        except Exception:                       # damaged in a way the checksum could not see
            self.bundles, self.waiting = [], {}
        self._bundle_of = {key: bundle for bundle in self.bundles for key in bundle.handlers}

    def take(self, key) -> Remembered | None:
        """What the record says of key's handler if this run takes it from a bundle (its
        address: address()); None: compile it on demand."""
        if not self._opened:
            self._open()
        bundle = self._bundle_of.get(key)
        if bundle is None:
            return None
        if bundle.usable is None:
            self._prepare(bundle)
        if not bundle.usable:
            return None
        if not bundle.linked and not bundle.taken:
            self._due.append(bundle)
        bundle.taken.append(key)
        return bundle.handlers[key]

    def _prepare(self, bundle: Bundle):
        bundle.obj = self.engine.cached_object(self._object_key_text(bundle))
        bundle.usable = bundle.obj is not None or self.build_now
        if not bundle.usable:
            self._build_elsewhere(bundle)

    def note(self, key, remembered: Remembered):
        """This run needs key's handler (remembered at exit)."""
        self.needed[key] = remembered

    def link(self) -> dict:
        """Link the bundles handlers have been taken from (building a missing object first):
        key -> address of each handler taken so far from them."""
        addresses = {}
        for bundle in self._due:
            obj, bundle.obj = bundle.obj, None
            if obj is None:                     # evicted or damaged
                obj = self._build(bundle)
            self.engine.link_object([], obj)
            bundle.linked = True
            # addresses are looked up as handlers are taken: a run may need only some of them
            addresses.update((key, self.address(key)) for key in bundle.taken)
        self._due.clear()
        return addresses

    def address(self, key) -> int | None:
        """The address of a handler taken from a bundle; None until the bundle is linked."""
        if not self._bundle_of[key].linked:
            return None
        address = self.engine.function_address(self.function_name(key))
        if not address:
            raise RuntimeError(f"a {self.kind} handler bundle lacks {key!r}")
        return address

    def _build(self, bundle: Bundle) -> bytes:
        obj = self.engine.object_code(self._ir(bundle))
        self.engine.store_object(self._object_key_text(bundle), obj)
        self.built += 1
        return obj

    def _ir(self, bundle: Bundle) -> str:
        """The LLVM IR of a bundle's handlers, in one module."""
        named = []
        for key, remembered in bundle.handlers.items():
            b = self.lift(key, remembered)
            if b is None:       # the same rvjit lifted it before: the record is not what it seems
                raise RuntimeError(f"remembered handler {key!r} cannot be lifted")
            named.append((self.function_name(key), b))
        return handlers_module(named)

    def _build_elsewhere(self, bundle: Bundle):
        """Have the compile server build a bundle's object for the next run, if one is running."""
        server = compileserver.started(self.engine.opt_level)
        if server is None:
            return
        job = (server, self._ir(bundle), self._object_key_text(bundle))
        builder = threading.Thread(target=self._build_with, args=job, name=f"rvjit-bundle-{self.kind}", daemon=True)
        builder.start()
        self.builders.append(builder)

    def _build_with(self, server, ir_text: str, key_text: str):
        try:
            obj = server.compile(ir_text)
        except (OSError, EOFError, RuntimeError) as e:
            print(f"rvjit: the compile server could not build a {self.kind} handler bundle ({e})", file=sys.stderr)
            return
        self.engine.store_object(key_text, obj)

    def save(self):
        """Remember the handlers this run needed that no bundle has (at exit)."""
        new = {key: r for key, r in self.needed.items() if key not in self._bundle_of and key not in self.waiting}
        if self._cache is None or not new:
            return
        waiting = {key: r for key, r in self.waiting.items() if key not in new}
        waiting.update(new)
        used = [b for b in self.bundles if any(key in self.needed for key in b.handlers)]
        bundles = [b for b in self.bundles if b not in used] + used      # least recently used first
        if len(waiting) >= NEW_BUNDLE_AFTER or not bundles:
            bundles.append(Bundle(waiting))
            waiting = {}
            if self.build_now:      # by the run that needed them all, not by the next that needs one
                self._build(bundles[-1])
        bundles = bundles[-MAX_BUNDLES:]
        payload = ([_entries(b.handlers) for b in bundles], _entries(waiting))
        # a small file written at exit: counting the directory is left to stores of objects
        self._cache.store(self._record_key(), pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL), trim=False)
        self.bundles, self.waiting = bundles, waiting
        self._bundle_of = {key: bundle for bundle in self.bundles for key in bundle.handlers}
