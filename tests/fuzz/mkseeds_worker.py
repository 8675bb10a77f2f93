#!/usr/bin/env python3
"""Write the seed corpus of fuzz_worker (tests/fuzz/fuzz_worker.c).

    python3 tests/fuzz/mkseeds_worker.py
        writes the seeds kept in the repository to tests/fuzz/corpus_worker/
        (no nvcc output: the module seeds there load a small hand-written PTX)
        and the reproducers of the findings to tests/fuzz/crashes/worker-*
    python3 tests/fuzz/mkseeds_worker.py --images build/tests/gpu OUTDIR
        writes seeds that load nvcc's test kernels (kernels.cubin, .fatbin,
        .ptx from that directory) to OUTDIR; `make fuzz` does this into
        build/fuzz/seeds_worker, so no binary nvcc output is committed.

Each seed is a sequence of messages in the harness's input format (its
header comment): a well-behaved guest's calls, plus the misuse the seed is
about (double frees and destroys, stale and cross-kind ids, out-of-range
pointers, sticky faults), so that the fuzzer starts deep in every handler.
The Seed class mirrors the harness's readers byte for byte and its pools
of returned ids and pointers; run this again after changing the format.
"""
import os
import struct
import sys
from fuzzbytes import u8, u16, u32, u64

HERE = os.path.dirname(os.path.abspath(__file__))
API = os.path.join(HERE, "..", "..", "ring", "cuda.api")

# HAND_OPS of fuzz_worker.c, in order; then the generated ops in the order
# of ring/cuda.api (opcode 0x100 + line number among the calls)
HAND = ["DEVICE_INFO", "CTX_RETAIN", "MEMCPY_HTOD", "MEMCPY_DTOH",
        "MODULE_LOAD", "GET_FUNCTION", "GET_GLOBAL", "LAUNCH",
        "MODULE_COMMIT", "HTOD_INLINE", "DTOH_INLINE"]


def gen_calls():
    calls = []
    for line in open(API):
        line = line.split("#", 1)[0].split()
        if line:
            calls.append(line[0])
    return calls


OPS = HAND + gen_calls()
# build_getfn()'s names, in order
NAMES = ["vgpu_fill_u32", "vgpu_add_f32", "vgpu_saxpy", "vgpu_struct_arg",
         "vgpu_checksum", "vgpu_sleep_ns", "vgpu_fault", "vgpu_inc_counter",
         "vgpu_counter", "vgpu_words", "vgpu_scale", "", "vgpu_fill_u3"]
# kernel parameter sizes (tests/gpu/kernels.cu), for launch payloads
PARAMS = {"vgpu_fill_u32": [8, 4, 8], "vgpu_add_f32": [8, 8, 8, 4],
          "vgpu_saxpy": [4, 8, 8, 4], "vgpu_struct_arg": [16, 8],
          "vgpu_checksum": [8, 8, 8], "vgpu_sleep_ns": [8],
          "vgpu_fault": [8], "vgpu_inc_counter": []}
DEVINFO_SIZE = 256 + 16 + 32 + 8 + 4 + 4 + 160 * 4
INLINE_MAX = 1024 - 64
NOREPLY, ARENA, MORE = 1, 2, 4

# A PTX module of our own (no nvcc output in the repository): kernels the
# sim implements in C, matched by name and parameter sizes, and globals.
PTX = b"""\
.version 9.0
.target sm_90
.address_size 64
.global .align 8 .u64 vgpu_counter;
.global .align 4 .b8 vgpu_words[16] = {17, 0, 0, 0, 34, 0, 0, 0};
.const .align 4 .f32 vgpu_scale = 0f3FC00000;
.visible .entry vgpu_fill_u32(.param .u64 p, .param .u32 v, .param .u64 n)
{ ret; }
.visible .entry vgpu_checksum(.param .u64 p, .param .u64 n, .param .u64 o)
{ ret; }
.visible .entry vgpu_fault(.param .u64 p) { ret; }
.visible .entry vgpu_inc_counter() { ret; }
.visible .entry vgpu_sleep_ns(.param .u64 ns) { ret; }
.visible .entry vgpu_saxpy(.param .f32 a, .param .u64 x, .param .u64 y,
                           .param .u32 n) { ret; }
"""


# ---- value encoders (gen_dev, gen_stream, gen_arg of the harness) ----

def dev(j, off=0):
    """pointer pool entry j, plus off (< 256)"""
    return u8(0, j, off)


