#!/usr/bin/env python3
"""tests/integration/pynvml_check.py - NVIDIA's own Python bindings on vgpu.

Usage: pynvml_check.py [--quota BYTES] [--sim]

Run as a guest process (VGPU_REGION set, build/guest/lib first in
LD_LIBRARY_PATH, the unmodified nvidia-ml-py wheel on PYTHONPATH). pynvml
loads libnvidia-ml.so.1 (ours) with ctypes, enumerates the virtual GPU and
reads every query the guest NVML implements; the identity is then compared
with the driver API's (ctypes on libcuda.so.1, ours too). With --sim the
sensor values must be the sim backend's fixed ones (daemon/hostgpu.c);
otherwise they must be present and in range. Prints "ok NAME" or
"FAIL NAME: why" per group, then "pynvml: N passed, N failed"; exit 1 on any
failure.
"""
import ctypes
import os
import sys

import pynvml as N

passed = failed = 0


def group(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print('ok', name)
    except Exception as e:  # an assertion or an NVMLError: both are failures
        failed += 1
        print('FAIL %s: %s: %s' % (name, type(e).__name__, e))


def eq(got, want, what):
    assert got == want, '%s = %r, want %r' % (what, got, want)


def s(v):
    return v.decode() if isinstance(v, bytes) else v


quota = 0
if '--quota' in sys.argv:
    quota = int(sys.argv[sys.argv.index('--quota') + 1])
sim = '--sim' in sys.argv
H = {}


def init():
    N.nvmlInit()
    eq(N.nvmlDeviceGetCount(), 1, 'nvmlDeviceGetCount')
    H['d'] = N.nvmlDeviceGetHandleByIndex(0)
    try:
        N.nvmlDeviceGetHandleByIndex(1)
        raise AssertionError('index 1 found')
    except N.NVMLError_InvalidArgument:
        pass


def system():
    dv = s(N.nvmlSystemGetDriverVersion())
    assert int(dv.split('.')[0]) >= 550, dv
    if sim:
        eq(dv, '580.159.04', 'driver version')
    eq(s(N.nvmlSystemGetNVMLVersion()),
       '%d.%s' % (N.nvmlSystemGetCudaDriverVersion_v2() // 1000, dv),
       'NVML version')
    cv = N.nvmlSystemGetCudaDriverVersion()
    eq(N.nvmlSystemGetCudaDriverVersion_v2(), cv, 'CUDA version _v2')
    assert cv >= 12040, cv
    eq(s(N.nvmlSystemGetProcessName(os.getpid())).split('/')[-1][:6],
       os.path.basename(sys.executable)[:6], 'process name')


def identity():
    d = H['d']
    name = s(N.nvmlDeviceGetName(d))
    uuid = s(N.nvmlDeviceGetUUID(d))
    serial = s(N.nvmlDeviceGetSerial(d))
    pci = N.nvmlDeviceGetPciInfo(d)
    assert uuid.startswith('GPU-') and len(uuid) == 40, uuid
    for h in (N.nvmlDeviceGetHandleByUUID(uuid),
              N.nvmlDeviceGetHandleByPciBusId(pci.busId),
              N.nvmlDeviceGetHandleBySerial(serial)):
        eq(ctypes.addressof(h.contents), ctypes.addressof(d.contents),
           'handle')
    eq(N.nvmlDeviceGetIndex(d), 0, 'index')
    eq(N.nvmlDeviceGetMinorNumber(d), 0, 'minor')
    eq(s(pci.busId), '00000000:01:00.0', 'busId')
    eq(s(pci.busIdLegacy), '0000:01:00.0', 'busIdLegacy')
    ext = N.nvmlPciInfoExt_v1_t()
    ext.version = N.nvmlPciInfoExt_v1
    N.nvmlDeviceGetPciInfoExt(d, ctypes.byref(ext))
    eq(ext.pciDeviceId, pci.pciDeviceId, 'PciInfoExt device id')
    cc = N.nvmlDeviceGetCudaComputeCapability(d)
    assert cc[0] >= 7, cc
    arch = N.nvmlDeviceGetArchitecture(d)
    if cc == (9, 0):
        eq(arch, N.NVML_DEVICE_ARCH_HOPPER, 'architecture')
    H.update(name=name, uuid=uuid, bus=s(pci.busIdLegacy), cc=cc)


def memory():
    d = H['d']
    m = N.nvmlDeviceGetMemoryInfo(d)
    m2 = N.nvmlDeviceGetMemoryInfo(d, version=N.nvmlMemory_v2)
    eq(m2.total, m.total, 'v2 total')
    eq(m2.free + m2.used + m2.reserved, m2.total, 'v2 sum')
    eq(m.free + m.used, m.total, 'v1 sum')
    if quota:
        eq(m.total, quota, 'total (the quota)')
    b = N.nvmlDeviceGetBAR1MemoryInfo(d)
    eq(b.bar1Free + b.bar1Used, b.bar1Total, 'BAR1 sum')
    H['total'] = m.total


def sensors():
    d = H['d']
    u = N.nvmlDeviceGetUtilizationRates(d)
    assert 0 <= u.gpu <= 100 and 0 <= u.memory <= 100, (u.gpu, u.memory)
    clk = [N.nvmlDeviceGetClockInfo(d, t) for t in range(4)]
    mx = [N.nvmlDeviceGetMaxClockInfo(d, t) for t in range(4)]
    clock = N.nvmlDeviceGetClock(d, N.NVML_CLOCK_SM, N.NVML_CLOCK_ID_CURRENT)
    eq(N.nvmlDeviceGetMaxCustomerBoostClock(d, N.NVML_CLOCK_SM), mx[1],
       'boost clock')
    t = N.nvmlDeviceGetTemperature(d, N.NVML_TEMPERATURE_GPU)
    slow = N.nvmlDeviceGetTemperatureThreshold(
        d, N.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)
    shut = N.nvmlDeviceGetTemperatureThreshold(
        d, N.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN)
    p = N.nvmlDeviceGetPowerUsage(d)
    lim = N.nvmlDeviceGetPowerManagementLimit(d)
    eq(N.nvmlDeviceGetEnforcedPowerLimit(d), lim, 'enforced limit')
    dflt = N.nvmlDeviceGetPowerManagementDefaultLimit(d)
    lo, hi = N.nvmlDeviceGetPowerManagementLimitConstraints(d)
    eq(N.nvmlDeviceGetPowerManagementMode(d), N.NVML_FEATURE_ENABLED,
       'power management')
    energy = N.nvmlDeviceGetTotalEnergyConsumption(d)
    ps = N.nvmlDeviceGetPerformanceState(d)
    ps2 = N.nvmlDeviceGetPowerState(d)
    ecc = N.nvmlDeviceGetEccMode(d)
    errs = N.nvmlDeviceGetTotalEccErrors(
        d, N.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, N.NVML_VOLATILE_ECC)
    pm = N.nvmlDeviceGetPersistenceMode(d)
    cm = N.nvmlDeviceGetComputeMode(d)
    gen = N.nvmlDeviceGetCurrPcieLinkGeneration(d)
    eq(N.nvmlDeviceGetGpuMaxPcieLinkGeneration(d),
       N.nvmlDeviceGetMaxPcieLinkGeneration(d), 'max PCIe gen')
    width = N.nvmlDeviceGetCurrPcieLinkWidth(d)
    assert N.nvmlDeviceGetMaxPcieLinkWidth(d) >= width
    eq(N.nvmlDeviceGetDisplayMode(d), N.NVML_FEATURE_DISABLED, 'display')
    eq(N.nvmlDeviceGetDisplayActive(d), N.NVML_FEATURE_DISABLED, 'display')
    eq(N.nvmlDeviceGetMigMode(d), [0, 0], 'MIG mode')
    tv = N.nvmlDeviceGetTemperatureV(d, N.NVML_TEMPERATURE_GPU)
    eq(N.nvmlDeviceGetMultiGpuBoard(d), 0, 'multi-GPU board')
    assert N.nvmlDeviceGetMemoryBusWidth(d) > 0
    fv = N.nvmlDeviceGetFieldValues(d, [N.NVML_FI_DEV_ECC_CURRENT,
                                        N.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION,
                                        N.NVML_FI_DEV_MEMORY_TEMP])
    eq([f.nvmlReturn for f in fv],
       [0, 0, N.NVML_ERROR_NOT_SUPPORTED], 'field value results')
    eq(fv[0].value.uiVal, ecc[0], 'ECC field value')
    # the board's energy counter only grows (on the sim it stands still)
    assert fv[1].value.ullVal >= energy, (fv[1].value.ullVal, energy)
    # On a GPU the sensors move between two calls (vgpud samples them each
    # second): exact equalities only on the sim's fixed values.
    if sim:  # daemon/hostgpu.c
        eq(clk, [1980, 1980, 2619, 1755], 'clocks')
        eq(clock, clk[1], 'nvmlDeviceGetClock')
        eq((t, tv, slow, shut), (41, 41, 90, 92), 'temperatures')
        eq(ps2, ps, 'power state')
        eq((p, lim, dflt, lo, hi), (112000, 700000, 700000, 200000, 700000),
           'power')
        eq((energy, fv[1].value.ullVal), (1000000, 1000000), 'energy')
        eq((N.nvmlDeviceGetFanSpeed(d), N.nvmlDeviceGetFanSpeed_v2(d, 0),
            N.nvmlDeviceGetNumFans(d)), (30, 30, 1), 'fan')
        eq((ps, ecc, errs, pm, cm), (0, [1, 1], 0, 1, 0), 'state')
        eq((gen, width), (5, 16), 'PCIe')
        eq(N.nvmlDeviceGetMemoryBusWidth(d), 5120, 'memory bus width')
    else:
        assert 0 < t < 120 and 0 < tv < 120 and slow > 0 and shut >= slow
        assert p > 0 and lo <= lim <= hi and dflt > 0, (p, lo, lim, hi)
        assert all(0 < c <= m for c, m in zip(clk, mx)), (clk, mx)
        assert 0 < clock <= mx[1] and ps <= 15 and ps2 <= 15


def processes():
    d = H['d']
    eq(N.nvmlDeviceGetGraphicsRunningProcesses(d), [], 'graphics')
    eq(N.nvmlDeviceGetMPSComputeRunningProcesses(d), [], 'MPS')
    for f in (N.nvmlDeviceGetComputeRunningProcesses,
              N.nvmlDeviceGetComputeRunningProcesses_v2):
        for p in f(d):
            assert p.usedGpuMemory is not None and p.pid > 0
    N.nvmlDeviceGetRunningProcessDetailList(
        d, N.nvmlProcessDetailList_v1, N.NVML_PROCESS_MODE_COMPUTE)


def nvlink():
    for link in range(2):
        try:
            N.nvmlDeviceGetNvLinkState(H['d'], link)
            raise AssertionError('NvLink state answered')
        except N.NVMLError_NotSupported:
            pass


class CUuuid(ctypes.Structure):
    _fields_ = [('bytes', ctypes.c_ubyte * 16)]


def driver_api():
    """The same GPU through libcuda.so.1: identity must match; then this
    process holds 32 MiB and NVML lists it with exactly that."""
    cu = ctypes.CDLL('libcuda.so.1')
    dev = ctypes.c_int()
    eq(cu.cuInit(0), 0, 'cuInit')
    eq(cu.cuDeviceGet(ctypes.byref(dev), 0), 0, 'cuDeviceGet')
    name = ctypes.create_string_buffer(256)
    eq(cu.cuDeviceGetName(name, 256, dev), 0, 'cuDeviceGetName')
    eq(name.value.decode(), H['name'], 'name vs cuDeviceGetName')
    u = CUuuid()
    eq(cu.cuDeviceGetUuid_v2(ctypes.byref(u), dev), 0, 'cuDeviceGetUuid')
    h = bytes(u.bytes).hex()
    want = 'GPU-%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
    eq(H['uuid'], want, 'UUID vs cuDeviceGetUuid')
    bus = ctypes.create_string_buffer(32)
    eq(cu.cuDeviceGetPCIBusId(bus, 32, dev), 0, 'cuDeviceGetPCIBusId')
    eq(bus.value.decode().lower(), H['bus'].lower(), 'bus id')
    total = ctypes.c_size_t()
    eq(cu.cuDeviceTotalMem_v2(ctypes.byref(total), dev), 0, 'TotalMem')
    eq(total.value, H['total'], 'total vs cuDeviceTotalMem')
    ctx = ctypes.c_void_p()
    eq(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), 0, 'ctx')
    eq(cu.cuCtxSetCurrent(ctx), 0, 'cuCtxSetCurrent')
    ptr = ctypes.c_uint64()
    eq(cu.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(32 << 20)), 0,
       'cuMemAlloc')
    import time
    mine = []
    for _ in range(500):  # the daemon refreshes the block every 100 ms
        mine = [p for p in N.nvmlDeviceGetComputeRunningProcesses(H['d'])
                if p.pid == os.getpid()]
        if mine and mine[0].usedGpuMemory == 32 << 20:
            break
        time.sleep(0.01)
    eq([p.usedGpuMemory for p in mine], [32 << 20], 'this process listed')
    eq(cu.cuMemFree_v2(ptr), 0, 'cuMemFree')


for name, fn in (('init', init), ('system', system), ('identity', identity),
                 ('memory', memory), ('sensors', sensors),
                 ('processes', processes), ('nvlink', nvlink),
                 ('driver_api', driver_api)):
    if name != 'init' and 'd' not in H:
        break
    group(name, fn)
try:
    N.nvmlShutdown()
except N.NVMLError as e:
    failed += 1
    print('FAIL shutdown:', e)
print('pynvml: %d passed, %d failed' % (passed, failed))
sys.exit(1 if failed or not passed else 0)
