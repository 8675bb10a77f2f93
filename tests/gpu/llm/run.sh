#!/usr/bin/env bash
# tests/gpu/llm/run.sh [BUILD] - llama.cpp (Ollama's engine) natively and
# through vgpu on a machine with an NVIDIA GPU (docs/ollama.md).
#
# Needs: BUILD/vgpud, vgpud-worker, guest/lib (make llm-deps); the llama.cpp
# build from tests/gpu/llm/build.sh in $LLM_BUILD (default BUILD/llm);
# python3 with numpy, and PyPI's gguf wheel in BUILD/pypi (or on
# PYTHONPATH) unless $LLM_MODELS already holds the two models.
#
# For each mode (native, then vgpu: guest libraries first in the loader
# path, VGPU_REGION from a vgpud on the cuda backend):
#  1. llama-server --list-devices --offline; a model-less llama-server
#     start-up cut at `system_info:`, as Ollama's discovery runs them;
#     ollama_parse.py applies Ollama's rules: the CUDA device must be
#     selected with compute capability 9.0 (through vgpu: and the VM's
#     memory, LLM_VM_MEMORY, in both the list and the VRAM line).
#  2. greedy generation (client.py) of LLM_TOKENS tokens from prompt.txt,
#     every layer on CUDA0, for the f16 and q8_0 models, with CUDA graphs
#     on and with GGML_CUDA_DISABLE_GRAPHS=1.
# Then: vgpu tokens must equal native tokens byte for byte, per case.
# Prints PASS/FAIL lines, JSON lines (results.jsonl) and a table of
# prompt-processing and generation tokens/s, native vs vgpu. Logs go to
# $OUT (default /tmp/vgpu-llm): a few summary files and llm-logs.tgz.
# Every step has a timeout (LLM_TIMEOUT seconds, default 180). LLM_MODES
# (default "native vgpu") picks the halves to run; LLM_SCHEDULER (on) sets
# vgpud's scheduler, LLM_VGPUD_CONF adds lines to vgpud.conf, LLM_GRAPHS
# (default "on off") which CUDA graph settings to run, LLM_JIT_CACHE a
# PTX JIT cache kept across runs (default: one per run). tests/gpu/llm/selftest.sh
# checks this script on a machine without a GPU (a stand-in llama-server,
# vgpud on the sim backend).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=$(realpath -m "${1:-build}")
L=$(realpath -m "${LLM_BUILD:-$B/llm}")
out=${OUT:-/tmp/vgpu-llm}
T=${LLM_TIMEOUT:-180}
ntok=${LLM_TOKENS:-128}
reps=${LLM_REPEATS:-3}
vmmem=${LLM_VM_MEMORY:-32G}
modes=${LLM_MODES:-native vgpu}
mkdir -p "$out"
work=$(mktemp -d /tmp/vgpu-llm.XXXXXX)
logs=$work/logs
mkdir -p "$logs"
models=${LLM_MODELS:-$work/models}
passed=0 failed=0 daemon=
: >"$out/table.txt"
: >"$out/results.jsonl"

