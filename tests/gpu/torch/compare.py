"""tests/gpu/torch/compare.py NATIVE1 NATIVE2 VGPU - compare three runs of
tests/gpu/torch/check.py: two native, one through vgpu. Each argument is a
run's output file; its tensors (TORCH_CHECK_SAVE) are in the directory of
the same name with ".d" appended.

- check lines: every check passes (or is skipped) in every run, and the
  vgpu run's set of (name, pass|skip) equals the first native run's.
- digest lines: where both native runs agree the vgpu digest must be
  bit-identical. Where they differ (the operation is not reproducible
  natively: atomics in a backward pass) the spread s = max |n1 - n2| over
  the tensor's elements is the tolerance: max(|v - n1|, |v - n2|) must not
  exceed 2 s, the most a third sample within s of each could differ.

Prints a table (name, native, vgpu, verdict) and exits 0 only if all hold.
"""
import os
import sys

import numpy as np


def parse(path):
    checks, digests = {}, {}
    for line in open(path, errors="replace"):
        f = line.split()
        if len(f) >= 3 and f[0] == "check":
            checks[f[1]] = f[2]
        elif len(f) == 3 and f[0] == "digest":
            digests[f[1]] = f[2]
    return checks, digests


def tensor(run, name):
    p = os.path.join(run + ".d", name + ".npy")
    return np.load(p).astype(np.float64) if os.path.exists(p) else None


def maxdiff(a, b):
    if a is None or b is None or a.shape != b.shape:
        return float("inf")
    d = np.abs(a - b)
    d[np.isnan(a) & np.isnan(b)] = 0
    return float(np.nanmax(d, initial=0.0)) if not np.isnan(d).any() else float("inf")


def main(n1, n2, v):
    (c1, d1), (c2, d2), (cv, dv) = parse(n1), parse(n2), parse(v)
    bad = 0
    print("%-30s %-8s %-8s %s" % ("check", "native", "vgpu", "verdict"))
    for name in sorted(set(c1) | set(cv)):
        a, b, c = c1.get(name, "-"), c2.get(name, "-"), cv.get(name, "-")
        ok = a == c and a in ("pass", "skip") and b == a
        bad += not ok
        print("%-30s %-8s %-8s %s" % (name, a, c, "ok" if ok else "MISMATCH"))
    print()
    print("%-30s %-22s %s" % ("digest", "native vs native", "vgpu"))
    for name in sorted(set(d1) | set(dv)):
        a, b, c = d1.get(name), d2.get(name), dv.get(name)
        if a is not None and a == b:
            ok = c == a
            how = "bit-identical" if ok else "DIFFERS (max %.3g)" % maxdiff(
                tensor(n1, name), tensor(v, name))
            print("%-30s %-22s %s" % (name, "identical", how))
        else:
            t1, t2, tv = tensor(n1, name), tensor(n2, name), tensor(v, name)
            s = maxdiff(t1, t2)
            e = max(maxdiff(tv, t1), maxdiff(tv, t2))
            ok = e <= 2 * s
            print("%-30s %-22s %s" % (name, "spread %.3g" % s, "max diff %.3g %s" % (
                e, "within 2x spread" if ok else "OUTSIDE 2x spread")))
        bad += not ok
    print(f"compare: {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
