#!/usr/bin/env bash
# bench/fairness.sh BUILD - the scheduler's acceptance on a real GPU
# (docs/scheduler.md): each case runs twice, vgpud with `scheduler = on`
# and with `scheduler = off`, guest processes looping bench/fairness's
# spin kernel; shares come from the kernels' own %globaltimer stamps,
# never from vgpud. Cases:
#   4v1     VM a with 4 processes, VM b with 1, equal weight
#   w3to1   VM a weight 300, VM b weight 100, 1 process each
#   4equal  4 VMs at equal weight with 1, 2, 3, 4 processes
#   light   VM l: one 1 ms kernel at a time, 2 ms apart (latency);
#           alone, then beside VM h (4 processes, deep queues)
#   lightshort  the same beside a VM h whose kernels are 0.25 ms: the
#           light kernel's wait for the one heavy kernel running (kernels
#           are not preempted) falls to a quarter, and what is left is the
#           queue the scheduler bounds (docs/scheduler.md)
# JSON lines on stdout (and $OUT/fairness.jsonl), a table on stderr.
# Environment: FAIR_SECS (default 6) per run, FAIR_MS (1) kernel length,
# FAIR_CASES (default all: "4v1 w3to1 4equal light lightshort"),
# FAIR_QUEUE (default 2ms) vgpud's sched_queue, FAIR_CONF more lines for
# vgpud.conf (e.g. "sched_queue_ahead = 500us"), FAIR_SCHEDS (default
# "on off") which settings of `scheduler` to run.
set -uo pipefail
B=${1:-build}
out=${OUT:-/tmp/vgpu-fairness}
mkdir -p "$out"
secs=${FAIR_SECS:-6}
ms=${FAIR_MS:-1}
real=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 / {print $NF; exit}')
[[ -n $real ]] || { echo "fairness: no libcuda.so.1 (needs a GPU)" >&2; exit 1; }
img=$B/bench/fairness.cubin
jsonl=$out/fairness.jsonl
: >"$jsonl"

daemon=
stop_daemon() {
	[[ -n $daemon ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	daemon=
}
trap 'stop_daemon; rm -f /dev/shm/vgpu-fair-$$-*' EXIT

# start_vgpud SCHED NAME:WEIGHT:CHANNELS ...
start_vgpud() {
	local sched=$1 spec name w ch
	shift
	cfg=$out/cfg
	rm -rf "$cfg"
	mkdir -p "$cfg/vms.d"
	printf 'backend = cuda\ndriver = %s\ncontrol_socket = %s/ctl.sock\nscheduler = %s\nsched_queue = %s\n' \
		"$real" "$cfg" "$sched" "${FAIR_QUEUE:-2ms}" >"$cfg/vgpud.conf"
	[[ -n ${FAIR_CONF:-} ]] && printf '%s\n' "$FAIR_CONF" >>"$cfg/vgpud.conf"
	for spec in "$@"; do
		IFS=: read -r name w ch <<<"$spec"
		printf 'region = /dev/shm/vgpu-fair-%s-%s\nregion_size = 256M\nchannels = %s\ncompute_weight = %s\n' \
			"$$" "$name" "$((ch + 1))" "$w" >"$cfg/vms.d/$name.conf"
	done
	"$B/vgpud" -c "$cfg" 2>>"$out/vgpud.log" &
	daemon=$!
	for _ in $(seq 100); do [[ -S $cfg/ctl.sock ]] && break; sleep 0.05; done
}

# one_case NAME SCHED "VM:WEIGHT:PROCS[:light|:heavy[:MS]]" ...
one_case() {
	local name=$1 sched=$2
	shift 2
	local specs=() pids=() rep=() v vm w n kind i f args
	for v in "$@"; do
		IFS=: read -r vm w n _ <<<"$v"
		specs+=("$vm:$w:$n")
	done
	start_vgpud "$sched" "${specs[@]}"
	# one start for all: the daemon starts a VM's workers one after
	# another (~0.8 s each on the H100), so allow a second per process
	local most=1 at
	for v in "$@"; do
		IFS=: read -r vm w n _ <<<"$v"
		((n > most)) && most=$n
	done
	at=$(date +%s.%N | awk -v d="$((1 + most))" '{printf "%.3f", $1 + d}')
	for v in "$@"; do
		local kms
		IFS=: read -r vm w n kind kms <<<"$v"
		local files=()
		for i in $(seq "$n"); do
			f=$out/$name-$sched-$vm-$i.txt
			files+=("$f")
			args=(run --image "$img" --secs "$secs" --ms "${kms:-$ms}"
				--out "$f" --start-at "$at")
			[[ ${kind:-} == light ]] && args+=(--gap-ms 2)
			VGPU_REGION=/dev/shm/vgpu-fair-$$-$vm \
				LD_LIBRARY_PATH=$B/guest/lib "$B/bench/fairness" "${args[@]}" \
				2>>"$out/guests.log" &
			pids+=($!)
		done
		rep+=("$vm:$w:$(IFS=,; echo "${files[*]}")")
	done
	wait "${pids[@]}"
	[[ -S $cfg/ctl.sock ]] && "$B/vgpuctl" -s "$cfg/ctl.sock" stats \
		>"$out/$name-$sched-stats.txt" 2>&1
	stop_daemon
	"$B/bench/fairness" report --case "$name" --sched "$sched" "${rep[@]}" |
		tee -a "$jsonl"
}

cases=" ${FAIR_CASES:-4v1 w3to1 4equal light lightshort} "
for sched in ${FAIR_SCHEDS:-on off}; do
	[[ $cases == *" 4v1 "* ]] && one_case 4v1 "$sched" a:100:4 b:100:1
	[[ $cases == *" w3to1 "* ]] && one_case w3to1 "$sched" a:300:1 b:100:1
	[[ $cases == *" 4equal "* ]] &&
		one_case 4equal "$sched" a:100:1 b:100:2 c:100:3 d:100:4
	if [[ $cases == *" light "* ]]; then
		one_case light-solo "$sched" l:100:1:light
		one_case light "$sched" l:100:1:light h:100:4
	fi
	[[ $cases == *" lightshort "* ]] &&
		one_case lightshort "$sched" l:100:1:light h:100:4:heavy:0.25
done
