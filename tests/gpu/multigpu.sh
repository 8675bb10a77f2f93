#!/usr/bin/env bash
# tests/gpu/multigpu.sh BUILD_DIR - several GPUs, on a machine with two or
# more NVIDIA GPUs (the lent nvidia-h100-x2: docs/gpu-testing.md).
#
# 1. tests/gpu/multigpu natively, then as a vgpu guest of a VM with
#    gpus = 0,1 (vgpud's cuda backend): every check must pass and every
#    digest line must be bit-identical between the two runs; also with
#    CUDA_VISIBLE_DEVICES=1,0 through vgpu.
#    Then the CUDA runtime on device 1 (tests/gpu/multigpu_cudart.cu, static
#    and shared cudart: library kernels and globals on each GPU), natively
#    and through vgpu, digests bit-identical.
# 2. two VMs with gpus = any (vgpud places them on GPUs 0 and 1, checked in
#    vgpuctl status) each running multigpu --throughput (a fill kernel
#    over 1 GiB), alone and then both at once: one JSON line per VM with
#    its GB/s alone and concurrent. MGPU_SKIP_VMS=1 skips this part.
# 3. PyTorch on two GPUs (tests/gpu/torch/multigpu.py, where python3 has
#    torch): natively and through vgpu, digests bit-identical; NCCL's
#    all_reduce between two processes must pass natively and through vgpu
#    (NCCL_TOPO_FILE with the guest's bus ids, docs/multigpu.md), sockets
#    through host memory and then peer to peer (nccl-vgpu-p2p{0,1}.txt).
# Writes logs and JSON into ${OUT:-/tmp/vgpu-multigpu}; prints a table.
set -uo pipefail
B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
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
printf 'region = %s-mg\nregion_size = 1G\nchannels = 8\npinned_pool = 512M\ngpus = 0,1\n' "$r" \
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
	VGPU_REGION=$r-$vm LD_LIBRARY_PATH=$B/guest/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$@"
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
# the CUDA runtime on device 1: its library kernels and globals per GPU
for rt in static shared; do
	bin=$B/tests/gpu/multigpu_cudart_$rt
	[[ -x $bin ]] || continue
	lp=$B/cudart-lib64
	LD_LIBRARY_PATH=$lp "$bin" >"$out/cudart-$rt-native.txt" 2>&1
	rc=$?
	verdict "cudart $rt on device 1 native" "[[ $rc -eq 0 ]]"
	LD_LIBRARY_PATH=$B/guest/lib:$lp VGPU_REGION=$r-mg "$bin" \
		>"$out/cudart-$rt-vgpu.txt" 2>&1
	rc=$?
	verdict "cudart $rt on device 1 through vgpu" "[[ $rc -eq 0 ]]"
	verdict "cudart $rt digests bit-identical" "diff \
		<(grep -E '^(digest|counter)' '$out/cudart-$rt-native.txt') \
		<(grep -E '^(digest|counter)' '$out/cudart-$rt-vgpu.txt') \
		>'$out/cudart-$rt.diff'"
done

# 2. two VMs on two GPUs: alone, then at once
if [[ -z ${MGPU_SKIP_VMS:-} ]]; then
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
fi

# 3. PyTorch on two GPUs, natively and through vgpu
py=$here/torch/multigpu.py
if python3 -c 'import torch' 2>/dev/null; then
	export PYTHONUNBUFFERED=1 MGPU_NCCL_TIMEOUT=${MGPU_NCCL_TIMEOUT:-45}
	timeout 300 python3 "$py" --nccl >"$out/torch-native.txt" 2>&1
	rc=$?
	verdict "torch two GPUs native" "[[ $rc -eq 0 ]]"
	verdict "torch NCCL all_reduce native" \
		"grep -qx 'nccl pass' '$out/torch-native.txt'"
	# NCCL in a VM: the topology from a file (the guest's bus ids have no
	# sysfs entries), no shared memory or InfiniBand transports
	topo=$out/nccl-topo.xml
	python3 - "$topo" <<'PYEOF'
import os, sys
cpus = sorted(os.sched_getaffinity(0))
mask = 0
for c in cpus:
    mask |= 1 << c
words = []
while True:
    words.append(f"{mask & 0xffffffff:08x}")
    mask >>= 32
    if not mask:
        break
aff = ",".join(reversed(words))
gpu = ('    <pci busid="0000:0%d:00.0" class="0x030200" vendor="0x10de" '
       'device="0x2330" subsystem_vendor="0x10de" subsystem_device="0x16c1" '
       'link_speed="32.0 GT/s PCIe" link_width="16"/>\n')
with open(sys.argv[1], "w") as f:
    f.write('<system version="1">\n')
    f.write(f'  <cpu numaid="0" affinity="{aff}" arch="x86_64" '
            'vendor="GenuineIntel" familyid="6" modelid="143">\n')
    for i in (1, 2):
        f.write(gpu % i)
    f.write("  </cpu>\n</system>\n")
PYEOF
	guest mg env VGPU_LOG=${VGPU_LOG:-debug} timeout 300 python3 "$py" \
		>"$out/torch-vgpu.txt" 2>&1
	rc=$?
	verdict "torch two GPUs through vgpu" "[[ $rc -eq 0 ]]"
	verdict "torch digests bit-identical" "diff \
		<(grep ^digest '$out/torch-native.txt') \
		<(grep ^digest '$out/torch-vgpu.txt') >'$out/torch.diff'"
	for p2p in 1 0; do # sockets through host memory, then peer-to-peer
		guest mg env VGPU_LOG=${VGPU_LOG:-debug} NCCL_DEBUG=INFO \
			NCCL_TOPO_FILE="$topo" NCCL_SHM_DISABLE=1 \
			NCCL_IB_DISABLE=1 NCCL_CUMEM_ENABLE=0 NCCL_NVLS_ENABLE=0 \
			NCCL_P2P_DISABLE=$p2p timeout 200 python3 "$py" --nccl \
			>"$out/nccl-vgpu-p2p$((1 - p2p)).txt" 2>&1
		verdict "NCCL all_reduce through vgpu, P2P $((1 - p2p))" \
			"grep -qx 'nccl pass' '$out/nccl-vgpu-p2p$((1 - p2p)).txt'"
	done
fi
echo "multigpu.sh: $passed passed, $failed failed" | tee -a "$out/table.txt"
((failed == 0))
