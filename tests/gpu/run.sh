#!/usr/bin/env bash
# tests/gpu/run.sh BUILD_DIR - the GPU tests and benchmarks, on a machine
# with an NVIDIA GPU (the lent H100: see docs/gpu-testing.md).
#
# 1. tests/gpu/drvapi natively, then as a vgpu guest against vgpud's cuda
#    backend: every check must pass and every digest line must be
#    bit-identical between the two runs.
#    tests/gpu/memops --big, tests/gpu/pinned_uva, tests/gpu/graphs, tests/gpu/vmm and tests/gpu/streams
#    likewise. tests/gpu/cublas_run.sh (NVIDIA's cuBLAS/cuBLASLt, cuDNN,
#    bench/cublas) and tests/gpu/tools_tls natively and through vgpu.
# 2. the integration suite (tests/integration/run.sh) on the cuda backend.
# 3. fault isolation: a guest whose kernel faults next to one that works.
# 4. bench/cuda_calls native and vgpu, bench/ring: JSON lines;
#    bench/bandwidth.sh: native and vgpu bandwidth, 4 KiB .. 4 GiB;
#    bench/fairness.sh: VM shares with the scheduler off and on.
# 5. NVML: tests/gpu/nvml, tests/gpu/nvml_smi and tests/gpu/discovery as
#    guests; the machine's
#    real nvidia-smi with our libnvidia-ml.so.1 first in its loader path
#    (-L, the default view, -q: exit 0 and the virtual GPU shown).
# 6. PyTorch natively and through vgpu (tests/gpu/torch/run.sh) and
#    bench/torch.sh, where the machine's python3 has torch.
# Writes logs and JSON into ${OUT:-/tmp/vgpu-gpu}; prints a table last.
set -uo pipefail
B=${1:-build}
out=${OUT:-/tmp/vgpu-gpu}
mkdir -p "$out"
real=$(ldconfig -p | awk '/libcuda\.so\.1 / {print $NF; exit}')
[[ -n $real ]] || { echo "gpu: no libcuda.so.1 on this machine"; exit 1; }
nvidia-smi -L || true
k=$B/tests/gpu/kernels.cubin
passed=0 failed=0
note() { printf '%-34s %s\n' "$1" "$2" | tee -a "$out/table.txt"; }
verdict() { if eval "$2"; then passed=$((passed + 1)); note "$1" pass;
	    else failed=$((failed + 1)); note "$1" FAIL; fi; }

# the daemon, for steps 1, 3 and 4
cfg=$(mktemp -d)
region=/dev/shm/vgpu-gpu-$$
mkdir -p "$cfg/vms.d"
printf 'backend = cuda\ndriver = %s\ncontrol_socket = %s/ctl.sock\n' \
	"$real" "$cfg" >"$cfg/vgpud.conf"
# 64 MiB of pinned pool per guest process: memops --big pins 2 x 16 MiB
printf 'region = %s\nregion_size = 1G\nchannels = 8\npinned_pool = 512M\n' \
	"$region" >"$cfg/vms.d/gpu.conf"
"$B/vgpud" -c "$cfg" 2>"$out/vgpud.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon; rm -rf "$cfg" "$region"' EXIT
for _ in $(seq 100); do [[ -S $cfg/ctl.sock ]] && break; sleep 0.05; done
guest() { VGPU_REGION=$region LD_LIBRARY_PATH=$B/guest/lib "$@"; }

"$B/tests/gpu/drvapi" "$k" >"$out/drvapi-native.txt" 2>&1
rc=$?
verdict "drvapi native" "[[ $rc -eq 0 ]]"
guest "$B/tests/gpu/drvapi" "$k" >"$out/drvapi-vgpu.txt" 2>&1
rc=$?
verdict "drvapi through vgpu" "[[ $rc -eq 0 ]]"
verdict "digests bit-identical" "diff <(grep ^digest '$out/drvapi-native.txt') \
	<(grep ^digest '$out/drvapi-vgpu.txt') >'$out/digest.diff'"

# the memory surface up to 1 GiB, native and through vgpu, bit for bit
"$B/tests/gpu/memops" --big >"$out/memops-native.txt" 2>&1
rc=$?
verdict "memops native" "[[ $rc -eq 0 ]]"
guest "$B/tests/gpu/memops" --big >"$out/memops-vgpu.txt" 2>&1
rc=$?
verdict "memops through vgpu" "[[ $rc -eq 0 ]]"
verdict "memops digests bit-identical" "diff \
	<(grep ^digest '$out/memops-native.txt') \
	<(grep ^digest '$out/memops-vgpu.txt') >'$out/memops-digest.diff'"

