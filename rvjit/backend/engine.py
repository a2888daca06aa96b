"""LLVM through llvmlite: compile LLVM IR text to host code and hand back function addresses."""
import ctypes
import threading
import time

import llvmlite.binding as llvm

from . import objcache

_initialized = False


def _init():
    global _initialized
    if not _initialized:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialized = True


class CompiledModule:
    def __init__(self, name, ir_text, optimized_ir, addresses, seconds):
        self.name, self.ir_text, self.optimized_ir = name, ir_text, optimized_ir
        self.addresses, self.seconds = addresses, seconds
        self.module = None


class Engine:
    """One MCJIT execution engine; every compiled block module is added to it."""

    def __init__(self, opt_level: int = 2, cache_dir: str | None = "default"):
        """cache_dir: where compiled objects are kept between runs ("default": the translation
        cache, "library": the handler library, see objcache; None: no cache)."""
        _init()
        self.opt_level = opt_level
        target = llvm.Target.from_default_triple()
        cpu, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
        self.tm = target.create_target_machine(
            opt=opt_level, reloc="pic", codemodel="default", cpu=cpu, features=features)
        self.ee = llvm.create_mcjit_compiler(llvm.parse_assembly(""), self.tm)
        if cache_dir == "default":
            cache_dir = objcache.default_directory()
        elif cache_dir == "library":
            cache_dir = objcache.library_directory()
        self.cache = None
        if cache_dir is not None:
            signature = f"llvm {llvm.llvm_version_info} {llvm.get_default_triple()} {cpu} {features} O{opt_level}"
            self.cache = objcache.ObjectCache(cache_dir, signature)
        self._from_cache: dict[str, bytes] = {}     # module name -> object to link instead
        self._to_cache: set[str] = set()
        self._linked = 0
        self.ee.set_object_cache(self._object_compiled, self._cached_object)
        self.pto = llvm.create_pipeline_tuning_options(speed_level=opt_level)
        self.parse_seconds = self.opt_seconds = self.codegen_seconds = 0.0
        self._lock = threading.Lock()       # the background compiler shares the hot engine

    def compile(self, ir_text: str, names: list[str], keep_module: bool = False) -> CompiledModule:
        with self._lock:
            return self._compile(ir_text, names, keep_module)

    def _compile(self, ir_text, names, keep_module):
        t0 = time.perf_counter()
        key = self.cache.key(ir_text) if self.cache is not None and not keep_module else None
        cached = self.cache.load(key) if key is not None else None
        if cached is not None:                  # no need to even parse the IR
            return self._link(names, cached, key, ir_text, t0)
        mod = llvm.parse_assembly(ir_text)
        mod.verify()
        t1 = time.perf_counter()
        if key is not None:
            mod.name = key
            self._to_cache.add(key)
        self._optimize(mod)
        t2 = time.perf_counter()
        optimized = str(mod) if keep_module else None
        self.ee.add_module(mod)
        self.ee.finalize_object()
        addresses = {n: self.ee.get_function_address(n) for n in names}
        t3 = time.perf_counter()
        self.parse_seconds += t1 - t0
        self.opt_seconds += t2 - t1
        self.codegen_seconds += t3 - t2
        cm = CompiledModule(names[0] if names else "", ir_text, optimized, addresses, t3 - t0)
        if keep_module:
            cm.module = mod
        return cm

    def cache_key(self, ir_text: str) -> str | None:
        return self.cache.key(ir_text) if self.cache is not None else None

    def object_code(self, ir_text: str) -> bytes:
        """The relocatable object of a module, optimised as compile() would (for load_object);
        its time counts in the engine's parse, optimise and codegen seconds as compile()'s does."""
        t0 = time.perf_counter()
        mod = llvm.parse_assembly(ir_text)
        mod.verify()
        t1 = time.perf_counter()
        self._optimize(mod)
        t2 = time.perf_counter()
        obj = self.tm.emit_object(mod)
        t3 = time.perf_counter()
        with self._lock:            # the compiler thread and the guest's may both count
            self.parse_seconds += t1 - t0
            self.opt_seconds += t2 - t1
            self.codegen_seconds += t3 - t2
        return obj

    def link_cached(self, ir_text: str, names: list[str]) -> CompiledModule | None:
        """compile() of a module whose object is in the disk cache; None if it is not."""
        t0 = time.perf_counter()
        key = self.cache_key(ir_text)
        obj = self.cache.load(key) if key is not None else None
        if obj is None:
            return None
        with self._lock:
            return self._link(names, obj, key, ir_text, t0)

    def load_object(self, ir_text: str, names: list[str], obj: bytes) -> CompiledModule:
        """Link an object made by object_code (here or in another process) of ir_text; it goes
        to the disk cache too."""
        t0 = time.perf_counter()
        key = self.cache_key(ir_text)
        if key is not None:
            self.cache.store(key, obj)
        with self._lock:
            return self._link(names, obj, key, ir_text, t0)

    # Objects cached under a caller's description of what they were compiled from, instead of
    # their IR: for modules whose IR is costlier to write than the object is to link.
    def cached_object(self, key_text: str) -> bytes | None:
        """The object store_object kept under key_text; None if there is none (or no cache)."""
        return self.cache.load(self.cache.key(key_text)) if self.cache is not None else None

    def store_object(self, key_text: str, obj: bytes):
        if self.cache is not None:
            self.cache.store(self.cache.key(key_text), obj)

    def compile_described(self, key_text: str, names: list[str], make_object,
                          link_only: bool = False) -> CompiledModule | None:
        """Link the object store_object kept under key_text; if there is none, make_object()
        (unless link_only: None), keep it and link it."""
        obj = self.cached_object(key_text)
        if obj is None:
            if link_only:
                return None
            obj = make_object()
            self.store_object(key_text, obj)
        return self.link_object(names, obj)

    def link_object(self, names: list[str], obj: bytes) -> CompiledModule:
        """Link an object made by object_code (here or in another process)."""
        t0 = time.perf_counter()
        with self._lock:
            return self._link(names, obj, None, None, t0)

    def function_address(self, name: str) -> int:
        """The address of a function linked earlier (0 if there is none)."""
        with self._lock:
            return self.ee.get_function_address(name)

    def _link(self, names, obj, key, ir_text, t0) -> CompiledModule:
        """Add an already compiled object: MCJIT is handed an empty module of the same name and
        takes the object from its cache hook instead of compiling anything."""
        self._linked += 1
        stub = llvm.parse_assembly("")
        stub.name = key or f"linked_{self._linked}"
        stub.triple = self.tm.triple
        stub.data_layout = str(self.tm.target_data)
        self._from_cache[stub.name] = obj
        self.ee.add_module(stub)
        self.ee.finalize_object()
        addresses = {n: self.ee.get_function_address(n) for n in names}
        if not all(addresses.values()):
            raise RuntimeError(f"linked object lacks {[n for n, a in addresses.items() if not a]}")
        seconds = time.perf_counter() - t0
        self.codegen_seconds += seconds
        return CompiledModule(names[0] if names else "", ir_text, None, addresses, seconds)

    # MCJIT's object cache hooks: asked for each module's object before compiling it, and told
    # about each object it compiled.
    def _cached_object(self, module):
        return self._from_cache.pop(module.name, None)

    def _object_compiled(self, module, buffer):
        if self.cache is not None and module.name in self._to_cache:
            self._to_cache.discard(module.name)
            self.cache.store(module.name, bytes(buffer))

    def _optimize(self, mod):
        # llvmlite's module pass manager cannot be run twice: build one per module.
        if self.opt_level > 0:
            pb = llvm.create_pass_builder(self.tm, self.pto)
            pb.getModulePassManager().run(mod, pb)

    def assembly(self, ir_text: str) -> str:
        """Host assembly for a module (compiled separately, for display only)."""
        mod = llvm.parse_assembly(ir_text)
        self._optimize(mod)
        return self.tm.emit_assembly(mod)


# A block is entered as fn(state, data): see llvmgen (data: threaded records, or unused).
BLOCK_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
