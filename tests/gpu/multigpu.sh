#!/usr/bin/env bash
# tests/gpu/multigpu.sh BUILD_DIR - several GPUs, on a machine with two or
# more NVIDIA GPUs (the lent nvidia-h100-x2: docs/gpu-testing.md).
#
# 1. tests/gpu/multigpu natively, then as a vgpu guest of a VM with
#    gpus = 0,1 (vgpud's cuda backend): every check must pass and every
#    digest line must be bit-identical between the two runs; also with
#    CUDA_VISIBLE_DEVICES=1,0 through vgpu.
# 2. two VMs with gpus = any (vgpud places them on GPUs 0 and 1, checked in
#    vgpuctl status) each running multigpu --throughput (a fill kernel
#    over 1 GiB), alone and then both at once: one JSON line per VM with
#    its GB/s alone and concurrent.
# Writes logs and JSON into ${OUT:-/tmp/vgpu-multigpu}; prints a table.
set -uo pipefail
B=${1:-build}
out=${OUT:-/tmp/vgpu-multigpu}
secs=${SECS:-4}
mib=${MIB:-1024} # the throughput loop's buffer
mkdir -p "$out"
real=$(ldconfig -p | awk '/libcuda\.so\.1 / {print $NF; exit}')
[[ -n $real ]] || { echo "multigpu: no libcuda.so.1 on this machine"; exit 1; }
nvidia-smi -L | tee "$out/gpus.txt" || true
k=$B/tests/gpu/kernels.cubin
passed=0 failed=0
note() { printf '%-40s %s\n' "$1" "$2" | tee -a "$out/table.txt"; }
verdict() { if eval "$2"; then passed=$((passed + 1)); note "$1" pass;
	    else failed=$((failed + 1)); note "$1" FAIL; fi; }

cfg=$(mktemp -d)
r=/dev/shm/vgpu-mgpu-$$
mkdir -p "$cfg/vms.d"
printf 'backend = cuda\ndriver = %s\ncontrol_socket = %s/ctl.sock\ngpus = 0,1\n' \
	"$real" "$cfg" >"$cfg/vgpud.conf"
printf 'region = %s-mg\nregion_size = 256M\nchannels = 4\ngpus = 0,1\n' "$r" \
	>"$cfg/vms.d/mg.conf"
for v in va vb; do
	printf 'region = %s-%s\nregion_size = 64M\nchannels = 2\ngpus = any\n' \
		"$r" "$v" >"$cfg/vms.d/$v.conf"
done
"$B/vgpud" -c "$cfg" 2>"$out/vgpud.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon; rm -rf "$cfg" "$r"-*' EXIT
for _ in $(seq 200); do [[ -S $cfg/ctl.sock ]] && break; sleep 0.05; done
guest() { # VM PROGRAM...
	local vm=$1
	shift
	VGPU_REGION=$r-$vm LD_LIBRARY_PATH=$B/guest/lib "$@"
}

# 1. two GPUs in one guest, bit for bit against native
"$B/tests/gpu/multigpu" "$k" >"$out/multigpu-native.txt" 2>&1
rc=$?
verdict "multigpu native" "[[ $rc -eq 0 ]]"
guest mg "$B/tests/gpu/multigpu" "$k" >"$out/multigpu-vgpu.txt" 2>&1
rc=$?
verdict "multigpu through vgpu (gpus = 0,1)" "[[ $rc -eq 0 ]]"
verdict "multigpu digests bit-identical" "diff \
	<(grep ^digest '$out/multigpu-native.txt') \
	<(grep ^digest '$out/multigpu-vgpu.txt') >'$out/digest.diff'"
verdict "multigpu peer answers as native" "diff \
	<(grep ^peer '$out/multigpu-native.txt') \
	<(grep ^peer '$out/multigpu-vgpu.txt') >'$out/peer.diff'"
CUDA_VISIBLE_DEVICES=1,0 guest mg "$B/tests/gpu/multigpu" "$k" \
	>"$out/multigpu-vgpu-visible.txt" 2>&1
rc=$?
verdict "multigpu CUDA_VISIBLE_DEVICES=1,0" "[[ $rc -eq 0 ]]"

# 2. two VMs on two GPUs: alone, then at once
"$B/vgpuctl" -s "$cfg/ctl.sock" status >"$out/status.txt" 2>&1
verdict "gpus = any: va on GPU 0, vb on GPU 1" \
	"grep -q 'vm va  gpus 0 (any)' '$out/status.txt' && \
	 grep -q 'vm vb  gpus 1 (any)' '$out/status.txt'"
tp() { guest "$1" "$B/tests/gpu/multigpu" --throughput "$secs" "$k" "$mib" |
	awk '/^throughput / {print $2}'; }
alone_a=$(tp va)
alone_b=$(tp vb)
tp va >"$out/ca.txt" &
pa=$!
tp vb >"$out/cb.txt" &
pb=$!
wait $pa $pb
conc_a=$(cat "$out/ca.txt")
conc_b=$(cat "$out/cb.txt")
for v in a b; do
	al=alone_$v co=conc_$v
	printf '{"test":"multigpu_two_vms","vm":"v%s","gpu":%d,"fill_gbps_alone":%s,"fill_gbps_concurrent":%s}\n' \
		"$v" "$([[ $v == a ]] && echo 0 || echo 1)" "${!al:-null}" "${!co:-null}" |
		tee -a "$out/multigpu.json"
done
verdict "two VMs ran alone and at once" \
	"[[ -n '$alone_a' && -n '$alone_b' && -n '$conc_a' && -n '$conc_b' ]]"
echo "multigpu.sh: $passed passed, $failed failed" | tee -a "$out/table.txt"
((failed == 0))
