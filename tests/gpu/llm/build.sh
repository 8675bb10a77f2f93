#!/usr/bin/env bash
# tests/gpu/llm/build.sh [OUTDIR] - llama.cpp's CUDA backend, built the way
# Ollama's cuda_v13 runner is: from the llama.cpp that PyPI's
# llama-cpp-python sdist vendors, PTX only (CMAKE_CUDA_ARCHITECTURES=
# 90-virtual, so the driver must JIT it), backends as loadable modules
# (GGML_BACKEND_DL: llama-server dlopens libggml-cuda.so beside it, as
# Ollama does), cudart and cuBLAS linked shared (Ollama ships
# libcudart.so.13 and libcublas*.so.13 beside libggml-cuda.so), the driver
# by soname libcuda.so.1 (so vgpu's guest libcuda can stand in for it).
#
# Output: OUTDIR/bin/{llama-server,llama-cli,llama-completion,lib*.so},
# OUTDIR/bin/cuda_v13/libggml-cuda.so
# (OUTDIR defaults to build/llm; it is gitignored). Idempotent: a second
# run only rebuilds what changed. Runs on the build machine, not the GPU
# machine (which has no network); the binaries need glibc >= this one's.
# Environment: JOBS (default 2), LLM_FA (ON), CUDA_HOME (default
# /usr/local/cuda), LLAMA_CPP_PYTHON (0.3.36) and GGUF_VERSION (0.19.0):
# pip downloads them into build/pypi; LLAMA_SDIST: a local sdist instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=$(realpath -m "${1:-$root/build/llm}")
cuda=${CUDA_HOME:-/usr/local/cuda}
jobs=${JOBS:-2}
# LLM_FA=OFF (GGML_CUDA_NO_FA) compiles the FlashAttention files without
# their kernels, much of the backend's device code; llama.cpp then takes
# its plain attention path. Ollama's build has them: ON is the default,
# OFF is for a slow build machine.
fa=${LLM_FA:-ON}
pypi=$root/build/pypi

# Pinned: run.sh reads llama-server's output formats, which move.
lcp=${LLAMA_CPP_PYTHON:-0.3.36}
gg=${GGUF_VERSION:-0.19.0}
mkdir -p "$pypi"
sdist=${LLAMA_SDIST:-$pypi/llama_cpp_python-$lcp.tar.gz}
[[ -f $sdist ]] || python3 -m pip download --no-binary :all: --no-deps \
	-d "$pypi" "llama-cpp-python==$lcp"
# gen_model.py's writer (pure python: run.sh puts the wheel on PYTHONPATH)
[[ -f $pypi/gguf-$gg-py3-none-any.whl ]] ||
	python3 -m pip download --no-deps -d "$pypi" "gguf==$gg"
ver=$(basename "$sdist" .tar.gz)
src=$out/src/$ver/vendor/llama.cpp
if [[ ! -f $src/CMakeLists.txt ]]; then
	mkdir -p "$out/src"
	tar -xzf "$sdist" -C "$out/src"
fi
echo "build: $ver, llama.cpp at $src"

# Ollama's runner shape: shared ggml, dynamic backends, no NCCL (one GPU),
# no OpenSSL and no web UI (Ollama runs it with --no-webui; the build would
# otherwise download the UI's assets), generic x86-64 CPU code (the GPU
# machine's CPU is not this one; all layers go to the GPU anyway).
cmake -S "$src" -B "$out/cmake" -G Ninja \
	-DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" \
	-DCUDAToolkit_ROOT="$cuda" \
	-DCMAKE_CUDA_ARCHITECTURES=90-virtual \
	-DGGML_CUDA=ON -DGGML_CUDA_NCCL=OFF -DGGML_CUDA_FA="$fa" \
	-DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON \
	-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
	-DGGML_F16C=ON -DGGML_BMI2=ON \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF \
	-DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
	-DCMAKE_BUILD_RPATH_USE_ORIGIN=ON >"$out/cmake.log" 2>&1 ||
	{ tail -30 "$out/cmake.log"; exit 1; }
grep -E 'CUDA Toolkit|CMAKE_CUDA_ARCHITECTURES' "$out/cmake.log" || true

# ggml-cuda first: it is most of the time; the CPU backend is a module too.
ninja -C "$out/cmake" -j "$jobs" ggml-cuda ggml-cpu \
	llama-server llama-cli llama-completion
# Ollama's layout: the server and the CPU backend in one directory, the
# CUDA backend in a variant directory (lib/ollama/cuda_v13) that the
# runner names in GGML_BACKEND_PATH and LD_LIBRARY_PATH.
rm -rf "$out/bin"
mkdir -p "$out/bin/cuda_v13"
for f in "$out"/cmake/bin/llama-{server,cli,completion} \
	"$out"/cmake/bin/lib*.so*; do
	case $f in */libggml-cuda.so) cp -a "$f" "$out/bin/cuda_v13/" ;;
	*) cp -a "$f" "$out/bin/" ;; esac
done

# Record the linkage (docs/ollama.md cites it): cudart shared, libcuda by
# soname, no static driver.
cu=$out/bin/cuda_v13/libggml-cuda.so
{
	echo "sdist: $ver"
	echo "nvcc: $("$cuda/bin/nvcc" --version | tail -1)"
	echo "archs: 90-virtual (PTX only); FlashAttention kernels: $fa"
	echo "NEEDED of libggml-cuda.so:"
	readelf -d "$cu" | awk '/NEEDED/ {print "  " $NF}'
	if readelf -d "$cu" | grep -q 'NEEDED.*\[libcudart\.so'; then
		echo "cudart: shared ($(readelf -d "$cu" |
			grep -o 'libcudart\.so[.0-9]*'))"
	else
		echo "cudart: static"
	fi
	if [[ -x $cuda/bin/cuobjdump ]]; then
		echo "embedded images:"
		"$cuda/bin/cuobjdump" --list-ptx --list-elf "$cu" |
			grep -o 'sm_[0-9a-z]*\.[a-z]*' | sort | uniq -c | sed 's/^/  /'
	fi
} >"$out/linkage.txt"
cat "$out/linkage.txt"
readelf -d "$cu" | grep -q 'NEEDED.*\[libcuda\.so\.1\]' ||
	{ echo "FAIL: libggml-cuda.so does not need libcuda.so.1"; exit 1; }
echo "build: done, binaries in $out/bin"
