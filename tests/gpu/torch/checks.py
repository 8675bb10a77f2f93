"""tests/gpu/torch/checks.py - the result lines every torch script prints:
"check NAME pass|FAIL WHY" per check, then "summary N passed, M failed"
(tests/gpu/torch/compare.py and the run scripts read them)."""
import sys

counts = {"passed": 0, "failed": 0}


def check(name, ok, why=""):
    if ok:
        counts["passed"] += 1
        print(f"check {name} pass", flush=True)
    else:
        counts["failed"] += 1
        print(f"check {name} FAIL {why}".replace("\n", " ")[:400], flush=True)


def finish():
    """The summary line; exit status 0 only if nothing failed."""
    print(f"summary {counts['passed']} passed, {counts['failed']} failed",
          flush=True)
    sys.exit(1 if counts["failed"] else 0)