def dev_end(j, back=0):
    return u8(3, j, back)


def dev_past(j, n=0):
    return u8(4, j, n)


def dev_raw(v):
    return u8(5) + u64(v)


def ident(j):
    """id pool entry j, whatever its kind (gen_id mode 4)"""
    return u8(4, j)


def stream(s):
    """'null', 'legacy', 'per_thread', 'none', or an id pool index"""
    special = {"null": 1, "legacy": 3, "per_thread": 5, "none": 7}
    if s in special:
        return u8(special[s])
    return u8(0) + ident(s)


def a_u8(v):
    return u8(0, v)


def a_u16(v):
    return u8(1) + u16(v)


def a_u64(v):
    return u8(3) + u64(v)


def a_id(j):
    return u8(5, 0) + ident(j)


def a_dev(d):
    return u8(6) + d


def a_stream(s):
    return u8(8) + stream(s)


class Seed:
    """Messages in fuzz_worker's format, with its pools mirrored: ids and
    pointers are appended in the order the harness harvests them."""

    def __init__(self):
        self.b = bytearray()
        self.ids = ["ctx"]  # the harness starts every input with W->ctx_id
        self.ptrs = []
        self.fns = {}       # pool index -> kernel name
        self.reply = 0

    def hdr(self, op, flags=None, raw=False):
        self.b += u8(OPS.index(op), 0x80 | flags if flags is not None else 0,
                     self.reply, 1 if raw else 0)
        self.reply += 1

    def new_id(self, what):
        self.ids.append(what)
        return len(self.ids) - 1

    def new_ptr(self, what):
        self.ptrs.append(what)
        return len(self.ptrs) - 1

    # ---- generated calls: the argument block, each in gen_arg's modes
    def call(self, name, *args, flags=None):
        self.hdr(name, flags)
        self.b += u8(len(args)) + b"".join(args)

    def alloc(self, n):
        self.call("cuMemAlloc_v2", a_u16(n))
        return self.new_ptr("alloc %d" % n)

    def stream_create(self, flags=0):
        self.call("cuStreamCreate", a_u8(flags))
        return self.new_id("stream")

    def event_create(self, flags=0):
        self.call("cuEventCreate", a_u8(flags))
        return self.new_id("event")

    def sync(self):
        self.call("cuCtxSynchronize")

    # ---- hand-written calls
    def device_info(self, tag=0, flags=None):
        self.hdr("DEVICE_INFO", flags)
        self.b += u8(1) + u16(tag)
        if tag >= DEVINFO_SIZE:
            self.b += u16(0)  # then the size is the input's
        if flags is None or flags & ARENA:
            self.b += u8(0)  # arena: [0, size - tag)

    def ctx_retain(self):
        self.hdr("CTX_RETAIN")
        self.new_id("ctx")

    def htod(self, d, data, s="none", tag=0, flags=None):
        self.hdr("MEMCPY_HTOD", flags)
        self.b += d + stream(s) + u8(2) + u16(tag) + u16(len(data)) + u8(0)
        self.b += data

    def dtoh(self, d, n, s="none", tag=0, flags=None):
        self.hdr("MEMCPY_DTOH", flags)
        self.b += d + stream(s) + u8(2) + u16(tag) + u16(n) + u8(0)

    def htod_inline(self, d, data, s="none"):
        self.hdr("HTOD_INLINE")
        self.b += d + stream(s) + u16(len(data)) + data

    def dtoh_inline(self, d, n, s="none"):
        self.hdr("DTOH_INLINE")
        self.b += d + stream(s) + u8(1) + u16(n)

    def load(self, image, split=None):
        """MODULE_LOAD chunks (one, or two at split) and COMMIT; the
        image must load."""
        first = image if split is None else image[:split]
        self.hdr("MODULE_LOAD")
        # total = u16 or u64; tag 0; want: `left` or a u16; arena [0, want)
        self.b += (u8(0) + u16(len(image)) if len(image) < 65536
                   else u8(2) + u64(len(image)))
        self.b += u8(0)
        self.b += (u8(1) if split is None else u8(0) + u16(split)) + u8(0)
        self.b += first
        if split is not None:
            self.hdr("MODULE_LOAD")
            self.b += u8(3) + u8(1) + u8(1) + u8(0) + image[split:]
        self.hdr("MODULE_COMMIT")
        return self.new_id("module")

    def getfn(self, mod, name, op="GET_FUNCTION", ok=True):
        self.hdr(op)
        self.b += u8(0, mod) + u8(NAMES.index(name))
        if not ok:
            return None
        if op == "GET_FUNCTION":
            j = self.new_id("function")
            self.fns[j] = name
            return j
        return self.new_ptr("global " + name)

    def launch(self, fn, params, s="legacy", grid=(1, 1, 1), block=(32, 1, 1),
               flags=None):
        """params: one encoded value per parameter (dev()/dev_raw() for
        8-byte ones, u8(1, v) for 4-byte, raw bytes otherwise)."""
        self.hdr("LAUNCH", flags)
        self.b += u8(0, fn) + stream(s)
        self.b += b"".join(u8(v - 1) for v in grid)
        self.b += b"".join(u8(v - 1) for v in block)
        self.b += u8(1)        # shared_bytes 0
        self.b += u8(0)        # param_bytes: the function's
        self.b += u8(1)        # and the header says the same
        self.b += b"".join(params)

    def bytes(self):
        return bytes(self.b)


