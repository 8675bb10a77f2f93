#!/usr/bin/env bash
# packaging/deps.sh - install vgpu's Debian build and test dependencies.
#
# Usage: packaging/deps.sh        (as root, or with sudo available)
#
# Installs only what is missing, so a second run is quick. The CUDA toolkit
# headers (/usr/local/cuda/include, or $CUDA_HOME) are not a Debian package
# here and are checked, not installed.
set -euo pipefail

pkgs=(
	build-essential clang        # gcc and clang; clang for the fuzzer and TSan
	libclang-rt-14-dev           # clang's sanitizer and libFuzzer runtimes
	liburcu-dev libnuma-dev libjemalloc-dev
	libcriterion-dev             # unit and integration tests
	qemu-system-x86 cpio         # the real-VM test (make vmtest)
	busybox-static               # its guest userland
	python3-pip                  # fetches nvidia-ml-py (make integration)
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done

# make vmtest fetches a guest kernel with apt-get download: it needs lists
# that know the cloud kernel even when every package above is present.
need_update=0
apt-cache policy linux-image-cloud-amd64 2>/dev/null | grep -q 'Candidate: [0-9]' ||
	need_update=1

if ((${#missing[@]})) || ((need_update)); then
	sudo=""
	if ((EUID != 0)); then
		command -v sudo >/dev/null || {
			echo "deps: need root to install: ${missing[*]}" >&2
			exit 1
		}
		sudo=sudo
	fi
	$sudo apt-get update -qq
	if ((${#missing[@]})); then
		echo "deps: installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
			--no-install-recommends "${missing[@]}"
	fi
else
	echo "deps: all Debian packages present"
fi

cuda=${CUDA_HOME:-/usr/local/cuda}
if [[ ! -f $cuda/include/cuda.h ]]; then
	echo "deps: note: no CUDA headers at $cuda/include (set CUDA_HOME);" \
		"the ring and tests build without them" >&2
fi
