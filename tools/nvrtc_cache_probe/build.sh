#!/bin/sh
# tools/nvrtc_cache_probe/build.sh OUTDIR - builds the shim (OUTDIR/libcuda.so.1)
# and nvrtc_probe; see docs/torch.md for how they are run.
set -e
d=$(dirname "$0"); o=${1:-build/nvrtc_cache_probe}; cu=${CUDA_HOME:-/usr/local/cuda}
mkdir -p "$o"
${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -O2 -shared -fPIC -o "$o/libcuda.so.1" "$d/cache_shim.c" -ldl
${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -O2 -I"$cu/include" -o "$o/nvrtc_probe" "$d/nvrtc_probe.c" \
	-L"$cu/lib64" -lnvrtc -Wl,-rpath,"$cu/lib64"
