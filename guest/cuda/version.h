/* guest/cuda/version.h - the CUDA driver version the guest library reports.
 *
 * Contract: VGPU_CUDA_DRIVER_VERSION is what cuDriverGetVersion() returns
 * (1000 * major + 10 * minor) and the newest cudaVersion cuGetProcAddress()
 * accepts. cudart fails with cudaErrorInsufficientDriver on a driver of
 * an older major version than its own, so this must be at least 13000 for
 * the CUDA 13 toolkits guests use.
 */
#ifndef VGPU_GUEST_CUDA_VERSION_H
#define VGPU_GUEST_CUDA_VERSION_H

#define VGPU_CUDA_DRIVER_VERSION 13000

#endif
