#!/usr/bin/env bash
# tests/gpu/cublas_run.sh BUILD_DIR - NVIDIA's math libraries over vgpu, on
# a machine with an NVIDIA GPU: tests/gpu/cublas_layout (export table
# 1734dc26's SM layout), tests/gpu/cublas (cuBLAS/cuBLASLt) and
# tests/gpu/cudnn (cuDNN convolutions, where libcudnn.so.9 is found in
# the toolkit or PyTorch's nvidia-cudnn wheel) natively and as guests of a
# vgpud on the cuda backend: every case must pass both ways and every
# digest line must be bit-identical. Then bench/cublas both ways (JSON
# lines, cuBLASLt 4096^3 bf16/fp32) and the vgpu/native ratios. Writes
# logs into ${OUT:-/tmp/vgpu-gpu}/cublas-*; exit status 0 when all passed.
# tests/gpu/run.sh runs it.
set -uo pipefail
B=${1:-build}
out=${OUT:-/tmp/vgpu-gpu}
mkdir -p "$out"
real=$(ldconfig -p | awk '/libcuda\.so\.1 / {print $NF; exit}')
[[ -n $real ]] || { echo "cublas_run: no libcuda.so.1 on this machine"; exit 1; }
passed=0 failed=0
verdict() { if eval "$2"; then passed=$((passed + 1)); r=pass;
	    else failed=$((failed + 1)); r=FAIL; fi
	    printf '%-34s %s\n' "$1" "$r"; }

cfg=$(mktemp -d)
region=/dev/shm/vgpu-cublas-$$
mkdir -p "$cfg/vms.d"
printf 'backend = cuda\ndriver = %s\ncontrol_socket = %s/ctl.sock\n' \
	"$real" "$cfg" >"$cfg/vgpud.conf"
printf 'region = %s\nregion_size = 512M\nchannels = 4\npinned_pool = 64M\n' \
	"$region" >"$cfg/vms.d/gpu.conf"
"$B/vgpud" -c "$cfg" 2>"$out/cublas-vgpud.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon; rm -rf "$cfg" "$region"' EXIT
for _ in $(seq 100); do [[ -S $cfg/ctl.sock ]] && break; sleep 0.05; done

# cuDNN: the toolkit's, else the one PyTorch's wheel installed
cudnn_dir=
for d in "${CUDA_HOME:-/usr/local/cuda}/lib64" $(python3 -c \
	'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
	f=$(ls "$d"/libcudnn.so.9 "$d"/nvidia/*/lib/libcudnn.so.9 2>/dev/null | head -1)
	[[ -n $f ]] && { cudnn_dir=$(dirname "$f"); break; }
done

both() { # NAME PROGRAM...: natively, through vgpu, digests compared
	local name=$1 n v
	shift
	n=$out/cublas-$name-native.txt v=$out/cublas-$name-vgpu.txt
	LD_LIBRARY_PATH=$cudnn_dir "$@" >"$n" 2>&1
	verdict "$name native" "[[ $? -eq 0 ]]"
	VGPU_LOG=debug VGPU_REGION=$region \
		LD_LIBRARY_PATH=$B/guest/lib${cudnn_dir:+:$cudnn_dir} "$@" >"$v" 2>&1
	verdict "$name through vgpu" "[[ $? -eq 0 ]]"
	verdict "$name digests bit-identical" "grep -q ^digest '$n' && diff \
		<(grep ^digest '$n') <(grep ^digest '$v') >/dev/null"
}
both cublas_layout "$B/tests/gpu/cublas_layout"
both cublas "$B/tests/gpu/cublas"
if [[ -n $cudnn_dir && -x $B/tests/gpu/cudnn ]]; then
	both cudnn "$B/tests/gpu/cudnn"
else
	echo "cudnn                              skipped (no libcudnn.so.9 or no build)"
fi

bench=$out/cublas-bench.jsonl
"$B/bench/cublas" native >"$bench" 2>&1
VGPU_REGION=$region LD_LIBRARY_PATH=$B/guest/lib "$B/bench/cublas" vgpu \
	>>"$bench" 2>&1
cat "$bench"
python3 - "$bench" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    rows.setdefault(j["metric"], {})[j["mode"]] = j.get("tflops")
for k, v in rows.items():
    n, g = v.get("native"), v.get("vgpu")
    r = "%.2fx" % (g / n) if n and g else "-"
    print(json.dumps({"bench": "cublas_ratio", "metric": k, "native_tflops": n,
                      "vgpu_tflops": g, "ratio": r}))
PY
echo "cublas_run: $passed passed, $failed failed"
((failed == 0))
