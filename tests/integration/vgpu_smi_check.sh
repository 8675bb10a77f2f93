#!/usr/bin/env bash
# tests/integration/vgpu_smi_check.sh SMI QUOTA_MIB - vgpu-smi as a guest
# sees the quota VM: -L, the default table, -q and --query-gpu agree with
# each other and with the quota; bad input gets nvidia-smi's exit codes.
# Run as a guest process (VGPU_REGION set). Prints what failed; exit 1.
set -uo pipefail
smi=$1 quota=$2
fail=0
no() { echo "FAIL: $*"; fail=1; }

uuid=$("$smi" --query-gpu=uuid --format=csv,noheader) || no "query uuid"
[[ $uuid =~ ^GPU-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$ ]] || no "uuid '$uuid'"
list=$("$smi" -L) || no "-L exit"
[[ $list == "GPU 0: "*" (UUID: $uuid)" ]] || no "-L: $list"
total=$("$smi" --query-gpu=memory.total --format=csv,noheader,nounits)
[[ $total == "$quota" ]] || no "memory.total $total, want $quota"
csv=$("$smi" --query-gpu=name,memory.total,pci.bus_id --format=csv)
[[ $(head -1 <<<"$csv") == "name, memory.total [MiB], pci.bus_id" ]] ||
	no "csv header: $csv"
[[ $(tail -1 <<<"$csv") == *", $quota MiB, 00000000:01:00.0" ]] ||
	no "csv row: $csv"
table=$("$smi") || no "table exit"
grep -Eq "MiB / +${quota}MiB" <<<"$table" || no "table memory: $table"
grep -q "00000000:01:00.0" <<<"$table" || no "table bus id"
widths=$(awk '{print length($0)}' <<<"$table" | sed 1d | sort -u | tr '\n' ' ')
[[ $widths == "0 91 " ]] || no "table line widths: $widths"
q=$("$smi" -q) || no "-q exit"
grep -Eq "^    GPU UUID +: $uuid$" <<<"$q" || no "-q uuid"
grep -A1 "FB Memory Usage" <<<"$q" | grep -Eq "Total +: $quota MiB" ||
	no "-q total"
"$smi" --query-gpu=bogus --format=csv 2>/dev/null
[[ $? == 2 ]] || no "an unknown field must exit 2"
"$smi" -i 7 >/dev/null 2>&1
[[ $? == 6 ]] || no "-i of a missing GPU must exit 6"
"$smi" -i "$uuid" -L | grep -q "$uuid" || no "-i UUID"
"$smi" --help | grep -q "^EXIT STATUS" || no "--help"
VGPU_REGION=/nonexistent "$smi" -L >/dev/null 2>&1
[[ $? == 9 ]] || no "no region must exit 9"
exit $fail