def four(v):
    return u8(1, v)  # a 4-byte kernel parameter of small value v


# ---- seeds kept in the repository ----------------------------------------

def seed_identity():
    s = Seed()
    s.device_info()
    s.device_info(tag=DEVINFO_SIZE - 8)
    s.device_info(tag=DEVINFO_SIZE + 8)           # past the end: refused
    s.ctx_retain()
    s.call("cuMemGetInfo_v2")
    s.sync()
    s.device_info(flags=0)                         # no arena: refused
    return s


def seed_memory():
    s = Seed()
    a = s.alloc(4096)
    b = s.alloc(256)
    s.htod(dev(a), bytes(range(256)) * 4)
    s.dtoh(dev(a), 1024)
    s.htod_inline(dev(a, 16), b"inline bytes")
    s.dtoh_inline(dev(a, 16), 12)
    s.call("cuMemcpyDtoD_v2", a_dev(dev(b)), a_dev(dev(a)), a_u16(256))
    s.call("cuMemsetD8_v2", a_dev(dev(a)), a_u8(0x5A), a_u16(4096))
    s.call("cuMemsetD32_v2", a_dev(dev(b)), a_u8(7), a_u16(64))
    s.call("cuMemsetD8Async", a_dev(dev(a, 1)), a_u8(1), a_u16(100),
           a_stream("legacy"))
    s.htod(dev_end(b, 8), b"x" * 16)              # runs past the end
    s.dtoh_inline(dev_past(a, 0), 4)
    s.call("cuMemsetD32_v2", a_dev(dev(a, 1)), a_u8(7), a_u16(4))  # misaligned
    s.call("cuMemFree_v2", a_dev(dev(a)))
    s.call("cuMemFree_v2", a_dev(dev(a)))          # twice
    s.call("cuMemFree_v2", a_dev(dev(b, 8)))       # not a start
    s.htod_inline(dev(a), b"after free")
    s.call("cuMemGetInfo_v2")
    return s


def seed_streams_events():
    s = Seed()
    st = s.stream_create(0)
    nb = s.stream_create(1)
    ev = s.event_create(0)
    ev2 = s.event_create(2)                        # DISABLE_TIMING
    a = s.alloc(1024)
    s.htod(dev(a), b"\1" * 512, s=st)
    s.call("cuEventRecord", a_id(ev), a_stream(st))
    s.call("cuStreamWaitEvent", a_stream(nb), a_id(ev), a_u8(0))
    s.call("cuMemsetD8Async", a_dev(dev(a)), a_u8(2), a_u16(512),
           a_stream(nb))
    s.call("cuEventRecord", a_id(ev2), a_stream(nb))
    s.call("cuEventSynchronize", a_id(ev2))
    s.call("cuEventQuery", a_id(ev))
    s.call("cuEventElapsedTime_v2", a_id(ev), a_id(ev))
    s.call("cuEventElapsedTime_v2", a_id(ev), a_id(ev2))
    s.call("cuStreamQuery", a_stream(nb))
    s.call("cuStreamSynchronize", a_stream("per_thread"))
    s.dtoh(dev(a), 512, s=nb)
    s.call("cuStreamDestroy_v2", a_id(st))
    s.call("cuStreamDestroy_v2", a_id(st))         # twice
    s.call("cuStreamSynchronize", a_stream(st))    # destroyed
    s.call("cuEventDestroy_v2", a_id(ev))
    s.call("cuEventDestroy_v2", a_id(ev))
    s.call("cuEventRecord", a_id(ev), a_stream(nb))
    s.sync()
    return s


