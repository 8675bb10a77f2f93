#!/usr/bin/env bash
# tests/gpu/torch/run.sh BUILD_DIR - PyTorch, unmodified, natively and over
# vgpu on a machine with an NVIDIA GPU and PyTorch (the lent H100's python3).
#
# Starts vgpud (cuda backend, the machine's real driver), then runs
# tests/gpu/torch/check.py twice: natively, and as a vgpu guest (our
# libcuda.so.1 and libnvidia-ml.so.1 first in LD_LIBRARY_PATH, VGPU_REGION,
# VGPU_LOG=debug so every unimplemented call is named in the log). Both runs
# must pass every check, and their digest lines must be bit-identical.
# Before that, tests/gpu/lib_export (the export tables, cuBLAS's entry 4
# against cuCtxGetId) natively and through vgpu. The vgpu run also leaves
# cuBLAS's and cuBLASLt's error logs (torch-cublas*-vgpu.log).
# Logs in ${OUT:-/tmp/vgpu-torch}; a table last; exit 0 only if all passed.
set -uo pipefail
B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/vgpu-torch}
mkdir -p "$out"
real=$(ldconfig -p | awk '/libcuda\.so\.1 / {print $NF; exit}')
[[ -n $real ]] || { echo "torch: no libcuda.so.1 on this machine"; exit 1; }
python3 -c 'import torch' 2>/dev/null || { echo "torch: no PyTorch"; exit 1; }
passed=0 failed=0
note() { printf '%-34s %s\n' "$1" "$2" | tee -a "$out/torch-table.txt"; }
verdict() { if eval "$2"; then passed=$((passed + 1)); note "$1" pass;
	    else failed=$((failed + 1)); note "$1" FAIL; fi; }

cfg=$(mktemp -d)
region=/dev/shm/vgpu-torch-$$
mkdir -p "$cfg/vms.d"
printf 'backend = cuda\ndriver = %s\ncontrol_socket = %s/ctl.sock\n' \
	"$real" "$cfg" >"$cfg/vgpud.conf"
printf 'region = %s\nregion_size = 1G\nchannels = 8\npinned_pool = 512M\n' \
	"$region" >"$cfg/vms.d/gpu.conf"
"$B/vgpud" -c "$cfg" 2>"$out/torch-vgpud.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon; rm -rf "$cfg" "$region"' EXIT
for _ in $(seq 100); do [[ -S $cfg/ctl.sock ]] && break; sleep 0.05; done
guest() { VGPU_REGION=$region VGPU_LOG=${VGPU_LOG:-debug} \
	LD_LIBRARY_PATH=$B/guest/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$@"; }

"$B/tests/gpu/lib_export" "$B/tests/gpu/kernels.fatbin" \
	>"$out/torch-lib_export-native.txt" 2>&1
verdict "lib_export native" "[[ $? -eq 0 ]]"
guest "$B/tests/gpu/lib_export" "$B/tests/gpu/kernels.fatbin" \
	>"$out/torch-lib_export-vgpu.txt" 2>&1
verdict "lib_export through vgpu" "[[ $? -eq 0 ]]"

export PYTHONUNBUFFERED=1
timeout 300 python3 "$here/check.py" >"$out/torch-native.txt" 2>&1
verdict "torch native" "[[ $? -eq 0 ]]"
# cuBLAS and cuBLASLt say why a handle or a GEMM fails, in their own logs
CUBLAS_LOGINFO_DBG=1 CUBLAS_LOGDEST_DBG=$out/torch-cublas-vgpu.log \
CUBLASLT_LOG_LEVEL=1 CUBLASLT_LOG_FILE=$out/torch-cublaslt-vgpu.log \
	guest timeout 300 python3 "$here/check.py" >"$out/torch-vgpu.txt" 2>&1
verdict "torch through vgpu" "[[ $? -eq 0 ]]"
verdict "torch digests bit-identical" "diff \
	<(grep ^digest '$out/torch-native.txt') \
	<(grep ^digest '$out/torch-vgpu.txt') >'$out/torch-digest.diff'"
paste <(grep -E '^(check|time)' "$out/torch-native.txt") \
	<(grep -E '^(check|time)' "$out/torch-vgpu.txt")
grep -h "not implemented\|NOT_SUPPORTED\|refus" "$out/torch-vgpu.txt" | sort | uniq -c | head -40
cat "$out/torch-table.txt"
echo "torch: $passed passed, $failed failed"
((failed == 0))
