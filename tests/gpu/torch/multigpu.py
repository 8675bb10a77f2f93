"""tests/gpu/torch/multigpu.py - PyTorch on two GPUs, unmodified, over
whichever libcuda.so.1 the loader finds first (tests/gpu/multigpu.sh runs it
natively and as a guest of a VM with gpus = 0,1, and compares the digests).

Prints, one per line (as tests/gpu/torch/check.py):
  check NAME pass|FAIL [why]
  digest NAME SHA256    exact bytes of a result: bit-identical natively and
                        through vgpu on the same cards
  info NAME ...
  summary N passed, M failed   (exit status 0 only if M == 0)

Checks: a tensor made and computed on cuda:1 alone (the CUDA runtime's
kernels on the second GPU); a float32 matmul on each device (the same
inputs; whether the two devices' products agree is an info line); a copy cuda:0 -> cuda:1 and back (the driver's
device-to-device copy); and, with `--nccl`, an all_reduce over NCCL between
two processes, one per GPU (torch.distributed), which is reported on its own
line: `nccl pass`, or `nccl FAIL why` (docs/multigpu.md says what NCCL
needs in a VM and where it stops). The NCCL part runs in child processes
under a timeout, so a hang is reported as one and never blocks the run.
"""
import hashlib
import os
import socket
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402


def digest(name, t):
    b = t.detach().contiguous().cpu().numpy().tobytes()
    print(f"digest {name} {hashlib.sha256(b).hexdigest()}", flush=True)
    return b


def section(fn):
    try:
        fn()
    except Exception as e:  # each section on its own
        check(fn.__name__, False, f"{type(e).__name__}: {e}")


def devices():
    n = torch.cuda.device_count()
    print(f"info devices {n} {torch.cuda.get_device_name(0)}", flush=True)
    check("two_devices", n >= 2, f"{n} devices")


def on_device1():
    torch.cuda.set_device(1)
    x = torch.arange(1 << 20, dtype=torch.float32, device="cuda:1")
    y = (x * 0.5 + 3.0).sin()
    torch.cuda.synchronize(1)
    ref = (torch.arange(1 << 20, dtype=torch.float32) * 0.5 + 3.0).sin()
    err = (y.cpu() - ref).abs().max().item()
    check("tensor_on_cuda1", y.device.index == 1 and err < 1e-5,
          f"device {y.device}, max error {err}")
    digest("tensor_cuda1", y)
    torch.cuda.set_device(0)


def matmul_each():
    g = torch.Generator().manual_seed(9)
    a = torch.randn(1024, 1024, generator=g)
    b = torch.randn(1024, 1024, generator=g)
    ref = (a.double() @ b.double()).float()
    torch.backends.cuda.matmul.allow_tf32 = False
    out = {}
    for d in (0, 1):
        c = a.to(f"cuda:{d}") @ b.to(f"cuda:{d}")
        torch.cuda.synchronize(d)
        err = (c.cpu() - ref).abs().max().item()
        check(f"matmul_cuda{d}", c.device.index == d and err < 1e-2,
              f"max error {err}")
        out[d] = digest(f"matmul_cuda{d}", c)
    print(f"info matmul_same_on_both {out[0] == out[1]}", flush=True)


def copy_between():
    g = torch.Generator().manual_seed(3)
    h = torch.randn(4 << 20, generator=g)
    t0 = h.to("cuda:0")
    t1 = t0.to("cuda:1")            # device to device
    back = t1.to("cuda:0") * 2      # and back, then a kernel on cuda:0
    torch.cuda.synchronize(0)
    torch.cuda.synchronize(1)
    ok = torch.equal(t1.cpu(), h) and torch.equal(back.cpu(), h * 2)
    check("copy_cuda0_to_cuda1", ok and t1.device.index == 1,
          "copied bytes differ")
    digest("copy_cuda1", t1)
    print(f"info peer_access {torch.cuda.can_device_access_peer(0, 1)}",
          flush=True)


def nccl_rank(rank, port):
    """One rank of the all_reduce (run as a child: --nccl-rank R PORT)."""
    import torch.distributed as dist
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}",
                            rank=rank, world_size=2)
    t = torch.full((1 << 20,), float(rank + 1), device=f"cuda:{rank}")
    dist.all_reduce(t)
    torch.cuda.synchronize(rank)
    ok = bool((t == 3.0).all().item())
    dist.destroy_process_group()
    print(f"rank {rank} all_reduce {'ok' if ok else 'wrong'}", flush=True)
    return 0 if ok else 1


def nccl():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    secs = int(os.environ.get("MGPU_NCCL_TIMEOUT", "60"))
    procs = [subprocess.Popen([sys.executable, __file__, "--nccl-rank",
                               str(r), str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for r in (0, 1)]
    outs, hung = [], False
    for p in procs:
        try:
            outs.append(p.communicate(timeout=secs)[0])
        except subprocess.TimeoutExpired:
            hung = True
            p.kill()
            outs.append(p.communicate()[0])
    for r, o in enumerate(outs):
        for line in o.splitlines():
            print(f"nccl-rank{r}| {line}", flush=True)
    ok = not hung and all(p.returncode == 0 for p in procs)
    why = "timed out (hang)" if hung else \
        f"exit {[p.returncode for p in procs]}"
    print(f"nccl {'pass' if ok else 'FAIL ' + why}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--nccl-rank":
        sys.exit(nccl_rank(int(sys.argv[2]), int(sys.argv[3])))
    for fn in (devices, on_device1, matmul_each, copy_between):
        section(fn)
    if "--nccl" in sys.argv:
        nccl()
    finish()