def seed_cross_kind():
    s = Seed()
    st = s.stream_create(0)
    ev = s.event_create(0)
    s.call("cuStreamSynchronize", a_stream(ev))    # an event as a stream
    s.call("cuEventQuery", a_id(st))               # a stream as an event
    s.call("cuModuleUnload", a_id(0))              # the context as a module
    s.call("cuStreamDestroy_v2", a_id(ev))
    s.call("cuEventDestroy_v2", a_id(st))
    s.call("cuEventRecord", a_id(st), a_stream(ev))
    s.sync()
    return s


def seed_bad_args():
    s = Seed()
    a = s.alloc(512)
    s.htod(dev_raw(0xFFFFFFFFFFFFFF00), b"wrap")     # dev + tag wraps
    s.htod(dev(a), b"tag", tag=0xFFFF)
    s.dtoh_inline(dev(a), INLINE_MAX + 1)             # longer than a reply
    s.call("cuMemAlloc_v2", a_u64(1 << 40))           # more than the device
    s.call("cuMemAlloc_v2", a_u8(0))
    s.call("cuMemcpyDtoD_v2", a_dev(dev(a)), a_dev(dev(a, 8)),
           a_u64(1 << 63))
    s.call("cuMemsetD32_v2", a_dev(dev(a)), a_u8(1), a_u64(1 << 62))
    s.call("cuStreamCreate", a_u8(0xFF))              # unknown flags
    s.call("cuEventCreate", a_u8(4))                  # interprocess
    s.hdr("cuCtxSynchronize", raw=True)               # short argument block
    s.b += u16(3) + b"abc" + u8(1, 1) + u16(0) + u8(0)
    s.hdr("LAUNCH", flags=0)                          # a reply asked for
    s.b += u8(0, 0) + stream("legacy") + u8(0) * 6 + u8(1, 0) + u16(0)
    s.b += u8(1)
    return s


def seed_raw_ops():
    s = Seed()
    for op in (0x1, 0xF, 0x1B, 0xFF, 0x114, 0xFFF):
        s.b += u8(0xF0, 0, s.reply, 1) + u16(op - 1) + u16(8) + b"rawbytes"
        s.b += u8(1, 1) + u16(0) + u8(0)
        s.reply += 1
    s.hdr("MODULE_COMMIT")                           # nothing loaded
    s.hdr("MODULE_LOAD", flags=ARENA)                # tag beyond the image
    s.b += u8(0) + u16(100) + u8(2) + u64(50) + u8(1) + u8(0)
    return s


def module_script(s, mod, kernels, globals_=True):
    """Functions and globals of module `mod`; launch each kernel with valid
    arguments; then unload and misuse what is left."""
    fn = {k: s.getfn(mod, k) for k in kernels}
    g = {}
    if globals_:
        for n in ("vgpu_counter", "vgpu_words", "vgpu_scale"):
            g[n] = s.getfn(mod, n, op="GET_GLOBAL")
    s.getfn(mod, "vgpu_fill_u3", ok=False)            # no such kernel
    a = s.alloc(4096)
    b = s.alloc(4096)
    c = s.alloc(4096)
    out = s.alloc(8)
    s.htod(dev(a), bytes(range(256)) * 16)
    st = s.stream_create(0)
    if "vgpu_fill_u32" in fn:
        s.launch(fn["vgpu_fill_u32"], [dev(b), four(7), dev_raw(1024)])
        s.launch(fn["vgpu_fill_u32"], [dev(c), four(7), dev_raw(1024)],
                 s=st, grid=(2, 1, 1))
    if "vgpu_add_f32" in fn:
        s.launch(fn["vgpu_add_f32"], [dev(a), dev(b), dev(c), four(255)],
                 grid=(8, 1, 1))
    if "vgpu_saxpy" in fn:
        s.launch(fn["vgpu_saxpy"], [four(2), dev(a), dev(c), four(100)],
                 s="per_thread", grid=(4, 1, 1))
    if "vgpu_struct_arg" in fn:
        s.launch(fn["vgpu_struct_arg"],
                 [struct.pack("<dib3x", 0.5, 64, 3), dev(c)], s=st)
    if "vgpu_checksum" in fn:
        s.call("cuMemsetD8_v2", a_dev(dev(out)), a_u8(0), a_u16(8))
        s.launch(fn["vgpu_checksum"], [dev(a), dev_raw(4096), dev(out)],
                 grid=(2, 1, 1), block=(64, 1, 1))
    if "vgpu_inc_counter" in fn:
        s.launch(fn["vgpu_inc_counter"], [], grid=(3, 1, 1))
    if "vgpu_sleep_ns" in fn:
        s.launch(fn["vgpu_sleep_ns"], [dev_raw(5000)], s=st)
    s.launch(fn[kernels[0]], [dev(b), four(1), dev_raw(16)],
             grid=(0, 1, 1))                            # bad grid
    s.sync()
    s.dtoh(dev(c), 4096)
    s.dtoh_inline(dev(out), 8)
    if g:
        s.dtoh_inline(dev(g["vgpu_counter"]), 8)
        s.htod_inline(dev(g["vgpu_words"]), b"\0" * 16)
        s.htod_inline(dev_end(g["vgpu_words"], 0), b"!")  # past a global
    s.call("cuModuleUnload", a_id(mod))
    s.launch(fn[kernels[0]], [dev(b), four(1), dev_raw(16)],
             flags=0)                                   # stale function
    s.getfn(mod, kernels[0], ok=False)                 # unloaded module
    s.call("cuModuleUnload", a_id(mod))                # twice
    if g:
        s.htod_inline(dev(g["vgpu_words"]), b"stale global")
        s.dtoh_inline(dev(g["vgpu_counter"]), 8)
    s.call("cuMemFree_v2", a_dev(dev(a)))
    s.sync()


