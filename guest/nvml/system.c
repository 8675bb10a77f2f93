/* guest/nvml/system.c - driver, CUDA and NVML versions.
 *
 * The driver version is the host kernel driver's (what nvidia-smi on the
 * host shows): Ollama's compatibility gates read its major number. The
 * CUDA driver version is the one cuDriverGetVersion reports in the same
 * guest: the host's, capped at the CUDA version the guest libcuda serves. */
#include "internal.h"
#include "../cuda/version.h"
#include <stdio.h>

static int cuda_version(const struct vgpu_vminfo *s)
{
	int host = vn_present(s) ? s->dev.driver_version : 0;
	return host && host < VGPU_CUDA_DRIVER_VERSION ? host
						       : VGPU_CUDA_DRIVER_VERSION;
}

VGPU_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *v, unsigned len)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_snapshot(&s);
	if (r)
		return r;
	if (!s.driver_version[0])
		return NVML_ERROR_NOT_SUPPORTED;
	return vn_str(v, len, s.driver_version);
}

VGPU_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *v, unsigned len)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_snapshot(&s);
	if (r)
		return r;
	char buf[VGPU_VMINFO_STR + 16];
	/* NVML's form: the CUDA major version, then the driver's */
	snprintf(buf, sizeof(buf), "%d.%s", cuda_version(&s) / 1000,
		 s.driver_version[0] ? s.driver_version : "0");
	return vn_str(v, len, buf);
}

VGPU_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_snapshot(&s);
	if (r)
		return r;
	if (!v)
		return NVML_ERROR_INVALID_ARGUMENT;
	*v = cuda_version(&s);
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v)
{
	return nvmlSystemGetCudaDriverVersion_v2(v);
}
