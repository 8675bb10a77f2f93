"""tests/gpu/torch/check.py - PyTorch, unmodified, over whichever libcuda.so.1
the loader finds first (run natively, then with vgpu's guest library first in
LD_LIBRARY_PATH: tests/gpu/run.sh compares the two runs).

Prints, one per line:
  check NAME pass|FAIL [why]   a self-check of this run
  digest NAME SHA256           the exact bytes of a result; deterministic
                               settings throughout (cuDNN deterministic, no
                               benchmark, fixed cuBLAS workspace), so a
                               digest must be bit-identical between runs on
                               the same card and library versions
  time NAME VALUE UNIT         timings (CUDA events; median of repeats)
  summary N passed, M failed   last; exit status 0 only if M == 0

Each section runs on its own: one failing does not hide the others.
"""
import hashlib
import os
import sys
import time

T0 = time.perf_counter()
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
import torch  # noqa: E402

passed = failed = 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"check {name} pass", flush=True)
    else:
        failed += 1
        print(f"check {name} FAIL {why}", flush=True)


def digest(name, t):
    b = t.detach().reshape(-1).contiguous().cpu().view(torch.uint8).numpy().tobytes()
    print(f"digest {name} {hashlib.sha256(b).hexdigest()}", flush=True)


def timed(fn, reps=20):
    """Median milliseconds of fn() over reps, by CUDA events, after warm-up."""
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    ts.sort()
    return ts[len(ts) // 2]


def section(fn):
    try:
        fn()
    except Exception as e:  # report and go on with the next section
        check(fn.__name__, False, f"{type(e).__name__}: {e}".replace("\n", " ")[:300])


def device():
    check("is_available", torch.cuda.is_available())
    p = torch.cuda.get_device_properties(0)
    print(f"info device {p.name} sm={p.major}.{p.minor} mps={p.multi_processor_count}"
          f" mem={p.total_memory}", flush=True)
    free, total = torch.cuda.mem_get_info()
    check("mem_get_info", 0 < free <= total, f"free={free} total={total}")
    x = torch.ones(1, device="cuda")
    torch.cuda.synchronize()
    print(f"time start_to_first_kernel {1000 * (time.perf_counter() - T0):.1f} ms", flush=True)
    check("first_kernel", x.item() == 1.0)


def gen(*shape, dtype=torch.float32, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    return torch.randn(*shape, generator=g, device="cuda", dtype=dtype)


def matmul():
    for dt, name, tol in ((torch.float32, "fp32", 1e-4), (torch.bfloat16, "bf16", 2e-2),
                          (torch.float16, "fp16", 5e-3)):
        a, b = gen(512, 384, dtype=dt, seed=1), gen(384, 256, dtype=dt, seed=2)
        c = a @ b
        ref = a.double() @ b.double()
        err = ((c.double() - ref).norm() / ref.norm()).item()
        check(f"matmul_{name}", err < tol, f"rel err {err:.3g}")
        digest(f"matmul_{name}", c)
    # cuBLASLt with an epilogue (bias add fused: addmm)
    a, b, bias = gen(256, 128, seed=3), gen(128, 64, seed=4), gen(64, seed=5)
    c = torch.addmm(bias, a, b)
    ref = bias.double() + a.double() @ b.double()
    err = ((c.double() - ref).norm() / ref.norm()).item()
    check("addmm_fp32", err < 1e-4, f"rel err {err:.3g}")
    digest("addmm_fp32", c)
    bm = torch.bmm(gen(8, 64, 32, seed=6), gen(8, 32, 16, seed=7))
    digest("bmm_fp32", bm)
    for dt, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        a, b = gen(4096, 4096, dtype=dt, seed=8), gen(4096, 4096, dtype=dt, seed=9)
        ms = timed(lambda: a @ b)
        print(f"time matmul4096_{name} {ms:.3f} ms {2 * 4096 ** 3 / ms / 1e9:.1f} TFLOP/s",
              flush=True)


def conv():
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    check("cudnn", torch.backends.cudnn.is_available(), "cuDNN not available")
    x = gen(4, 3, 32, 32, seed=10).requires_grad_()
    conv = torch.nn.Conv2d(3, 8, 3, padding=1).cuda()
    with torch.no_grad():
        conv.weight.copy_(gen(8, 3, 3, 3, seed=11))
        conv.bias.copy_(gen(8, seed=12))
    y = conv(x)
    ref = torch.nn.functional.conv2d(x.double(), conv.weight.double(), conv.bias.double(),
                                     padding=1)
    err = ((y.double() - ref).norm() / ref.norm()).item()
    check("conv2d_forward", err < 1e-3, f"rel err {err:.3g}")
    digest("conv2d_forward", y)
    y.sum().backward()
    digest("conv2d_grad_input", x.grad)
    digest("conv2d_grad_weight", conv.weight.grad)


def softmax():
    x = gen(64, 1000, seed=13)
    s = torch.softmax(x, dim=1)
    err = (s.sum(dim=1) - 1).abs().max().item()
    check("softmax", err < 1e-5, f"row sums off by {err:.3g}")
    digest("softmax", s)


def streams_events():
    s1, s2 = torch.cuda.Stream(), torch.cuda.Stream()
    e = torch.cuda.Event(enable_timing=True)
    a = gen(1 << 20, seed=14)
    with torch.cuda.stream(s1):
        b = a.abs() * 2 + 1
        e.record()
    s2.wait_event(e)
    with torch.cuda.stream(s2):
        c = b.sqrt().sum()
    s2.synchronize()
    ref = (a.abs() * 2 + 1).sqrt().sum()  # same kernels on the default stream
    check("streams_events", torch.equal(c, ref), f"{c.item()} != {ref.item()}")
    digest("streams_events", c)
    check("event_query", e.query())


def pinned():
    h = torch.arange(1 << 22, dtype=torch.float32).pin_memory()
    check("pinned_is_pinned", h.is_pinned())
    d = h.to("cuda", non_blocking=True)
    d.mul_(3)
    back = torch.empty_like(h).pin_memory()
    back.copy_(d, non_blocking=True)
    torch.cuda.synchronize()
    check("pinned_roundtrip", torch.equal(back, h * 3))
    digest("pinned_roundtrip", back)


def graph():
    w = gen(256, 256, seed=15)
    x = gen(64, 256, seed=16)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):  # warm-up on a side stream, as the docs ask
        for _ in range(2):
            y = torch.relu(x @ w)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        y = torch.relu(x @ w)
    x.copy_(gen(64, 256, seed=17))
    g.replay()
    torch.cuda.synchronize()
    check("graph_replay", torch.equal(y, torch.relu(x @ w)))
    digest("graph_replay", y)


def triton_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def axpy(x_ptr, y_ptr, out_ptr, a, n, BLOCK: tl.constexpr):
        i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = i < n
        tl.store(out_ptr + i, a * tl.load(x_ptr + i, mask=m) + tl.load(y_ptr + i, mask=m),
                 mask=m)

    n = 100003
    x, y = gen(n, seed=18), gen(n, seed=19)
    out = torch.empty_like(x)
    axpy[(triton.cdiv(n, 1024),)](x, y, out, 2.5, n, BLOCK=1024)
    # Triton fuses a * x + y into one fma; PyTorch rounds the product first
    err = (out - (2.5 * x + y)).abs().max().item()
    check("triton_axpy", err <= 1e-5, f"max abs diff {err:.3g}")
    digest("triton_axpy", out)


def triton_tma():
    """A Triton kernel reading and writing through TMA descriptors made on
    the host (cuTensorMapEncodeTiled), passed to the kernel by value."""
    import triton
    import triton.language as tl
    from triton.tools.tensor_descriptor import TensorDescriptor

    @triton.jit
    def twice(src, dst, BM: tl.constexpr, BN: tl.constexpr):
        m = tl.program_id(0) * BM
        n = tl.program_id(1) * BN
        dst.store([m, n], src.load([m, n]) * 2)

    M, N, BM, BN = 256, 128, 64, 64
    x = gen(M, N, seed=20)
    y = torch.empty_like(x)
    twice[(M // BM, N // BN)](TensorDescriptor.from_tensor(x, [BM, BN]),
                              TensorDescriptor.from_tensor(y, [BM, BN]), BM=BM, BN=BN)
    check("triton_tma", torch.equal(y, x * 2))
    digest("triton_tma", y)


for s in (device, matmul, conv, softmax, streams_events, pinned, graph, triton_kernel,
          triton_tma):
    section(s)
torch.cuda.synchronize()
print(f"summary {passed} passed, {failed} failed", flush=True)
sys.exit(1 if failed else 0)