def seed_ptx_module():
    s = Seed()
    mod = s.load(PTX)
    module_script(s, mod, ["vgpu_fill_u32", "vgpu_checksum", "vgpu_saxpy",
                           "vgpu_inc_counter", "vgpu_sleep_ns"])
    return s


def fault_script(s, mod):
    """A kernel fault makes the context's error sticky: what still works,
    what is released, and what the tables say afterwards."""
    f = s.getfn(mod, "vgpu_fault")
    a = s.alloc(256)
    st = s.stream_create(0)
    ev = s.event_create(0)
    s.launch(f, [dev_past(a, 64)])                 # outside the allocation
    s.sync()                                       # the sticky error
    s.call("cuMemFree_v2", a_dev(dev(a)))
    s.call("cuStreamDestroy_v2", a_id(st))
    s.call("cuEventDestroy_v2", a_id(ev))
    s.call("cuModuleUnload", a_id(mod))
    s.call("cuMemGetInfo_v2")
    s.htod_inline(dev(a), b"after the fault")
    s.sync()


def seed_ptx_fault():
    s = Seed()
    fault_script(s, s.load(PTX))
    return s


def seed_ptx_chunks():
    s = Seed()
    mod = s.load(PTX, split=100)
    s.getfn(mod, "vgpu_fill_u32")
    s.hdr("MODULE_LOAD")                           # a chunk missing
    s.b += u8(0) + u16(len(PTX)) + u8(0) + u8(0) + u16(64) + u8(0) + PTX[:64]
    s.hdr("MODULE_COMMIT")                         # refused
    return s


REPO_SEEDS = {
    "identity": seed_identity,
    "memory": seed_memory,
    "streams_events": seed_streams_events,
    "cross_kind": seed_cross_kind,
    "bad_args": seed_bad_args,
    "raw_ops": seed_raw_ops,
    "ptx_module": seed_ptx_module,
    "ptx_fault": seed_ptx_fault,
    "ptx_chunks": seed_ptx_chunks,
}

# ---- reproducers of the findings (tests/fuzz/crashes/, README) -----------

def finding1_free_after_fault():
    """cuMemFree after a kernel fault: the sim frees and returns the sticky
    error; the worker kept the allocation."""
    s = Seed()
    f = s.getfn(s.load(PTX), "vgpu_fault")
    a = s.alloc(256)
    s.launch(f, [dev_past(a, 64)])
    s.sync()
    s.call("cuMemFree_v2", a_dev(dev(a)))
    return s


def finding2_unloaded_global():
    """cuModuleUnload: the worker kept the module's globals' ranges."""
    s = Seed()
    mod = s.load(PTX)
    g = s.getfn(mod, "vgpu_counter", op="GET_GLOBAL")
    s.call("cuModuleUnload", a_id(mod))
    s.htod_inline(dev(g), b"12345678")
    return s


