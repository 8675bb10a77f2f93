#!/usr/bin/env bash
# bench/bandwidth.sh BUILD [MAX] - bench/bandwidth natively (when this
# machine has an NVIDIA driver) and through vgpu, in one run: JSON lines on
# stdout, a native/vgpu table on stderr. MAX (default 256M; 4G on the GPU
# host) is the largest copy; the VM's region is sized so one guest process
# can pin MAX bytes (a power of two >= 4 x MAX, at least 1G, half of it
# pinned pool, 2 channels). Both sides run on BENCH_CPUS CPUs (default 4:
# a VM's vCPUs). vgpud's backend is cuda with a driver, else sim (then
# only the vgpu side runs, and its figures are the CPU's, not a GPU's).
# Environment: BENCH_MODEL_MIB=N adds the model upload (an N MiB file of
#   tensors through mmap, cold and warm page cache); BENCH_HUGETLBFS=DIR
#   adds registration figures for a file on that hugetlbfs mount and puts
#   the VM's region there (region_hugepages = yes; DIR needs the region's
#   4 x MAX plus 1.25 GiB for the registration files in free huge pages);
#   BENCH_REGION_DIR=DIR puts the region file in DIR instead of /dev/shm
#   (e.g. a tmpfs mounted huge=always: transparent huge pages);
#   BENCH_NATIVE=no skips the native run; BENCH_REGION_SIZE=BYTES sets the
#   region's size instead.
set -uo pipefail
B=${1:-build}
max=${2:-256M}
real=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 / {print $NF; exit}')
backend=sim
[[ -n $real ]] && backend=cuda
bytes=$(numfmt --from=iec "${max%B}")
size=$((1 << 30))
while ((size < 4 * bytes)); do size=$((size * 2)); done
[[ -n ${BENCH_REGION_SIZE:-} ]] && size=$(numfmt --from=iec "$BENCH_REGION_SIZE")
cfg=$(mktemp -d)
region=${BENCH_HUGETLBFS:-${BENCH_REGION_DIR:-/dev/shm}}/vgpu-bw-$$
mkdir -p "$cfg/vms.d"
{
	echo "backend = $backend"
	[[ -n $real ]] && echo "driver = $real"
	echo "control_socket = $cfg/ctl.sock"
} >"$cfg/vgpud.conf"
{
	echo "region = $region"
	echo "region_size = $size"
	echo "channels = 2"
	echo "pinned_pool = $((size / 2))"
	[[ -n ${BENCH_HUGETLBFS:-} ]] && echo "region_hugepages = yes"
} >"$cfg/vms.d/bw.conf"
VGPUD_WORKER_TIMES=1 "$B/vgpud" -c "$cfg" 2>"$cfg/vgpud.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$cfg" "$region"' EXIT
for _ in $(seq 200); do [[ -S $cfg/ctl.sock ]] && break; sleep 0.05; done
# the first worker registers (and so faults in) the whole region before it
# is ready: seconds for a 16 GiB one, longer than a guest's claim waits
for _ in $(seq 1200); do
	grep -q 'registered\|registering' "$cfg/vgpud.log" && break
	sleep 0.1
done
args=(--max "$max" --cpus "${BENCH_CPUS:-4}")
[[ -n ${BENCH_MODEL_MIB:-} ]] && args+=(--model-mib "$BENCH_MODEL_MIB")
[[ -n ${BENCH_HUGETLBFS:-} ]] && args+=(--reg-dir "$BENCH_HUGETLBFS")
out=$cfg/bw.jsonl
[[ -n $real && ${BENCH_NATIVE:-yes} != no ]] && "$B/bench/bandwidth" native "${args[@]}" | tee -a "$out"
VGPU_REGION=$region LD_LIBRARY_PATH=$B/guest/lib \
	"$B/bench/bandwidth" vgpu "${args[@]}" | tee -a "$out"
rc=${PIPESTATUS[0]}
# the worker's start-up registration of the region (docs/bulk.md)
sed -n 's/.*registered \([0-9]*\) MiB of arena and pinned pool in \([0-9.]*\) ms/{"bench":"bandwidth","mode":"vgpu","metric":"worker_register","backend":"'$backend'","mib":\1,"ms":\2}/p' \
	"$cfg/vgpud.log" | head -1 | tee -a "$out"
grep -m1 'GPU .*NUMA\|GPU .*running' "$cfg/vgpud.log" >&2
python3 - "$out" <<'PY' >&2
import json, sys
rows = {}
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if j.get("metric") != "copy" or "gbps" not in j:
        continue
    rows.setdefault((j["dir"], j["mem"], j["bytes"]), {})[j["mode"]] = j["gbps"]
print("%-4s %-9s %12s %9s %9s %7s" % ("dir", "memory", "bytes", "native", "vgpu", "ratio"))
for (d, m, b), v in sorted(rows.items()):
    n, g = v.get("native"), v.get("vgpu")
    r = "%.2fx" % (g / n) if n and g else "-"
    print("%-4s %-9s %12d %9s %9s %7s" % (d, m, b, n or "-", g or "-", r))
PY
exit "$rc"
