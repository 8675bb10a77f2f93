#!/usr/bin/env bash
# bench/torch.sh BUILD - bench/pytorch.py natively and through vgpu in one run
# on a machine with an NVIDIA GPU and PyTorch (the lent H100's python3):
# JSON lines on stdout, a native/vgpu table on stderr. The daemon is set
# up as tests/gpu/torch/run.sh sets it up (tests/gpu/torch/daemon.sh); the
# guest logs at VGPU_LOG=info (debug traces every failing call).
# BENCH_ROUNDS=N (default 1) alternates N native and N vgpu processes; the
# table takes each figure's best round. Speed ratio = native time / vgpu
# time (1.00x is native speed; the target is >= 0.95x).
set -uo pipefail
B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
python3 -c 'import torch' 2>/dev/null || { echo "bench/torch: no PyTorch"; exit 1; }
tmp=$(mktemp -d)
LOG=$tmp/vgpud.log
source "$here/../tests/gpu/torch/daemon.sh"
export VGPU_LOG=${VGPU_LOG:-info} PYTHONUNBUFFERED=1
rc=0
for _ in $(seq "${BENCH_ROUNDS:-1}"); do
	BENCH_T0=$(date +%s.%N) python3 "$here/pytorch.py" native | tee -a "$tmp/out.jsonl"
	((PIPESTATUS[0] == 0)) || rc=1
	guest env BENCH_T0="$(date +%s.%N)" python3 "$here/pytorch.py" vgpu | tee -a "$tmp/out.jsonl"
	((PIPESTATUS[0] == 0)) || rc=1
done
python3 - "$tmp/out.jsonl" <<'PY' >&2
import json, sys
best = {}
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    k = (j["metric"], j["mode"])
    best[k] = min(best.get(k, j["ms"]), j["ms"])
print("%-22s %12s %12s %8s" % ("metric (ms)", "native", "vgpu", "speed"))
for m in dict.fromkeys(k[0] for k in best):
    n, v = best.get((m, "native")), best.get((m, "vgpu"))
    r = "%.2fx" % (n / v) if n and v else "-"
    print("%-22s %12s %12s %8s" % (m, n, v, r))
PY
grep -h 'NOT_SUPPORTED\|not implemented' "$LOG" 2>/dev/null | sort | uniq -c | head >&2
rm -rf "$tmp"
exit "$rc"
