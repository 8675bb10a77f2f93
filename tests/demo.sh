#!/usr/bin/env bash
# tests/demo.sh BUILD_DIR - the ring end to end on this machine: a host peer
# serves a region file, a guest client exchanges checked messages and a
# stream with it, then the ring benchmark prints its headline figures.
set -euo pipefail
build=${1:-build}
region=/dev/shm/vgpu-demo-$$
trap 'kill "$peer" 2>/dev/null || true; rm -f "$region"' EXIT
"$build/tests/ringpeer" --region "$region" --size $((64 << 20)) &
peer=$!
for _ in $(seq 50); do [[ -s $region ]] && break; sleep 0.1; done
sleep 0.2
VGPU_REGION=$region "$build/tests/ringclient" -n 200000 -s $((256 << 20))
kill "$peer"
wait "$peer" && echo "demo: peer verified every message"
echo "demo: ring figures (bench/ring --quick):"
"$build/bench/ring" --quick | grep -E '"metric":"(rtt|oneway|stream_out|idle_cpu)"' |
	sed -E 's/,"(wait_guest|wait_host|region)":\{[^}]*\}//g'