# the bulk path up to 1 GiB (tests/gpu/bulk.c), compared the same way
"$B/tests/gpu/bulk" --max 1024M >"$out/bulk-native.txt" 2>&1
verdict "bulk native" "[[ $? -eq 0 ]]"
guest "$B/tests/gpu/bulk" --max 1024M >"$out/bulk-vgpu.txt" 2>&1
verdict "bulk through vgpu" "[[ $? -eq 0 ]]"
verdict "bulk digests bit-identical" "diff \
	<(grep ^digest '$out/bulk-native.txt') \
	<(grep ^digest '$out/bulk-vgpu.txt') >'$out/bulk-digest.diff'"

# pinned memory at its device address (tests/gpu/pinned_uva.c): kernels
# dereference cuMemHostAlloc pointers, compared the same way
"$B/tests/gpu/pinned_uva" "$k" >"$out/pinned_uva-native.txt" 2>&1
verdict "pinned_uva native" "[[ $? -eq 0 ]]"
guest "$B/tests/gpu/pinned_uva" "$k" >"$out/pinned_uva-vgpu.txt" 2>&1
verdict "pinned_uva through vgpu" "[[ $? -eq 0 ]]"
verdict "pinned_uva digests bit-identical" "diff \
	<(grep ^digest '$out/pinned_uva-native.txt') \
	<(grep ^digest '$out/pinned_uva-vgpu.txt') >/dev/null"

# stream capture and graphs (tests/gpu/graphs.c), compared the same way
"$B/tests/gpu/graphs" "$k" >"$out/graphs-native.txt" 2>&1
rc=$?
verdict "graphs native" "[[ $rc -eq 0 ]]"
guest "$B/tests/gpu/graphs" "$k" >"$out/graphs-vgpu.txt" 2>&1
rc=$?
verdict "graphs through vgpu" "[[ $rc -eq 0 ]]"
verdict "graphs digests bit-identical" "diff \
	<(grep ^digest '$out/graphs-native.txt') \
	<(grep ^digest '$out/graphs-vgpu.txt') >'$out/graphs-digest.diff'"

# tests/gpu/vmm: VMM (and later pools, IPC), same comparison as drvapi
"$B/tests/gpu/vmm" "$k" >"$out/vmm-native.txt" 2>&1
rc=$?
verdict "vmm native" "[[ $rc -eq 0 ]]"
guest "$B/tests/gpu/vmm" "$k" >"$out/vmm-vgpu.txt" 2>&1
rc=$?
verdict "vmm through vgpu" "[[ $rc -eq 0 ]]"
verdict "vmm digests bit-identical" "diff <(grep ^digest '$out/vmm-native.txt') \
	<(grep ^digest '$out/vmm-vgpu.txt') >'$out/vmm-digest.diff'"

# libraries and kernels, export tables, device address windows (lib_va),
# NVIDIA's runtime static and shared
# (tests/gpu/lib*.c, lib_cudart.cu), natively and through vgpu; the
# runtime programs' digests must be bit-identical
cudart_lib=$B/cudart-lib64
for mode in native vgpu; do
	run=(env LD_LIBRARY_PATH=$cudart_lib)
	[[ $mode == vgpu ]] && run=(env VGPU_REGION=$region \
		LD_LIBRARY_PATH=$B/guest/lib:$cudart_lib)
	"${run[@]}" "$B/tests/gpu/lib" "$B/tests/gpu/kernels_multi.fatbin" \
		>"$out/lib-$mode.txt" 2>&1
	verdict "lib $mode" "[[ $? -eq 0 ]]"
	"${run[@]}" "$B/tests/gpu/lib_export" "$B/tests/gpu/kernels.fatbin" \
		>"$out/lib_export-$mode.txt" 2>&1
	verdict "lib_export $mode" "[[ $? -eq 0 ]]"
	"${run[@]}" "$B/tests/gpu/lib_va" >"$out/lib_va-$mode.txt" 2>&1
	verdict "lib_va $mode" "[[ $? -eq 0 ]]"
	for rt in static shared rdc; do
		"${run[@]}" "$B/tests/gpu/lib_cudart_$rt" \
			"$B/tests/gpu/kernels_multi.fatbin" \
			>"$out/cudart_$rt-$mode.txt" 2>&1
		verdict "cudart $rt $mode" "[[ $? -eq 0 ]]"
	done
done
for rt in static shared rdc; do
	verdict "cudart $rt digests bit-identical" "diff \
		<(grep ^digest '$out/cudart_$rt-native.txt') \
		<(grep ^digest '$out/cudart_$rt-vgpu.txt') >/dev/null"
done

