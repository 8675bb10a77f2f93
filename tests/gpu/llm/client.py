#!/usr/bin/env python3
"""client.py PORT OUT.json --prompt FILE [--n-predict N] [--repeats R]
              [--timeout S] [--pid PID] [--tokenizer-check]

Drives one running llama-server: waits for GET /health (gives up when
--timeout seconds pass or process --pid exits), sends one warm-up
completion (the same request: the first decode still JIT-compiles and
captures graphs), then R identical greedy completions of the prompt (temperature
0, top_k 1, fixed seed, ignore_eos so exactly N tokens, no prompt cache so
every request processes the whole prompt). Writes OUT.json: the generated
token ids and text, and the median prompt-processing and generation
tokens/s from the server's own timings. Exits 1 (with a FAIL line) if the
server never becomes healthy, a request fails, the repeats disagree, or
fewer than N tokens come back. --tokenizer-check: also /tokenize +
/detokenize the prompt and require the round trip to give it back.
"""
import argparse
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request


def post(port, path, body, timeout):
    req = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (port, path), data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def alive(pid):
    if not pid:
        return True
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def wait_healthy(port, deadline, pid):
    last = "no answer"
    while time.monotonic() < deadline:
        if not alive(pid):
            return "server process %d exited (last: %s)" % (pid, last)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % port,
                                        timeout=5) as r:
                if r.status == 200:
                    return None
        except urllib.error.HTTPError as e:
            last = "HTTP %d" % e.code  # 503 while the model loads
        except (OSError, ValueError) as e:
            last = str(e)
        time.sleep(0.2)
    return "not healthy in time (last: %s)" % last


def fail(msg):
    print("client: FAIL " + msg, flush=True)
    return 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("out")
    p.add_argument("--prompt", required=True)
    p.add_argument("--n-predict", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--timeout", type=float, default=180)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--tokenizer-check", action="store_true")
    a = p.parse_args()
    deadline = time.monotonic() + a.timeout
    prompt = open(a.prompt).read().strip()
    t0 = time.monotonic()
    err = wait_healthy(a.port, deadline, a.pid)
    if err:
        return fail(err)
    ready_s = time.monotonic() - t0
    result = {"ready_s": round(ready_s, 3)}
    left = lambda: max(5.0, deadline - time.monotonic())
    try:
        if a.tokenizer_check:
            toks = post(a.port, "/tokenize", {"content": prompt}, left())["tokens"]
            back = post(a.port, "/detokenize", {"tokens": toks}, left())["content"]
            result["prompt_tokens"] = len(toks)
            if back.strip() != prompt:
                return fail("tokenizer round trip differs: %r..." % back[:80])
        body = {"prompt": prompt, "n_predict": a.n_predict, "temperature": 0,
                "top_k": 1, "seed": a.seed, "ignore_eos": True,
                "cache_prompt": False, "return_tokens": True, "stream": False}
        post(a.port, "/completion", body, left())  # warm-up: JIT, graphs
        runs = [post(a.port, "/completion", body, left())
                for _ in range(a.repeats)]
    except (OSError, ValueError, KeyError) as e:
        return fail("request: %s" % e)
    toks = [r.get("tokens") for r in runs]
    if any(t != toks[0] for t in toks):
        return fail("repeats generated different tokens")
    if not toks[0] or len(toks[0]) != a.n_predict:
        return fail("%d tokens generated, expected %d"
                    % (len(toks[0] or []), a.n_predict))
    tm = [r["timings"] for r in runs]
    result.update({
        "tokens": toks[0], "content": runs[0].get("content", ""),
        "prompt_n": tm[0].get("prompt_n"), "predicted_n": tm[0].get("predicted_n"),
        "pp_tok_s": statistics.median(t["prompt_per_second"] for t in tm),
        "tg_tok_s": statistics.median(t["predicted_per_second"] for t in tm),
        "timings": tm})
    with open(a.out, "w") as f:
        json.dump(result, f)
    print("client: ok %d tokens, pp %.1f tok/s, tg %.1f tok/s"
          % (len(toks[0]), result["pp_tok_s"], result["tg_tok_s"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
