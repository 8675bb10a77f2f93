#!/usr/bin/env python3
"""Write the seed corpus of fuzz_host into tests/fuzz/corpus/ and the
reproducers of its findings into tests/fuzz/crashes/.

Each seed is a script in the input format of tests/fuzz/fuzz_host.c:
byte 0 picks the geometry, then opcode bytes with their arguments. The
seeds walk the daemon into every event (ATTACH, MSG, BADMSG, CORRUPT,
DETACH, lease reclaim, ABI refusal) so the fuzzer starts from there.
Run it again after changing the input format: python3 tests/fuzz/mkseeds.py
"""
import os
from fuzzbytes import u8, u16, u32, u64

# opcode numbers: the enum OP_* of fuzz_host.c, in order
(WRITE, FIELD, SEQ, PUT, PUTN, CLAIM, RELEASE, BEAT, POLL, DRAIN, ACCEPT,
 REFUSE, REPLY, REPLY_FORGED, LEASE, VALIDATE, SCRIBBLE, WAKE) = range(18)


def claim(ch, mode=0):
    """mode 0: gen+1, pid 4242+ch, abi MAX, req_gen published."""
    return u8(CLAIM, ch, mode)


def poll(ch, act=3):
    """act%4: 0/1 accept (start by act>>2), 2 refuse, 3 leave pending."""
    return u8(POLL, ch, act)


def attach(ch, act=0, extra=b""):
    return claim(ch) + poll(ch, act) + extra


def put(ch, k, op, flags, length, reply, raw=0, mut=0, op_raw=None,
        flags_raw=None, len_raw=None, reply_raw=None, arena=None):
    b = u8(PUT, ch, k, raw)
    b += u16(op_raw if raw & 1 else op)
    b += u16(flags_raw) if raw & 2 else u8(flags)
    b += u32(len_raw) if raw & 4 else u16(length)
    b += u32(reply_raw) if raw & 8 else u8(reply)
    if raw & 16 and (raw >> 5) % 4 == 1:   # off, then len = -off + u16
        b += u64(arena[0]) + u16(arena[1])
    elif raw & 16:
        assert (raw >> 5) % 4 == 0
        b += u64(arena[0]) + u64(arena[1])
    elif flags & 2:
        b += u16(arena[0]) + u16(arena[1])
    b += u8(mut)
    if mut & 1:
        b += u8(7)
    if mut & 2:
        b += u8(0)
    return b


def putn(ch, n):
    return u8(PUTN, ch, n - 1)


def drain(n=64, act=0):
    return u8(DRAIN, n - 1, act)


def reply(ch, which, result, length, alen=0):
    """length < 0x8000: taken modulo inline_max + 1."""
    return u8(REPLY, ch, which) + u32(result) + u16(length) + u8(alen)