# tests/gpu/streams: streams, callbacks, memory operations, launches
"$B/tests/gpu/streams" "$k" >"$out/streams-native.txt" 2>&1
rc=$?
verdict "streams native" "[[ $rc -eq 0 ]]"
guest "$B/tests/gpu/streams" "$k" >"$out/streams-vgpu.txt" 2>&1
rc=$?
verdict "streams through vgpu" "[[ $rc -eq 0 ]]"
verdict "streams digests bit-identical" "diff \
	<(grep ^digest '$out/streams-native.txt') \
	<(grep ^digest '$out/streams-vgpu.txt') >'$out/streams-digest.diff'"
# NULL answers the real driver does not check: vgpu only
guest "$B/tests/gpu/streams" "$k" --vgpu-hostile >"$out/streams-hostile.txt" 2>&1
rc=$?
verdict "streams NULL probes through vgpu" "[[ $rc -eq 0 ]]"

# NVIDIA's cuBLAS/cuBLASLt and cuDNN over vgpu, digests compared, and
# bench/cublas (tests/gpu/cublas_run.sh, its own daemon)
OUT=$out bash tests/gpu/cublas_run.sh "$B" >"$out/cublas-run.txt" 2>&1
verdict "cublas, cudnn, SM layout (cublas_run)" "[[ $? -eq 0 ]]"
# TOOLS_TLS entry 2 (the current context cuBLASLt asks for), both ways
for mode in native vgpu; do
	run=()
	[[ $mode == vgpu ]] && run=(guest)
	"${run[@]}" "$B/tests/gpu/tools_tls" >"$out/tools_tls-$mode.txt" 2>&1
	verdict "tools_tls $mode" "[[ $? -eq 0 ]]"
done
# non-primary contexts (tests/gpu/contexts.c); stale handles: vgpu only
"$B/tests/gpu/contexts" "$k" >"$out/contexts-native.txt" 2>&1
verdict "contexts native" "[[ $? -eq 0 ]]"
guest "$B/tests/gpu/contexts" "$k" --vgpu >"$out/contexts-vgpu.txt" 2>&1
verdict "contexts through vgpu" "[[ $? -eq 0 ]]"
verdict "contexts digests bit-identical" "diff \
	<(grep ^digest '$out/contexts-native.txt') \
	<(grep ^digest '$out/contexts-vgpu.txt') >/dev/null"

# PyTorch, unmodified, natively and through vgpu (tests/gpu/torch/run.sh:
# its own daemon; matmul, cuDNN, SDPA, training, threads, graphs, Triton,
# torch.compile; results compared), and bench/torch.sh
if python3 -c 'import torch' 2>/dev/null; then
	OUT=$out bash "$(dirname "$0")/torch/run.sh" "$B" >"$out/torch.txt" 2>&1
	verdict "pytorch native and through vgpu" "[[ $? -eq 0 ]]"
	# matmul, training step, decode loop, start-up: native and vgpu
	bash "$(dirname "$0")/../../bench/torch.sh" "$B" \
		>"$out/bench-torch.jsonl" 2>"$out/bench-torch.txt"
	verdict "bench/torch.sh" "[[ $? -eq 0 ]]"
else
	note "pytorch native and through vgpu" "skipped (no PyTorch)"
fi

guest "$B/tests/gpu/fault" "$k" >"$out/fault.txt" 2>&1 &
f=$!
guest "$B/tests/gpu/drvapi" "$k" >"$out/drvapi-beside-fault.txt" 2>&1
rc=$?
wait $f
frc=$?
verdict "faulting guest sees ILLEGAL_ADDRESS" "[[ $frc -eq 0 ]]"
verdict "neighbour of the fault unharmed" "[[ $rc -eq 0 ]]"

