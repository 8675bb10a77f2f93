#!/usr/bin/env bash
# tests/gpu/torch/run.sh BUILD_DIR - PyTorch, unmodified, natively and over
# vgpu on a machine with an NVIDIA GPU and PyTorch (the lent H100's python3).
#
# Starts vgpud (cuda backend, the machine's real driver: daemon.sh), then
# runs tests/gpu/torch/check.py three times: twice natively, and as a vgpu
# guest (our libcuda.so.1 and libnvidia-ml.so.1 first in LD_LIBRARY_PATH,
# VGPU_REGION, VGPU_LOG=debug so every unimplemented call is named in the
# log). Every run must pass every check (skips must match), and
# tests/gpu/torch/compare.py compares the results: bit-identical where the
# two native runs are, else within the native-vs-native spread.
# Before that, tests/gpu/lib_export (the export tables, cuBLAS's entry 4
# against cuCtxGetId) natively and through vgpu. The vgpu run also leaves
# cuBLAS's and cuBLASLt's error logs (torch-cublas*-vgpu.log).
# Logs in ${OUT:-/tmp/vgpu-torch}; a table last; exit 0 only if all passed.
set -uo pipefail
B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/vgpu-torch}
mkdir -p "$out"
python3 -c 'import torch' 2>/dev/null || { echo "torch: no PyTorch"; exit 1; }
passed=0 failed=0
note() { printf '%-34s %s\n' "$1" "$2" | tee -a "$out/torch-table.txt"; }
verdict() { if eval "$2"; then passed=$((passed + 1)); note "$1" pass;
	    else failed=$((failed + 1)); note "$1" FAIL; fi; }

LOG=$out/torch-vgpud.log
source "$here/daemon.sh"

"$B/tests/gpu/lib_export" "$B/tests/gpu/kernels.fatbin" \
	>"$out/torch-lib_export-native.txt" 2>&1
verdict "lib_export native" "[[ $? -eq 0 ]]"
guest "$B/tests/gpu/lib_export" "$B/tests/gpu/kernels.fatbin" \
	>"$out/torch-lib_export-vgpu.txt" 2>&1
verdict "lib_export through vgpu" "[[ $? -eq 0 ]]"

# the call order between threads PyTorch relies on (its autograd thread)
"$B/tests/gpu/torch_order" "$B/tests/gpu/kernels.fatbin" \
	>"$out/torch-order-native.txt" 2>&1
verdict "torch_order native" "[[ $? -eq 0 ]]"
guest "$B/tests/gpu/torch_order" "$B/tests/gpu/kernels.fatbin" \
	>"$out/torch-order-vgpu.txt" 2>&1
verdict "torch_order through vgpu" "[[ $? -eq 0 ]]"

export PYTHONUNBUFFERED=1
# twice natively: where a result is not reproducible natively its spread
# is the tolerance for the vgpu run (compare.py)
for run in native native2; do
	mkdir -p "$out/torch-$run.d"
	TORCH_CHECK_SAVE=$out/torch-$run.d timeout "${TORCH_CHECK_TIMEOUT:-300}" python3 "$here/check.py" \
		>"$out/torch-$run.txt" 2>&1
	verdict "torch $run" "[[ $? -eq 0 ]]"
done
# cuBLAS and cuBLASLt say why a handle or a GEMM fails, in their own logs
mkdir -p "$out/torch-vgpu.d"
CUBLAS_LOGINFO_DBG=1 CUBLAS_LOGDEST_DBG=$out/torch-cublas-vgpu.log \
CUBLASLT_LOG_LEVEL=1 CUBLASLT_LOG_FILE=$out/torch-cublaslt-vgpu.log \
TORCH_CHECK_SAVE=$out/torch-vgpu.d \
	guest timeout "${TORCH_CHECK_TIMEOUT:-300}" python3 "$here/check.py" >"$out/torch-vgpu.txt" 2>&1
verdict "torch through vgpu" "[[ $? -eq 0 ]]"
python3 "$here/compare.py" "$out/torch-native.txt" "$out/torch-native2.txt" \
	"$out/torch-vgpu.txt" >"$out/torch-compare.txt"
verdict "torch vgpu equal to native" "[[ $? -eq 0 ]]"
cat "$out/torch-compare.txt"
paste <(grep -E '^(info|time)' "$out/torch-native.txt") \
	<(grep -E '^(info|time)' "$out/torch-vgpu.txt")
grep -h "not implemented\|NOT_SUPPORTED\|refus" "$out/torch-vgpu.txt" | sort | uniq -c | head -40
cat "$out/torch-table.txt"
echo "torch: $passed passed, $failed failed"
((failed == 0))
