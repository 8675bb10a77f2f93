"""tests/fuzz/fuzzbytes.py - little-endian field encoders shared by the
seed generators (mkseeds.py, mkseeds_worker.py)."""
import struct


def u8(*v):
    return bytes(x & 0xFF for x in v)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)