guest "$B/tests/gpu/nvml" >"$out/nvml.txt" 2>&1
rc=$?
verdict "nvml beside the driver API" "[[ $rc -eq 0 ]]"
VGPU_LOG=debug guest "$B/tests/gpu/nvml_smi" >"$out/nvml_smi.txt" 2>&1
rc=$?
verdict "nvidia-smi's NVML calls (nvml_smi)" "[[ $rc -eq 0 ]]"
guest "$B/tests/gpu/discovery" >"$out/discovery.txt" 2>&1
rc=$?
verdict "Ollama/PyTorch discovery" "[[ $rc -eq 0 ]]"
uuid=$(grep -o 'GPU-[0-9a-f-]*' "$out/discovery.txt" | head -1)
smi() { # ARGS WANT: nvidia-smi through vgpu exits 0 and shows WANT
	local f=$out/nvidia-smi${1:-default}.txt
	VGPU_LOG=debug guest nvidia-smi $1 >"$f" 2>&1 # debug: refused calls named
	local rc=$?
	verdict "nvidia-smi ${1:-(default)} through vgpu" \
		"[[ $rc -eq 0 && -n '$2' ]] && grep -qi -- '$2' '$f'"
}
smi -L "${uuid#GPU-}"
smi "" "00000000:01:00.0" # the default table shows the bus id, not the UUID
smi -q "${uuid#GPU-}"
"$B/bench/cuda_calls" "$k" native >"$out/bench-cuda.jsonl" 2>&1
guest "$B/bench/cuda_calls" "$k" vgpu >>"$out/bench-cuda.jsonl" 2>&1
"$B/bench/ring" --quick >"$out/bench-ring.jsonl" 2>&1
kill $daemon; wait $daemon; trap - EXIT; rm -rf "$cfg" "$region"
# the bulk path's bandwidth, native and vgpu in one run, 4 KiB to 4 GiB,
# both on 4 CPUs, plus registration and a 4 GiB model upload (docs/bulk.md)
BENCH_MODEL_MIB=4096 bench/bandwidth.sh "$B" 4G \
	>"$out/bench-bandwidth.jsonl" 2>"$out/bench-bandwidth.txt"
verdict "bench/bandwidth ran" "[[ $? -eq 0 ]]"
# the same with the region on huge pages (up to 1 GiB copies: a 4 GiB
# region), where this machine lets us reserve 2 MiB pages; put back after
hp=/proc/sys/vm/nr_hugepages
if [[ -w $hp ]] && hpdir=$(mktemp -d) &&
	mount -t hugetlbfs -o pagesize=2M none "$hpdir" 2>/dev/null; then
	hp_old=$(cat $hp)
	echo $((hp_old + 2816)) >$hp # region 2048 + files 640
	BENCH_HUGETLBFS=$hpdir bench/bandwidth.sh "$B" 1G \
		>"$out/bench-bandwidth-huge.jsonl" 2>"$out/bench-bandwidth-huge.txt"
	verdict "bench/bandwidth on huge pages ran" "[[ $? -eq 0 ]]"
	umount "$hpdir"
	echo "$hp_old" >$hp
	rmdir "$hpdir"
fi

# the scheduler: VM shares from the kernels' %globaltimer stamps, each
# case with the scheduler off and on (bench/fairness.sh, docs/scheduler.md)
OUT=$out/fairness bench/fairness.sh "$B" >"$out/bench-fairness.jsonl" \
	2>"$out/bench-fairness.txt"
verdict "bench/fairness ran" "[[ $? -eq 0 ]]"

VGPU_BACKEND=cuda VGPU_DRIVER=$real tests/integration/run.sh "$B" \
	>"$out/integration.txt" 2>&1
rc=$?
verdict "integration suite (cuda backend)" "[[ $rc -eq 0 ]]"

echo
echo "== bench/cuda_calls (us per call) =="
python3 - "$out/bench-cuda.jsonl" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if "us_per_call" in j:
        rows.setdefault(j["metric"], {})[j["mode"]] = j["us_per_call"]
    elif j["mode"] == "vgpu":  # a count, not a time
        print("%-28s vgpu %s" % (j["metric"], j["value"]))
for k, v in rows.items():
    n, g = v.get("native"), v.get("vgpu")
    ratio = "%.2fx" % (g / n) if n and g else "-"
    print("%-28s native %10s  vgpu %10s  %s" % (k, n, g, ratio))
PY
echo
echo "== bench/bandwidth (GB/s) =="
cat "$out/bench-bandwidth.txt"
[[ -f $out/bench-bandwidth-huge.txt ]] &&
	{ echo "== on huge pages =="; cat "$out/bench-bandwidth-huge.txt"; }
# several GPUs (docs/multigpu.md): only where the machine has two or more
if (($(nvidia-smi -L 2>/dev/null | grep -c '^GPU') >= 2)); then
	OUT=$out/multigpu bash tests/gpu/multigpu.sh "$B" >"$out/multigpu.txt" 2>&1
	rc=$?
	verdict "multigpu.sh (two GPUs)" "[[ $rc -eq 0 ]]"
fi
# every guest process above had its pinned memory at its device address
# (the address is negotiated free in both processes: docs/memory.md)
verdict "pinned memory never fell back" "! grep -rl 'pinned memory is not \
at its device address' '$out' >'$out/pinned-fallbacks.txt'"
echo
echo "== bench/fairness (shares from %globaltimer) =="
cat "$out/bench-fairness.txt"
echo
cat "$out/table.txt"
echo "gpu: $passed passed, $failed failed"
((failed == 0))
