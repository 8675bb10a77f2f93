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
  check NAME skip why          PyTorch declined (an SDPA backend it does not
                               offer here): the native run must skip it too
  time NAME VALUE UNIT         timings (CUDA events; median of repeats)
  info NAME ...                what ran (SDPA's choice, loss curves)
  summary N passed, M failed   last; exit status 0 only if M == 0

With TORCH_CHECK_SAVE=DIR each digested tensor is also saved as DIR/NAME.npy
(float32 for floating types) so that tests/gpu/torch/compare.py can measure
how far two runs differ where a digest is not reproducible natively (atomics
in a backward pass): the tolerance is the native-vs-native spread.

Each section runs on its own: one failing does not hide the others.
"""
import hashlib
import os
import sys
import time

T0 = time.perf_counter()
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
from checks import check, finish  # noqa: E402

SAVE = os.environ.get("TORCH_CHECK_SAVE")


def skip(name, why):
    print(f"check {name} skip {why}".replace("\n", " ")[:300], flush=True)


def digest(name, t):
    t = t.detach().reshape(-1).contiguous().cpu()
    b = t.view(torch.uint8).numpy().tobytes()
    print(f"digest {name} {hashlib.sha256(b).hexdigest()}", flush=True)
    if SAVE:
        np.save(os.path.join(SAVE, name + ".npy"),
                (t.float() if t.is_floating_point() else t).numpy())


def relerr(x, ref):
    return ((x.double() - ref.double()).norm() / ref.double().norm()).item()


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
    xd = x.detach().double().requires_grad_()
    wd = conv.weight.detach().double().requires_grad_()
    torch.nn.functional.conv2d(xd, wd, conv.bias.detach().double(), padding=1).sum().backward()
    e = max(relerr(x.grad, xd.grad), relerr(conv.weight.grad, wd.grad))
    check("conv2d_backward", e < 5e-3,  # cuDNN may use TF32
          f"rel err {e:.3g}")
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


def sdpa():
    """scaled_dot_product_attention forward and backward (bf16, causal), each
    backend PyTorch has on this card forced in turn, against fp32 math."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    F = torch.nn.functional
    shape = (2, 8, 256, 64)
    q, k, v, go = (gen(*shape, dtype=torch.bfloat16, seed=30 + i) for i in range(4))
    try:  # which backend PyTorch would pick by itself
        c = torch._fused_sdp_choice(q, k, v, is_causal=True)
        names = {int(b): n for n, b in SDPBackend.__members__.items()}
        print(f"info sdpa_default_choice {names.get(int(c), c)}", flush=True)
    except Exception as e:  # a private helper: only informative
        print(f"info sdpa_default_choice unknown ({type(e).__name__})", flush=True)
    ref_in = [t.float().requires_grad_() for t in (q, k, v)]
    with sdpa_kernel([SDPBackend.MATH]):
        ref = F.scaled_dot_product_attention(*ref_in, is_causal=True)
    ref.backward(go.float())
    for name, b in (("flash", "FLASH_ATTENTION"), ("efficient", "EFFICIENT_ATTENTION"),
                    ("cudnn", "CUDNN_ATTENTION"), ("math", "MATH")):
        if not hasattr(SDPBackend, b):
            skip(f"sdpa_{name}", f"this PyTorch has no SDPBackend.{b}")
            continue
        ins = [t.clone().requires_grad_() for t in (q, k, v)]
        try:
            with sdpa_kernel([getattr(SDPBackend, b)]):
                o = F.scaled_dot_product_attention(*ins, is_causal=True)
            o.backward(go)
            torch.cuda.synchronize()
        except RuntimeError as e:
            if "No available kernel" not in str(e):
                check(f"sdpa_{name}", False, f"{type(e).__name__}: {e}")
                continue
            skip(f"sdpa_{name}", "PyTorch offers no such kernel here")
            continue
        e = max([relerr(o, ref)] + [relerr(i.grad, r.grad) for i, r in zip(ins, ref_in)])
        check(f"sdpa_{name}", e < 2e-2, f"rel err {e:.3g}")
        print(f"info sdpa_ran {name} rel_err {e:.3g}", flush=True)
        digest(f"sdpa_{name}_out", o)
        for t, g in zip("qkv", ins):
            digest(f"sdpa_{name}_grad_{t}", g.grad)


def train(kind, steps=50):
    """steps of AdamW on a small model in deterministic mode: the loss curve
    and the final parameters must be bit-identical to native."""
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True)
    try:
        m, opt = models.make(kind)
        losses = torch.stack([models.train_step(kind, m, opt, i) for i in range(steps)])
        digest(f"train_{kind}_loss", losses)
        digest(f"train_{kind}_params", torch.cat([p.detach().reshape(-1)
                                                  for p in m.parameters()]))
        lc = losses.tolist()
        print(f"info train_{kind}_loss " + " ".join(f"{x:.5f}" for x in lc[::7] + lc[-1:]),
              flush=True)
        ok = all(x == x for x in lc) and sum(lc[-5:]) < sum(lc[:5])  # it learns
        check(f"train_{kind}", ok, f"loss {lc[0]:.4f} -> {lc[-1]:.4f}")
    finally:
        torch.use_deterministic_algorithms(False)


