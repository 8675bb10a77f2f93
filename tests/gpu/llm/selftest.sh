#!/usr/bin/env bash
# tests/gpu/llm/selftest.sh [BUILD] - checks run.sh itself without a GPU:
# fake_server.py stands in for llama-server, vgpud runs on the sim backend.
# 1. agreeing runs: run.sh must pass; 2. FAKE_DIVERGE (vgpu tokens differ)
# and FAKE_VGPU_MIB (wrong VM memory): run.sh must fail and say why.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
B=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/models"
: >"$tmp/models/tiny-llama-f16.gguf"
: >"$tmp/models/tiny-llama-q8_0.gguf"
run() {
	LLM_SERVER=$here/fake_server.py LLM_BACKEND=sim LLM_CUDA_LIBS=/nonexistent \
		LLM_MODELS=$tmp/models LLM_TIMEOUT=20 OUT=$tmp/out \
		"$here/run.sh" "$B" >"$tmp/log" 2>&1
}
ok=0
if run; then echo "selftest: agreeing runs pass"; else
	echo "selftest: FAIL agreeing runs"; cat "$tmp/log"; ok=1; fi
if FAKE_DIVERGE=1 run; then echo "selftest: FAIL divergence not caught"; ok=1
elif grep -q 'vgpu tokens == native.*FAIL: DIFFERENT' "$tmp/log"; then
	echo "selftest: divergent tokens caught"
else echo "selftest: FAIL no DIFFERENT line"; cat "$tmp/log"; ok=1; fi
if FAKE_VGPU_MIB=1024 run; then echo "selftest: FAIL wrong VM memory not caught"; ok=1
elif grep -q 'start-up VRAM 1024 MiB, expected 32768' "$tmp/log"; then
	echo "selftest: wrong VM memory caught"
else echo "selftest: FAIL no VRAM line"; cat "$tmp/log"; ok=1; fi
exit $ok
