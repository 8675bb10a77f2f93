"""bench/pytorch.py MODE - PyTorch, unmodified, timed over whichever
libcuda.so.1 the loader finds first (bench/torch.sh runs it natively and
through vgpu, MODE naming which, in the same run). One JSON line per figure:

  start_to_first_kernel  from the process's start (BENCH_T0, epoch seconds
                         taken by the shell just before exec; else Python's
                         first instruction) to the first kernel's result
  matmul_fp32, _bf16     4096^3 matmuls back to back, ms each and TFLOP/s
  train_step_small       one AdamW step of tests/gpu/torch/models.py's small
                         transformer (launch-bound: ~100 kernels, tiny)
  train_step             the same model at d=512, 4 layers, seq 256, batch 32
  decode_token           a batch-1 decode-like step: 12 layers of layer
                         norm, QKV, a KV-cache write, attention over the
                         cache (SDPA, masked: the same shapes every token),
                         output projection, MLP, then argmax and the token
                         read back by the host (.item()), as a generation
                         loop does; ~15 small kernels a layer, 2 copies
  decode_token_dynamic   the same attending over the filled part only: a
                         new shape every token (cuDNN builds a plan each)
Each timed figure is the median of REPS (default 5) repeats of a loop, wall
clock with a synchronisation at its end (decode syncs every token itself).
(Not named bench/torch.py: Python would import it as the torch package.)
"""
import json
import os
import sys
import time

T_START = float(os.environ.get("BENCH_T0", 0)) or time.time()
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "gpu", "torch"))
import models  # noqa: E402

MODE = sys.argv[1] if len(sys.argv) > 1 else "native"
REPS = int(os.environ.get("BENCH_REPS", 5))


def emit(metric, **kw):
    print(json.dumps({"bench": "torch", "mode": MODE, "metric": metric, **kw}), flush=True)


def median_ms(loop, n, reps=REPS):
    """Median over reps of the wall milliseconds per iteration of loop(n)."""
    loop(max(1, n // 4))  # warm-up: kernels loaded, allocator primed
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        loop(n)
        torch.cuda.synchronize()
        ts.append((time.perf_counter() - t) * 1000 / n)
    ts.sort()
    return ts[len(ts) // 2]


def first_kernel():
    x = torch.ones(1, device="cuda")
    assert x.item() == 1.0
    emit("start_to_first_kernel", ms=round(1000 * (time.time() - T_START), 1))


def matmul():
    for dt, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        a = torch.randn(4096, 4096, device="cuda", dtype=dt)
        b = torch.randn(4096, 4096, device="cuda", dtype=dt)
        c = torch.empty_like(a)

        def loop(n):
            for _ in range(n):
                torch.matmul(a, b, out=c)
        ms = median_ms(loop, 20 if dt == torch.float32 else 100)
        emit(f"matmul_{name}", ms=round(ms, 4), tflops=round(2 * 4096 ** 3 / ms / 1e9, 1))


def train(metric, steps, batch, **kw):
    m, opt = models.make("transformer", **kw)
    batches = [models.lm_batch(i, batch=batch, seq=kw.get("seq", 32),
                               vocab=kw.get("vocab", 64)) for i in range(4)]

    def loop(n):
        for i in range(n):
            x, y = batches[i % 4]
            opt.zero_grad(set_to_none=True)
            models.xent(m(x), y).backward()
            opt.step()
    emit(metric, ms=round(median_ms(loop, steps), 3), **kw)


def decode(layers=12, d=1024, heads=16, ctx=512, tokens=64, vocab=8192, dynamic=False):
    """dynamic=False: attention over the whole cache with a mask of the
    filled positions, so every token has the same shapes (as a decode loop
    meant for CUDA graphs is written); True: over the filled part only, a
    new shape every token, which has PyTorch's default SDPA backend on
    Hopper (cuDNN) build a new plan each time."""
    dt, dh = torch.bfloat16, d // heads
    g = torch.Generator(device="cuda").manual_seed(0)

    def w(*s):
        return torch.randn(*s, generator=g, device="cuda", dtype=dt) / s[0] ** 0.5
    emb, head = w(vocab, d), w(d, vocab)
    L = [dict(qkv=w(d, 3 * d), o=w(d, d), up=w(d, 4 * d), down=w(4 * d, d),
              k=torch.zeros(1, heads, ctx, dh, device="cuda", dtype=dt),
              v=torch.zeros(1, heads, ctx, dh, device="cuda", dtype=dt)) for _ in range(layers)]
    pos = torch.arange(ctx, device="cuda")

    def step(tok, t):
        h = emb[tok].view(1, d)
        mask = None if dynamic else (pos <= t).view(1, 1, 1, ctx)
        n = t + 1 if dynamic else ctx
        for ly in L:
            a = F.layer_norm(h, (d,))
            q, k, v = (a @ ly["qkv"]).view(1, 3, heads, 1, dh).unbind(1)
            ly["k"][:, :, t] = k[:, :, 0]
            ly["v"][:, :, t] = v[:, :, 0]
            a = F.scaled_dot_product_attention(q, ly["k"][:, :, :n], ly["v"][:, :, :n],
                                               attn_mask=mask)
            h = h + a.reshape(1, d) @ ly["o"]
            h = h + F.gelu(F.layer_norm(h, (d,)) @ ly["up"]) @ ly["down"]
        return int((F.layer_norm(h, (d,)) @ head).argmax())

    state = {"t": 0, "tok": 1}

    def loop(n):
        for _ in range(n):
            if state["t"] >= ctx:
                state["t"] = 0
            state["tok"] = step(torch.tensor(state["tok"], device="cuda"), state["t"])
            state["t"] += 1
    with torch.no_grad():
        ms = median_ms(loop, tokens, reps=3 if dynamic else REPS)
    emit("decode_token_dynamic" if dynamic else "decode_token", ms=round(ms, 4),
         layers=layers, d=d)


first_kernel()
torch.backends.cuda.matmul.allow_tf32 = False
matmul()
train("train_step_small", 50, 16)
train("train_step", 10, 32, d=512, heads=8, layers=4, seq=256)
decode()
decode(tokens=8, dynamic=True)