note() { printf '%-52s %s\n' "$1" "$2" | tee -a "$out/table.txt"; }
pass() { passed=$((passed + 1)); note "$1" PASS; }
fail() { failed=$((failed + 1)); note "$1" "FAIL${2:+: $2}"; }
finish() {
	[[ -n $daemon ]] && { kill "$daemon" 2>/dev/null; wait "$daemon"; }
	rm -f "${region:-/nonexistent}"
	cp "$logs"/*-ollama.txt "$logs/vgpud.log" "$out/" 2>/dev/null
	tar -czf "$out/llm-logs.tgz" -C "$work" logs 2>/dev/null
	rm -rf "$work"
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---- preflight ---------------------------------------------------------
bin=$L/bin
server=${LLM_SERVER:-$bin/llama-server} # LLM_SERVER: selftest.sh's stand-in
[[ -x $server && ( -n ${LLM_SERVER:-} || -f $bin/cuda_v13/libggml-cuda.so ) ]] ||
	{ echo "llm: FAIL no llama.cpp build in $L (run tests/gpu/llm/build.sh)"; exit 1; }
backend=${LLM_BACKEND:-cuda}
real=${LLM_DRIVER:-$(ldconfig -p | awk '/libcuda\.so\.1 / {print $NF; exit}')}
[[ -n $real || $backend == sim ]] ||
	{ echo "llm: FAIL no libcuda.so.1 on this machine"; exit 1; }
# cudart and cuBLAS of CUDA 13: Ollama ships them beside libggml-cuda.so;
# here they come from the toolkit or the pip wheels (LLM_CUDA_LIBS wins).
cudalibs=${LLM_CUDA_LIBS:-}
if [[ -z $cudalibs ]]; then
	for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
		$(python3 -c 'import nvidia, os; [print(os.path.join(p, "cu13/lib")) for p in nvidia.__path__]' 2>/dev/null); do
		[[ -e $d/libcudart.so.13 && -e $d/libcublas.so.13 ]] &&
			{ cudalibs=$d; break; }
	done
fi
[[ -n $cudalibs ]] || { echo "llm: FAIL no libcudart.so.13 + libcublas.so.13 (set LLM_CUDA_LIBS)"; exit 1; }
echo "llm: driver $real; CUDA runtime from $cudalibs; llama.cpp $bin"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null |
	sed 's/^/llm: gpu /'
# PTX only: the driver JITs every kernel once; one cache for all runs, big
# enough to hold them (native runs first and fills it: vgpu's worker,
# same user and driver, reads it, so neither half pays JIT in its timings).
export CUDA_CACHE_PATH=${LLM_JIT_CACHE:-$work/jit} CUDA_CACHE_MAXSIZE=4294967296

if [[ ! -f $models/tiny-llama-f16.gguf || ! -f $models/tiny-llama-q8_0.gguf ]]; then
	whl=$(ls "$B"/pypi/gguf-*.whl 2>/dev/null | tail -1)
	PYTHONPATH=${whl:+$whl:}${PYTHONPATH:-} timeout "$T" \
		python3 "$here/gen_model.py" "$models" >"$logs/gen_model.txt" 2>&1
	rc=$?
	cat "$logs/gen_model.txt"
	[[ $rc -eq 0 ]] || { fail "generate models" "rc=$rc"; exit 1; }
fi

# ---- the two environments ---------------------------------------------
# Ollama's runner environment: server dir, then the variant dir, then the
# user's; GGML_BACKEND_PATH names the variant's libggml-cuda.so.
runenv() { # MODE CMD...: run CMD as MODE (native|vgpu) sees it
	local mode=$1; shift
	local lp=$bin:$bin/cuda_v13:$cudalibs ex=
	# started with &, runenv is a subshell: exec, so that the $! that
	# stop() kills is the server itself, not a shell that leaves it behind
	[[ $BASHPID != "$$" ]] && ex=exec
	if [[ $mode == vgpu ]]; then
		$ex env VGPU_REGION="$region" LD_LIBRARY_PATH="$B/guest/lib:$lp" \
			GGML_BACKEND_PATH="$bin/cuda_v13/libggml-cuda.so" "$@"
	else
		$ex env LD_LIBRARY_PATH="$lp" \
			GGML_BACKEND_PATH="$bin/cuda_v13/libggml-cuda.so" "$@"
	fi
}
freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
stop() { # PID: SIGTERM, then SIGKILL after 10 s
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

start_vgpud() {
	local cfg=$work/cfg
	region=/dev/shm/vgpu-llm-$$
	mkdir -p "$cfg/vms.d"
	printf 'backend = %s\ncontrol_socket = %s/ctl.sock\n' "$backend" \
		"$cfg" >"$cfg/vgpud.conf"
	[[ $backend == cuda ]] && printf 'driver = %s\n' "$real" >>"$cfg/vgpud.conf"
	# LLM_SCHEDULER=off: vgpud's fair-share scheduler off (docs/scheduler.md)
	printf 'scheduler = %s\n' "${LLM_SCHEDULER:-on}" >>"$cfg/vgpud.conf"
	[[ -n ${LLM_VGPUD_CONF:-} ]] && printf '%s\n' "$LLM_VGPUD_CONF" >>"$cfg/vgpud.conf"
	printf 'region = %s\nregion_size = 256M\nchannels = 8\nmemory_limit = %s\n' \
		"$region" "$vmmem" >"$cfg/vms.d/llm.conf"
	"$B/vgpud" -c "$cfg" 2>"$logs/vgpud.log" &
	daemon=$!
	for _ in $(seq 200); do [[ -S $cfg/ctl.sock ]] && return 0; sleep 0.05; done
	return 1
}

# ---- 1. discovery, as Ollama runs it ----------------------------------
discover() { # MODE -> 0 if Ollama's rules select the CUDA device
	local m=$1 lst=$logs/$m-list-devices.txt su=$logs/$m-startup.txt
	runenv "$m" timeout "$T" "$server" --list-devices --offline >"$lst" 2>&1
	local rc=$?
	[[ $rc -eq 0 ]] && pass "$m: llama-server --list-devices" ||
		fail "$m: llama-server --list-devices" "rc=$rc, $(tail -1 "$lst")"
	local port
	port=$(freeport)
	# --verbose: this llama.cpp prints system_info at trace level
	runenv "$m" "$server" --port "$port" --host 127.0.0.1 --no-webui \
		--offline --verbose >"$su" 2>&1 &
	local pid=$! t=0
	while ((t < T * 10)) && kill -0 "$pid" 2>/dev/null &&
		! grep -q 'system_info:' "$su"; do
		sleep 0.1; t=$((t + 1))
	done
	stop "$pid"
	grep -q 'system_info:' "$su" && pass "$m: start-up reaches system_info:" ||
		fail "$m: start-up reaches system_info:" "$(tail -1 "$su")"
	local want=(--expect-cc 9.0)
	[[ $m == vgpu ]] && want+=(--expect-mib $(($(numfmt --from=iec "$vmmem") >> 20)))
	python3 "$here/ollama_parse.py" "$lst" "$su" --label "$m" "${want[@]}" \
		>"$logs/$m-ollama.txt" 2>&1
	rc=$?
	sed "s/^/  /" "$logs/$m-ollama.txt" | grep -v '^  {'
	grep '^{' "$logs/$m-ollama.txt" >>"$out/results.jsonl"
	if [[ $rc -eq 0 ]]; then pass "$m: Ollama's rules select CUDA (cc 9.0)"
	else fail "$m: Ollama's rules select CUDA (cc 9.0)" \
		"$(grep -m1 'ollama: FAIL' "$logs/$m-ollama.txt" | cut -c14-)"
	fi
	if [[ $rc -ne 0 && $m == vgpu ]]; then
		# what the guest library saw: every forwarded call, and the
		# driver functions it lacks (docs/ollama.md, "Checks")
		runenv vgpu env VGPU_LOG=debug timeout "$T" "$server" \
			--list-devices --offline >"$logs/vgpu-list-devices-debug.txt" 2>&1
		echo "  vgpu: --list-devices with VGPU_LOG=debug (llm-logs.tgz: logs/vgpu-list-devices-debug.txt):"
		grep -E 'not implemented|-> [1-9]|failed|error' \
			"$logs/vgpu-list-devices-debug.txt" | head -15 | sed 's/^/    /'
	fi
	return $rc
}

# ---- 2. generation ----------------------------------------------------
generate() { # MODE MODEL GRAPHS(on|off) -> logs/MODE-MODEL-GRAPHS.json
	local m=$1 mod=$2 g=$3 tag=$1-$2-graphs_$3 port extra=() check=()
	port=$(freeport)
	[[ $g == off ]] && extra=(GGML_CUDA_DISABLE_GRAPHS=1)
	[[ $m == native && $mod == f16 && $g == on ]] && check=(--tokenizer-check)
	runenv "$m" env "${extra[@]}" "$server" -m "$models/tiny-llama-$mod.gguf" \
		--device CUDA0 -ngl 99 -c 2048 -np 1 --seed 42 --temp 0 -lv 4 \
		--port "$port" --host 127.0.0.1 --no-webui --offline \
		>"$logs/$tag.server.txt" 2>&1 &
	local pid=$! # (-lv 4: llama's INFO lines, e.g. the offload line, are trace)
	timeout $((T + 30)) python3 "$here/client.py" "$port" "$logs/$tag.json" \
		--prompt "$here/prompt.txt" --n-predict "$ntok" --repeats "$reps" \
		--timeout "$T" --pid "$pid" "${check[@]}" >"$logs/$tag.client.txt" 2>&1
	local rc=$?
	stop "$pid"
	local off
	off=$(grep -o 'offloaded [0-9]*/[0-9]* layers to GPU' "$logs/$tag.server.txt" | tail -1)
	if [[ $rc -ne 0 ]]; then
		fail "$m $mod graphs=$g: generate $ntok tokens" \
			"$(tail -1 "$logs/$tag.client.txt"); server: $(grep -iE 'error|fail|abort' "$logs/$tag.server.txt" | tail -1)"
		rm -f "$logs/$tag.json"
		return 1
	fi
	local n=${off#offloaded }; n=${n%% *}
	if [[ -z $off || ${n%/*} != "${n#*/}" ]]; then
		fail "$m $mod graphs=$g: all layers on the GPU" "${off:-no offload line}"
		rm -f "$logs/$tag.json"
		return 1
	fi
	pass "$m $mod graphs=$g: $ntok tokens, $off"
}

for m in $modes; do
	echo "== $m =="
	if [[ $m == vgpu ]]; then
		start_vgpud || { fail "vgpu: vgpud starts" "$(tail -1 "$logs/vgpud.log")"; continue; }
	fi
	if ! discover "$m" && [[ $m == vgpu ]]; then
		for mod in f16 q8_0; do for g in on off; do
			fail "$m $mod graphs=$g: generate" "skipped: no CUDA device through vgpu"
		done; done
		continue
	fi
	for mod in f16 q8_0; do
		for g in ${LLM_GRAPHS:-on off}; do generate "$m" "$mod" "$g"; done
	done
done

# ---- 3. compare and report --------------------------------------------
python3 - "$logs" "$out/results.jsonl" "$ntok" >"$logs/report.txt" <<'PY'
import json, os, sys, hashlib
logs, res, ntok = sys.argv[1], sys.argv[2], int(sys.argv[3])
def load(m, mod, g):
    p = os.path.join(logs, "%s-%s-graphs_%s.json" % (m, mod, g))
    return json.load(open(p)) if os.path.exists(p) else None
rows = []
sha = lambda r: r and hashlib.sha256(json.dumps(r["tokens"]).encode()).hexdigest()[:16]
num = lambda r, k: r and round(r[k], 1)
with open(res, "a") as f:
    for mod in ("f16", "q8_0"):
        for g in ("on", "off"):
            n, v = load("native", mod, g), load("vgpu", mod, g)
            same = None
            if n and v:
                same = n["tokens"] == v["tokens"] and n["content"].encode() == v["content"].encode()
            rows.append((mod, g, n, v, same))
            line = json.dumps({"test": "llm-generate", "model": mod,
                "graphs": g, "tokens": ntok,
                "prompt_n": (n or v or {}).get("prompt_n"),
                "pp_tok_s_native": num(n, "pp_tok_s"),
                "pp_tok_s_vgpu": num(v, "pp_tok_s"),
                "tg_tok_s_native": num(n, "tg_tok_s"),
                "tg_tok_s_vgpu": num(v, "tg_tok_s"),
                "tokens_sha256_native": sha(n), "tokens_sha256_vgpu": sha(v),
                "identical": same})
            f.write(line + "\n")
            print("JSON\t" + line)
print("SAME\tmodel\tgraphs\tresult")
for mod, g, n, v, same in rows:
    print("SAME\t%s\t%s\t%s" % (mod, g, {True: "identical", False: "DIFFERENT", None: "missing"}[same]))
fmt = lambda x: "%9.1f" % x if x is not None else "%9s" % "-"
rat = lambda a, b: "%5.2fx" % (b / a) if a and b else "%6s" % "-"
print("TABLE")
print("%-6s %-6s | %9s %9s %6s | %9s %9s %6s | %s" % ("model", "graphs",
      "pp nat", "pp vgpu", "ratio", "tg nat", "tg vgpu", "ratio", "tokens"))
for mod, g, n, v, same in rows:
    pn, pv = n and n["pp_tok_s"], v and v["pp_tok_s"]
    tn, tv = n and n["tg_tok_s"], v and v["tg_tok_s"]
    print("%-6s %-6s | %s %s %s | %s %s %s | %s" % (mod, g, fmt(pn), fmt(pv),
          rat(pn, pv), fmt(tn), fmt(tv), rat(tn, tv),
          {True: "identical", False: "DIFFERENT", None: "-"}[same]))
PY
if [[ " $modes " == *" vgpu "* && " $modes " == *" native "* ]]; then
	while IFS=$'\t' read -r _ mod g r; do
		[[ $mod == model ]] && continue
		if [[ $r == identical ]]; then pass "$mod graphs=$g: vgpu tokens == native"
		else fail "$mod graphs=$g: vgpu tokens == native" "$r"; fi
	done < <(grep '^SAME' "$logs/report.txt")
fi
echo
grep '^JSON' "$logs/report.txt" | cut -f2-
echo
echo "== tokens/s (llama-server timings, median of $reps; $ntok tokens) =="
sed -n '/^TABLE/,$p' "$logs/report.txt" | tail -n +2 | tee -a "$out/table.txt"
echo
echo "llm: $passed passed, $failed failed (logs: $out)"
((failed == 0))