SEEDS = {
    # ATTACH, accept at the default start, three good requests, replies
    "attach_msg_reply": u8(0) + attach(0) + putn(0, 3) + drain() +
    put(0, 0, 42, 0, 10, 1) + poll(0) + reply(0, 3, 0, 5) +
    reply(0, 3, -5, 300),
    # BADMSG: opcode 0, unknown flag, arena outside the slice, reply index
    "badmsg": u8(0) + attach(1) +
    put(1, 0, 0, 0, 4, 2, raw=1, op_raw=0) + poll(1) +
    put(1, 0, 7, 0, 4, 2, raw=2, flags_raw=0x80) + poll(1) +
    put(1, 0, 7, 2, 0, 2, raw=16, arena=(4000, 200)) + poll(1) +
    put(1, 0, 7, 2, 0, 2, raw=16 | 32, arena=(8, 4)) + poll(1) +
    put(1, 0, 7, 0, 0, 0, raw=8, reply_raw=16) + poll(1) +
    put(1, 0, 7, 0, 0, 0, raw=4, len_raw=193) + poll(1) +
    reply(1, 0, -1, 0) + reply(1, 1, -1, 0),
    # CORRUPT by a seq jump, then nothing until a new generation
    "corrupt_seq": u8(0) + attach(0) + u8(SEQ, 0, 8, 4) + poll(0) +
    putn(0, 2) + poll(0) + claim(0) + poll(0, 0) + putn(0, 4) + drain(),
    # CORRUPT by a wrong generation and by a wrong position echo
    "corrupt_gen_pos": u8(1) + attach(2) + put(2, 0, 9, 0, 0, 0, mut=2) +
    poll(2) + claim(2) + poll(2, 0) + put(2, 0, 9, 0, 0, 0, mut=1) +
    poll(2),
    # DETACH by release and by a new claim; late reply is refused
    "detach": u8(0) + attach(3) + putn(3, 1) + poll(3) + u8(RELEASE, 3) +
    poll(3) + reply(3, 0, 0, 0) + claim(3) + poll(3, 0) + putn(3, 2) +
    poll(3) + claim(3) + poll(3) + poll(3),
    # lease: start the clock, let 2 s pass, reclaim, DETACH
    "lease": u8(0) + attach(0) + u8(LEASE, 0, 0) + u16(0) +
    u8(BEAT, 0, 0) + u8(LEASE, 0, 0) + u16(0) +
    u8(LEASE, 0, 1) + u16(2000) + poll(0),
    # ABI outside the range is refused; then a refused and a pending claim
    "abi_refuse": u8(2) + claim(0, 2 << 3) + poll(0) + claim(1) +
    poll(1, 2) + claim(1) + poll(1, 3) + u8(ACCEPT, 1, 0),
    # start near UINT32_MAX on 8 slots: laps wrap the u32 positions
    "wrap": u8(1) + claim(0) + poll(0, 1 << 2) + u8(3) +
    (putn(0, 8) + drain()) * 4 + (putn(0, 5) + drain()) * 3,
    # direct validation, forged replies, need_wakeup, daemon scribbles
    "misc": u8(3) + attach(0) + u8(VALIDATE, 0, 0xFF) + bytes(range(64)) +
    u8(0) + u8(VALIDATE, 1, 0x00) + bytes(64) + u8(1) +
    u8(REPLY_FORGED, 0, 0) + u32(5) + u8(3) +
    u8(REPLY_FORGED, 0, 1) + u32(5) + u32(0xFFFFFFFF) +
    u8(WAKE, 0, 1) + u8(WAKE, 0, 0) +
    u8(SCRIBBLE) + u16(130) + u8(7) + bytes(8) +
    u8(WRITE) + u16(8192) + u8(3) + bytes(4) +
    u8(FIELD, 0, 0, 0x06) + u8(1) + poll(0),
}


# Hand-written reproducers of the findings in README.md; written to
# tests/fuzz/crashes/, never to the corpus (they abort the harness).
CRASHES = {
    # #1: opcode 0 (checked before the length) with a 256-byte payload in a
    # 256-byte slot (inline max 192): take() copies 256 bytes into the
    # 192-byte payload buffer.
    "finding1-badmsg-len-overflow": u8(0) + attach(0) +
    put(0, 0, 0, 0, 0, 0, raw=1 | 4, op_raw=0, len_raw=256) + poll(0),
    # #2: a request of generation 1 is answered after generation 2 was
    # accepted at the same start: the reply lands in gen 2's entry with
    # the seq gen 2's first request waits for.
    "finding2-stale-reply": u8(0) + attach(0) + putn(0, 1) + poll(0) +
    claim(0) + poll(0) + poll(0, 0) + reply(0, 0, 1234, 4),
}


def write(sub, items):
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), sub)
    os.makedirs(out, exist_ok=True)
    for name, data in items.items():
        assert len(data) < 4096, name
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(f"{sub}/{name}: {len(data)} bytes")


def main():
    write("corpus", SEEDS)
    write("crashes", CRASHES)


if __name__ == "__main__":
    main()
