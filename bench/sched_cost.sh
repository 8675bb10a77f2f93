#!/usr/bin/env bash
# bench/sched_cost.sh BUILD - what the fair-share scheduler costs a lone VM
# and what it achieves between VMs, in one GPU run (docs/scheduler.md,
# "Cost"). Needs a GPU, BUILD/{vgpud,vgpud-worker,vgpuctl,guest/lib},
# BUILD/bench/{cuda_calls,fairness,fairness.cubin},
# BUILD/tests/gpu/kernels.cubin and, for llama.cpp, tests/gpu/llm's
# prerequisites (LLM_BUILD, default BUILD/llm; skipped when absent).
#
# Settings compared (vgpud.conf):
#   off     scheduler = off
#   on      scheduler = on (sched_solo = on: a VM alone on its GPU runs
#           unmetered)
#   meter   scheduler = on, sched_solo = off: every launch metered, as a
#           VM sharing the GPU is
# 1. bench/cuda_calls natively and through each setting, SC_REPS (3)
#    times each; the median per figure.
# 2. llama.cpp generation (tests/gpu/llm/run.sh; SC_GRAPHS, default "off",
#    which CUDA graph settings) natively and through each setting.
# 3. bench/fairness (FAIR_SECS, default 3) with the scheduler on and off,
#    then on with SC_AHEAD (default "sched_queue_ahead = 500us"); its
#    JSON lines.
# SC_SETTINGS (default "off on meter") picks settings for 1 and 2,
# SC_FAIR_CASES (default all) the cases of 3, SC_AHEAD_RUN=0 skips its
# sched_queue_ahead half. Workers of the `meter` runs print where a metered launch's time goes
# (VGPU_SCHED_PROF=1; the vgpud logs). Everything lands in $OUT (default
# /tmp/vgpu-sched-cost): summary.txt and logs.tgz.
set -uo pipefail
B=$(realpath -m "${1:-build}")
here=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/vgpu-sched-cost}
work=$(mktemp -d /tmp/vgpu-sched-cost.XXXXXX)
mkdir -p "$out" "$work/logs"
sum=$out/summary.txt
: >"$sum"
real=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 / {print $NF; exit}')
[[ -n $real ]] || { echo "sched_cost: no libcuda.so.1 (needs a GPU)"; exit 1; }
daemon=
stop_daemon() {
	[[ -n $daemon ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	daemon=
}
finish() {
	stop_daemon
	tar -czf "$out/logs.tgz" -C "$work" logs 2>/dev/null
	rm -rf "$work" /dev/shm/vgpu-sc-$$
}
trap finish EXIT
conf_of() { # SETTING -> vgpud.conf lines
	case $1 in
	off) echo "scheduler = off" ;;
	on) echo "scheduler = on" ;;
	meter) printf 'scheduler = on\nsched_solo = off\n' ;;
	esac
}
settings=${SC_SETTINGS:-off on meter}
nvidia-smi --query-gpu=name --format=csv,noheader | sed 's/^/gpu: /' | tee -a "$sum"

# ---- 1. cuda_calls -------------------------------------------------------
k=$B/tests/gpu/kernels.cubin
reps=${SC_REPS:-3}
for r in $(seq "$reps"); do
	"$B/bench/cuda_calls" "$k" native >>"$work/logs/calls-native.jsonl" 2>&1
done
for s in $settings; do
	cfg=$work/cfg-$s
	mkdir -p "$cfg/vms.d"
	{ printf 'backend = cuda\ndriver = %s\ncontrol_socket = %s/ctl.sock\n' \
		"$real" "$cfg"; conf_of "$s"; } >"$cfg/vgpud.conf"
	printf 'region = /dev/shm/vgpu-sc-%s\nregion_size = 256M\nchannels = 4\n' \
		"$$" >"$cfg/vms.d/a.conf"
	VGPU_SCHED_PROF=1 "$B/vgpud" -c "$cfg" 2>"$work/logs/calls-vgpud-$s.log" &
	daemon=$!
	for _ in $(seq 100); do [[ -S $cfg/ctl.sock ]] && break; sleep 0.05; done
	for r in $(seq "$reps"); do
		VGPU_REGION=/dev/shm/vgpu-sc-$$ LD_LIBRARY_PATH=$B/guest/lib \
			"$B/bench/cuda_calls" "$k" "vgpu-$s" >>"$work/logs/calls-$s.jsonl" 2>&1
	done
	stop_daemon
