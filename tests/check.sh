#!/usr/bin/env bash
# tests/check.sh - everything CI runs, in order, with one summary line.
#
# Stages: unit tests (make test), guest programs against vgpud on the sim
# backend (make integration), the unit tests under ASan+UBSan and
# under TSan, the real-VM test, and a bounded fuzzing run (the decoder's
# and the worker's harnesses, one after the other). Each stage's
# Criterion counts are added up; vmtest and fuzz count as one test each.
# Environment: CHECK_STAGES="test asan tsan vmtest fuzz" picks stages;
# FUZZ_SECONDS (default 60) bounds each fuzzer.
set -uo pipefail
cd "$(dirname "$0")/.."

stages=${CHECK_STAGES:-"test integration asan tsan vmtest fuzz"}
passed=0 failed=0 log=$(mktemp)
trap 'rm -f "$log"' EXIT

count_criterion() {
	# "[====] Synthesis: Tested: 10 | Passing: 9 | Failing: 1 | Crashing: 0"
	local p f
	read -r p f < <(awk -F'[:|]' '/Synthesis: Tested/ {
		p += $5; f += $7 + $9 } END { print p + 0, f + 0 }' "$log")
	passed=$((passed + p))
	failed=$((failed + f))
}

run_stage() {
	local name=$1
	shift
	echo "=== check: $name: $*"
	local t0=$SECONDS
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	case $name in
	test | asan | tsan)
		count_criterion
		# a crash before any synthesis line still fails the stage
		if ((rc != 0)) && ! grep -q 'Failing: [1-9]\|Crashing: [1-9]' "$log"; then
			failed=$((failed + 1))
		fi
		;;
	*)
		if ((rc == 0)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
		;;
	esac
	echo "=== check: $name: exit $rc in $((SECONDS - t0)) s"
}

for s in $stages; do
	case $s in
	test) run_stage test make test ;;
	# with the 4 GiB copies where the memory is there (tests/integration)
	integration) run_stage integration env \
		VGPU_TEST_BULK_4G="${VGPU_TEST_BULK_4G:-auto}" make integration ;;
	# the same tests at the same sizes: ~1 min each under a sanitizer
	asan) run_stage asan make asan ;;
	tsan) run_stage tsan make tsan ;;
	vmtest) run_stage vmtest make vmtest ;;
	fuzz) run_stage fuzz make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}" ;;
	*) echo "check: unknown stage '$s'" >&2; failed=$((failed + 1)) ;;
	esac
done

echo "check: $passed passed, $failed failed"
((failed == 0))