def finding2_unloaded_function():
    """cuModuleUnload: the worker kept the module's functions' ids."""
    s = Seed()
    mod = s.load(PTX)
    f = s.getfn(mod, "vgpu_inc_counter")
    s.call("cuModuleUnload", a_id(mod))
    s.launch(f, [], flags=0)
    return s


def finding4_ptx_align():
    """.align 4294967296 on a PTX parameter: the sim's launch buffer came
    out shorter than the layout and the launch wrote past it."""
    s = Seed()
    f = s.getfn(s.load(b".version 9.0\n.target sm_90\n"
                       b".visible .entry vgpu_add_f32(.param .u64 a,"
                       b" .param .u64 b, .param .u64 c,"
                       b" .param .align 4294967296 .u32 n) { ret; }\n"),
                "vgpu_add_f32", ok=False)
    a = s.alloc(256)
    # by hand: with the fix the module does not load, so the harness's
    # pools (and how it reads the rest) differ; this is the unfixed run's
    # encoding: id pool [ctx, module, function], the function's layout
    s.hdr("LAUNCH", flags=NOREPLY)
    s.b += u8(0, 2) + stream("legacy") + u8(0) * 6 + u8(1, 0, 1)
    s.b += dev(a) + dev(a) + dev(a) + four(4)
    s.sync()
    return s


def finding5_ptx_vector():
    """An initialised .v8 .b128 global: 128-byte elements, a 64-byte first
    buffer in the sim's PTX parser."""
    s = Seed()
    s.load(b".version 9.0\n.target sm_90\n.global .v8 .b128 g = {1};\n")
    return s


CRASHES = {
    "worker-finding1-free-after-fault": finding1_free_after_fault,
    "worker-finding2-unloaded-global": finding2_unloaded_global,
    "worker-finding2-unloaded-function": finding2_unloaded_function,
    "worker-finding4-ptx-align": finding4_ptx_align,
    "worker-finding5-ptx-vector": finding5_ptx_vector,
}

# ---- seeds made from nvcc's images at fuzz time ---------------------------


def image_seeds(images):
    out = {}
    every = list(PARAMS)
    for ext in ("cubin", "fatbin", "ptx"):
        img = open(os.path.join(images, "kernels." + ext), "rb").read()
        s = Seed()
        module_script(s, s.load(img), every)
        out["module_" + ext] = s
        s = Seed()
        fault_script(s, s.load(img))
        out["fault_" + ext] = s
        s = Seed()
        mod = s.load(img, split=len(img) // 3)
        s.getfn(mod, "vgpu_inc_counter")
        s.getfn(mod, "vgpu_counter", op="GET_GLOBAL")
        out["chunks_" + ext] = s
    out["worker-finding3-nobits-info"] = nobits_info(
        open(os.path.join(images, "kernels.cubin"), "rb").read())
    return out


def nobits_info(cubin):
    """Finding 3: .nv.info.vgpu_inc_counter made NOBITS over the image's
    last 4 bytes, an attribute header whose payload lies past the image."""
    d = bytearray(cubin)
    shoff, = struct.unpack_from("<Q", d, 40)
    shnum, shstrndx = struct.unpack_from("<HH", d, 60)

    def hdr(i):
        return list(struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * 64))
    names = hdr(shstrndx)[4]
    for i in range(shnum):
        h = hdr(i)
        end = d.index(b"\0", names + h[0])
        if d[names + h[0]:end] == b".nv.info.vgpu_inc_counter":
            h[1], h[4], h[5] = 8, len(d) - 4, 0x1000  # NOBITS
            struct.pack_into("<IIQQQQIIQQ", d, shoff + i * 64, *h)
            d[-4:] = u8(4, 0x17, 0xF0, 0)          # KPARAM_INFO, 240 B
            s = Seed()
            s.getfn(s.load(bytes(d)), "vgpu_inc_counter", ok=False)
            return s
    raise SystemExit("kernels.cubin has no .nv.info.vgpu_inc_counter")


def write(outdir, seeds):
    os.makedirs(outdir, exist_ok=True)
    for name, s in seeds.items():
        data = s.bytes() if isinstance(s, Seed) else s().bytes()
        assert len(data) <= 65536, name  # make fuzz's -max_len
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)


def main():
    if len(sys.argv) == 1:
        write(os.path.join(HERE, "corpus_worker"), REPO_SEEDS)
        write(os.path.join(HERE, "crashes"), CRASHES)
    elif len(sys.argv) == 4 and sys.argv[1] == "--images":
        write(sys.argv[3], image_seeds(sys.argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
