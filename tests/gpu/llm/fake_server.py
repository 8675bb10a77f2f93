#!/usr/bin/env python3
"""fake_server.py - a stand-in for llama-server that checks run.sh itself
on a machine without a GPU (tests/gpu/llm/selftest.sh).

It prints what the real one prints at the points run.sh and Ollama's rules
read (--list-devices; the model-less start-up up to system_info:; the
offload line) and answers /health, /completion, /tokenize and /detokenize.
Under VGPU_REGION it reports FAKE_VGPU_MIB (the VM's memory) instead of the
board's 81559 MiB. Tokens are a function of the prompt alone, so native
and "vgpu" agree unless FAKE_DIVERGE is set in the vgpu run.
"""
import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

NAME = "NVIDIA H100 80GB HBM3"


def mib():
    if os.environ.get("VGPU_REGION"):
        return int(os.environ.get("FAKE_VGPU_MIB", "32768"))
    return 81559


def devices():
    m = mib()
    sys.stderr.write("ggml_cuda_init: found 1 CUDA devices (Total VRAM: %d MiB):\n"
                     "  Device 0: %s, compute capability 9.0, VMM: no, "
                     "VRAM: %d MiB\n" % (m, NAME, m))
    sys.stderr.flush()


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        self.reply({"status": "ok"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/tokenize":
            return self.reply({"tokens": [ord(c) for c in body["content"]]})
        if self.path == "/detokenize":
            return self.reply({"content": "".join(chr(t) for t in body["tokens"])})
        n = body["n_predict"]
        seed = body["prompt"] + ("x" if os.environ.get("FAKE_DIVERGE") and
                                 os.environ.get("VGPU_REGION") else "")
        h = hashlib.sha256(seed.encode()).digest()
        toks = [h[i % 32] + 3 for i in range(n)]
        self.reply({"tokens": toks, "content": " ".join(map(str, toks)),
                    "timings": {"prompt_n": len(body["prompt"].split()),
                                "predicted_n": n, "prompt_per_second": 5000.0,
                                "predicted_per_second": 400.0}})


def main():
    a = sys.argv[1:]
    if "--list-devices" in a:
        devices()
        print("Available devices:\n  CUDA0: %s (%d MiB, %d MiB free)"
              % (NAME, mib(), mib() - 500), flush=True)
        return 0
    port = int(a[a.index("--port") + 1])
    devices()
    if "-m" not in a:
        sys.stderr.write("system_info: n_threads = 4 | CUDA : ARCHS = 900 | "
                         "USE_GRAPHS = 1 |\n")
        sys.stderr.flush()
        time.sleep(3600)
        return 0
    sys.stderr.write("load_tensors: offloaded 13/13 layers to GPU\n")
    sys.stderr.flush()
    HTTPServer(("127.0.0.1", port), H).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