done
{
	echo "== bench/cuda_calls, us per call, median of $reps (native, then vgpu: $settings) =="
	for m in kernels_5us_back_to_back launch_api_time null_call_stream_query; do
		printf '%-26s' "$m"
		for f in native $settings; do
			v=$(grep -o "\"metric\": *\"$m\"[^}]*" "$work/logs/calls-$f.jsonl" |
				grep -o '"us_per_call": *[0-9.]*' | grep -o '[0-9.]*$' |
				sort -n | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}')
			printf ' %8s' "${v:--}"
		done
		echo
	done
} | tee -a "$sum"

# ---- 2. llama.cpp generation ----------------------------------------------
L=${LLM_BUILD:-$B/llm}
if [[ -x $L/bin/llama-server ]]; then
	export LLM_JIT_CACHE=$work/jit LLM_MODELS=$work/models
	export LLM_GRAPHS=${SC_GRAPHS:-off} LLM_REPEATS=${LLM_REPEATS:-3}
	OUT=$work/llm-native LLM_MODES=native "$here/tests/gpu/llm/run.sh" "$B" \
		>"$work/logs/llm-native.txt" 2>&1
	for s in $settings; do
		sched=on
		[[ $s == off ]] && sched=off
		extra=
		[[ $s == meter ]] && extra="sched_solo = off"
		VGPU_SCHED_PROF=1 OUT=$work/llm-$s LLM_MODES=vgpu LLM_SCHEDULER=$sched \
			LLM_VGPUD_CONF="$extra" "$here/tests/gpu/llm/run.sh" "$B" \
			>"$work/logs/llm-$s.txt" 2>&1
		cp "$work/llm-$s/vgpud.log" "$work/logs/llm-vgpud-$s.log" 2>/dev/null
	done
	echo "== llama.cpp generation tok/s (graphs ${LLM_GRAPHS}; native, then vgpu: $settings) ==" | tee -a "$sum"
	python3 - "$work" $settings <<'PY' | tee -a "$sum"
import json, sys, os
w, sets = sys.argv[1], sys.argv[2:]
def rows(name, key):
    p = os.path.join(w, "llm-" + name, "results.jsonl")
    r = {}
    if os.path.exists(p):
        for l in open(p):
            j = json.loads(l)
            if j.get("test") == "llm-generate" and j.get(key):
                r[(j["model"], j["graphs"])] = j[key]
    return r
nat = rows("native", "tg_tok_s_native")
vg = {s: rows(s, "tg_tok_s_vgpu") for s in sets}
for k in sorted(nat.keys() | set().union(*[v.keys() for v in vg.values()])):
    n = nat.get(k)
    cells = []
    for s in sets:
        v = vg[s].get(k)
        cells.append("%s %8s %6s" % (s, v or "-",
                     ("%.2fx" % (v / n)) if v and n else "-"))
    print("%-5s graphs %-3s native %8s | %s" % (k[0], k[1], n or "-", " | ".join(cells)))
PY
else
	echo "== llama.cpp: skipped (no $L/bin/llama-server) ==" | tee -a "$sum"
fi

# ---- 3. fairness ----------------------------------------------------------
export FAIR_SECS=${FAIR_SECS:-3}
[[ -n ${SC_FAIR_CASES:-} ]] && export FAIR_CASES=$SC_FAIR_CASES
OUT=$work/fair "$here/bench/fairness.sh" "$B" >"$work/logs/fair.jsonl" \
	2>"$work/logs/fair-table.txt"
: >"$work/logs/fair-ahead.jsonl"
[[ ${SC_AHEAD_RUN:-1} == 0 ]] ||
	OUT=$work/fair-ahead FAIR_SCHEDS=on FAIR_CONF="${SC_AHEAD:-sched_queue_ahead = 500us}" \
		"$here/bench/fairness.sh" "$B" >"$work/logs/fair-ahead.jsonl" \
		2>"$work/logs/fair-ahead-table.txt"
cp "$work/fair/vgpud.log" "$work/logs/fair-vgpud.log" 2>/dev/null
{
	echo "== bench/fairness (FAIR_SECS=$FAIR_SECS): scheduler on, off =="
	cat "$work/logs/fair.jsonl"
	echo "== bench/fairness, on with ${SC_AHEAD:-sched_queue_ahead = 500us} =="
	cat "$work/logs/fair-ahead.jsonl"
	echo "== worker profiles (metered launches), last line per log =="
	for f in "$work"/logs/*vgpud-meter.log; do
		echo "$(basename "$f"): $(grep vgpu-sched-prof "$f" | tail -2)"
	done
} | tee -a "$sum"
