#!/usr/bin/env python3
"""ollama_parse.py LIST STARTUP [--expect-cc 9.0] [--expect-mib N]

Applies Ollama's llama-server discovery rules (ollama/ollama
discover/llama_server.go, v0.30+, re-implemented here from its documented
behaviour) to the output of `llama-server --list-devices --offline` (LIST)
and of a model-less `llama-server` start-up cut at `system_info:`
(STARTUP), and says which device Ollama would select:

- devices come from LIST lines `  NAME: DESCRIPTION (T MiB, F MiB free)`
  (leading blank required); total 0 = pseudo-device, skipped;
- library: CUDA if "cuda" is in name or description (ROCm, Metal, Vulkan
  likewise), else the description;
- compute capability from STARTUP `Device N: ..., compute capability X.Y`,
  compiled archs from `CUDA : ARCHS = 900,...`; a CUDA device whose
  "X Y 0" arch is not in ARCHS is skipped;
- no device left: Ollama falls back to `id=cpu library=cpu`.

Prints Ollama-style `inference compute` lines, the start-up lines it used,
and one JSON line; exits 0 iff a CUDA device is selected and meets the
expectations (--expect-cc: its compute capability; --expect-mib: the total
in both the device list and the `VRAM:` line, e.g. the VM's memory_limit).
"""
import argparse
import json
import re
import sys

DEV_LINE = re.compile(r"^\s+(.+?):\s+(.+?)\s+\((\d+)\s+MiB,\s+(\d+)\s+MiB\s+free\)")
CC_LINE = re.compile(r"Device\s+(\d+):.*compute capability\s+(\d+)\.(\d+)")
VRAM_LINE = re.compile(r"Device\s+(\d+):\s+(.+?),\s+compute capability\s+"
                       r"(\d+)\.(\d+),\s+VMM:\s+(\w+),\s+VRAM:\s+(\d+)\s+MiB")
ARCHS_LINE = re.compile(r"CUDA\s*:\s*ARCHS\s*=\s*([\d,]+)")


def library_of(name, desc):
    s = (name + " " + desc).lower()
    for key, lib in (("cuda", "CUDA"), ("rocm", "ROCm"), ("hip", "ROCm"),
                     ("metal", "Metal"), ("apple", "Metal"),
                     ("vulkan", "Vulkan")):
        if key in s:
            return lib
    return desc


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError as e:
        return "# unreadable: %s\n" % e


def parse(list_text, startup_text):
    """(selected devices, notes, start-up facts) by Ollama's rules."""
    # Ollama cuts the start-up output at the first system_info line.
    lines = []
    for line in startup_text.splitlines():
        lines.append(line)
        if "system_info:" in line:
            break
    combined = list_text.splitlines() + lines
    cc, vram, archs = {}, {}, []
    for line in combined:
        m = CC_LINE.search(line)
        if m:
            cc[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
        m = VRAM_LINE.search(line)
        if m:
            vram[int(m.group(1))] = {"name": m.group(2), "vmm": m.group(5),
                                     "vram_mib": int(m.group(6)),
                                     "line": line.strip()}
        m = ARCHS_LINE.search(line)
        if m:
            archs = [a.strip() for a in m.group(1).split(",") if a.strip()]
    devices, notes, idx = [], [], 0
    for line in combined:
        m = DEV_LINE.match(line)
        if not m:
            continue
        name, desc = m.group(1), m.group(2)
        total, free = int(m.group(3)), int(m.group(4))
        lib = library_of(name, desc)
        if total == 0:
            notes.append("skipping pseudo-device with zero memory name=%s" % name)
            idx += 1
            continue
        major = minor = 0
        if lib == "CUDA":
            c = cc.get(idx)
            if c and archs and "%d%d0" % c not in archs:
                notes.append('skipping CUDA device - compute capability not in '
                             'compiled architectures device="%s" cc=%d%d0 archs=%s'
                             % (desc, c[0], c[1], ",".join(archs)))
                idx += 1
                continue
            if not c:
                notes.append("could not determine compute capability for CUDA "
                             "device %s: architecture filtering disabled" % desc)
            elif not archs:
                notes.append("could not determine compiled CUDA architectures: "
                             "architecture filtering disabled")
            if c:
                major, minor = c
        devices.append({"id": idx, "library": lib, "name": name,
                        "description": desc, "total_mib": total,
                        "free_mib": free, "compute": "%d.%d" % (major, minor),
                        "startup": vram.get(idx)})
        idx += 1
    return devices, notes, {"archs": archs, "devices": vram}


def gib(mib):
    return "%.1f GiB" % (mib / 1024.0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("list_output")
    p.add_argument("startup_output")
    p.add_argument("--expect-cc")
    p.add_argument("--expect-mib", type=int)
    p.add_argument("--label", default="")
    a = p.parse_args()
    devices, notes, facts = parse(read(a.list_output), read(a.startup_output))
    for n in notes:
        print("ollama: " + n)
    for d in facts["devices"].values():
        print("start-up: " + d["line"])
    print("start-up: CUDA ARCHS = %s" % (",".join(facts["archs"]) or "(none)"))
    gpus = [d for d in devices if d["library"] == "CUDA"]
    for d in devices:
        print('ollama: msg="inference compute" id=%d library=%s compute=%s '
              'name=%s description="%s" total="%s" available="%s"'
              % (d["id"], d["library"], d["compute"], d["name"],
                 d["description"], gib(d["total_mib"]), gib(d["free_mib"])))
    if not devices:
        print('ollama: msg="inference compute" id=cpu library=cpu')
    problems = []
    if not gpus:
        problems.append("no CUDA device selected (Ollama: id=cpu library=cpu)")
    for d in gpus[:1]:
        if a.expect_cc and d["compute"] != a.expect_cc:
            problems.append("compute %s, expected %s" % (d["compute"], a.expect_cc))
        s = d["startup"]
        if not s:
            problems.append("no 'Device %d: ... VRAM:' start-up line" % d["id"])
        if a.expect_mib is not None:
            if d["total_mib"] != a.expect_mib:
                problems.append("device list total %d MiB, expected %d"
                                % (d["total_mib"], a.expect_mib))
            if s and s["vram_mib"] != a.expect_mib:
                problems.append("start-up VRAM %d MiB, expected %d"
                                % (s["vram_mib"], a.expect_mib))
    sel = gpus[0] if gpus else None
    print(json.dumps({"test": "llm-discovery", "mode": a.label,
                      "library": "CUDA" if sel else "cpu",
                      "name": sel and sel["description"],
                      "compute": sel and sel["compute"],
                      "total_mib": sel and sel["total_mib"],
                      "vram_mib": sel and sel["startup"] and sel["startup"]["vram_mib"],
                      "vmm": sel and sel["startup"] and sel["startup"]["vmm"],
                      "archs": facts["archs"], "problems": problems}))
    for pr in problems:
        print("ollama: FAIL %s" % pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
