#!/usr/bin/env bash
# tests/integration/run.sh BUILD_DIR - guest programs against a real vgpud.
#
# Starts vgpud (sim backend unless VGPU_BACKEND=cuda) from a throwaway
# configuration, then runs unmodified driver-API programs (tests/gpu/
# drvapi, linked with -lcuda) with vgpu's libcuda.so.1 first in the loader
# path: each kernel image format, four processes at once, threads of one
# process at once (one blocked in a 1 s cuStreamSynchronize), misuse of
# handles and pointers, its own and another process's (tests/gpu/hostile),
# fork() after cuInit, a guest killed mid-run while another keeps working,
# and vgpuctl status. Ends with "integration: N passed, N failed".
set -uo pipefail
build=${1:-build}
backend=${VGPU_BACKEND:-sim}
tmp=$(mktemp -d /tmp/vgpu-it.XXXXXX)
region=/dev/shm/vgpu-it-$$
qregion=/dev/shm/vgpu-it-q-$$ # a second VM, with a memory quota (NVML)
passed=0 failed=0
cleanup() {
	[[ -n ${daemon:-} ]] && kill "$daemon" 2>/dev/null && wait "$daemon"
	rm -rf "$tmp" "$region" "$qregion"
}
trap cleanup EXIT

mkdir -p "$tmp/vms.d"
cat >"$tmp/vgpud.conf" <<CONF
backend = $backend
${VGPU_DRIVER:+driver = $VGPU_DRIVER}
control_socket = $tmp/control.sock
lease = 3s
log_level = debug
CONF
cat >"$tmp/vms.d/it.conf" <<CONF
region = $region
region_size = 128M
channels = 8
CONF
cat >"$tmp/vms.d/q.conf" <<CONF
region = $qregion
region_size = 16M
channels = 2
memory_limit = 256M
CONF

check() { # NAME COMMAND...: one result line
	local name=$1
	shift
	if "$@" >"$tmp/$name.log" 2>&1; then
		passed=$((passed + 1))
		echo "ok $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name (log follows)"
		sed 's/^/    /' "$tmp/$name.log" | tail -25
		tail -40 "$tmp/vgpud.log" | sed 's/^/    vgpud| /'
	fi
}

"$build/vgpud" -c "$tmp" 2>"$tmp/vgpud.log" &
daemon=$!
for _ in $(seq 100); do [[ -S $tmp/control.sock ]] && break; sleep 0.05; done

guest() { # run a program as a guest process of the VM
	VGPU_REGION=$region LD_LIBRARY_PATH=$build/guest/lib "$@"
}
drv() { guest "$build/tests/gpu/drvapi" "$@"; }

for img in cubin fatbin ptx; do
	check "drvapi_$img" drv "$build/tests/gpu/kernels.$img"
done

concurrent() {
	local pids=() rc=0
	for i in 1 2 3 4; do
		drv "$build/tests/gpu/kernels.cubin" >"$tmp/c$i.out" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	cat "$tmp"/c?.out
	return $rc
}
check four_processes concurrent

kernels=$build/tests/gpu/kernels.cubin
check threads guest "$build/tests/gpu/threads" "$kernels"
check hostile guest "$build/tests/gpu/hostile" "$kernels"
check fork_after_init guest "$build/tests/gpu/forkinit" "$kernels"

killed_guest() {
	drv "$build/tests/gpu/kernels.cubin" >/dev/null 2>&1 &
	local victim=$!
	sleep 0.3
	kill -9 "$victim"
	wait "$victim" 2>/dev/null
	drv "$build/tests/gpu/kernels.cubin" # the next one must be fine
}
check guest_killed_others_run killed_guest

status() {
	# the killed guest's channel comes back when its lease (3 s) runs out
	for _ in $(seq 80); do
		"$build/vgpuctl" -s "$tmp/control.sock" status >"$tmp/status.txt"
		grep -q "vm it .*channels 0/8" "$tmp/status.txt" && break
		sleep 0.1
	done
	cat "$tmp/status.txt"
	grep -q "vm it .*channels 0/8  memory 0 MiB" "$tmp/status.txt"
}
check vgpuctl_status status

# NVML (guest/nvml, docs/nvml.md): against the driver API in one process,
# on the quota VM: total is the quota, used follows cuMemAlloc
qguest() { VGPU_REGION=$qregion LD_LIBRARY_PATH=$build/guest/lib "$@"; }
check nvml_quota_vm qguest "$build/tests/gpu/nvml" $((256 << 20))
check nvml guest "$build/tests/gpu/nvml"
# NVIDIA's nvidia-ml-py, unmodified (Makefile: PYNVML), reads every query
pynvml() {
	PYTHONPATH=$build/pypi/nvidia-ml-py "$@" python3 \
		tests/integration/pynvml_check.py --quota $((256 << 20)) \
		$([[ $backend == sim ]] && echo --sim)
}
check pynvml_quota_vm pynvml qguest
# Ollama's and PyTorch's discovery sequences find the virtual GPU
check discovery guest "$build/tests/gpu/discovery"
check vgpu_smi qguest tests/integration/vgpu_smi_check.sh \
	"$build/guest/tools/vgpu-smi" 256

kill "$daemon" && wait "$daemon"
daemon=
check vgpud_clean_exit grep -q "stopped" "$tmp/vgpud.log"
# tests/gpu/llm/run.sh itself, against a stand-in llama-server (the real
# test needs a GPU: make llm)
[[ $backend == sim ]] &&
	check llm_harness bash tests/gpu/llm/selftest.sh "$build"
echo "integration: $passed passed, $failed failed"
((failed == 0))