def train_cnn():
    train("cnn")


def train_transformer():
    train("transformer")


def threads_streams():
    """Four Python threads, each on a stream of its own (and so a cuBLAS
    handle of its own), chains of matmuls at once; each result must equal
    the same chain run on the default stream."""
    import threading
    n = 4
    w = gen(512, 512, seed=40)
    xs = [gen(256, 512, seed=41 + i) for i in range(n)]

    def chain(y):
        for _ in range(20):
            y = torch.tanh((y @ w) * 0.05)
        return y

    outs, errs = [None] * n, []
    gate = threading.Barrier(n)
    main = torch.cuda.current_stream()

    def work(i):
        try:
            gate.wait(timeout=60)  # all threads start their chains together
            s = torch.cuda.Stream()
            s.wait_stream(main)  # xs were made on the default stream
            with torch.cuda.stream(s):
                outs[i] = chain(xs[i])
            s.synchronize()
        except Exception as e:
            errs.append(f"thread {i}: {type(e).__name__}: {e}")

    ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check("threads_streams_ran", not errs, "; ".join(errs))
    if errs:
        return
    refs = [chain(x) for x in xs]
    same = all(torch.equal(o, r) for o, r in zip(outs, refs))
    check("threads_streams", same, "a thread's result differs from the default stream's")
    digest("threads_streams", torch.stack(outs))


class Block(torch.nn.Module):
    def __init__(self, d=256):
        super().__init__()
        self.up = torch.nn.Linear(d, 2 * d)
        self.down = torch.nn.Linear(2 * d, d)
        self.norm = torch.nn.LayerNorm(d)

    def forward(self, x):
        return self.norm(x + self.down(torch.nn.functional.gelu(self.up(x))))


def compiled():
    """torch.compile (Inductor: generated Triton kernels) of a small block,
    default mode, against eager."""
    torch.manual_seed(0)
    m = Block().cuda()
    x = gen(64, 256, seed=50)
    with torch.no_grad():
        ref = m(x)
        y = torch.compile(m)(x)
    torch.cuda.synchronize()
    e = relerr(y, ref)
    check("compile_default", e < 1e-4, f"rel err {e:.3g}")
    digest("compile_default", y)


def compiled_graphs():
    """torch.compile mode="reduce-overhead": Inductor's kernels recorded into
    CUDA graphs (cudagraph trees) and replayed on new inputs."""
    torch.manual_seed(0)
    m = Block().cuda()
    c = torch.compile(m, mode="reduce-overhead")
    errs, ys = [], []
    with torch.no_grad():
        for i in range(4):  # warm-up, record, then replays
            x = gen(64, 256, seed=51 + i)
            y = c(x).clone()
            errs.append(relerr(y, m(x)))
            ys.append(y)
    torch.cuda.synchronize()
    try:
        from torch._dynamo.utils import counters
        skips = dict(counters["inductor"]).get("cudagraph_skips", 0)
        print(f"info compile_cudagraph_skips {skips}", flush=True)
    except Exception:
        pass
    check("compile_reduce_overhead", max(errs) < 1e-4, f"rel errs {errs}")
    digest("compile_reduce_overhead", torch.stack(ys))


for s in (device, matmul, conv, softmax, streams_events, pinned, graph, triton_kernel,
          triton_tma, sdpa, train_cnn, train_transformer, threads_streams, compiled,
          compiled_graphs):
    section(s)
torch.cuda.synchronize()
finish()
