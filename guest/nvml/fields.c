/* guest/nvml/fields.c - the versioned and field-value queries newer tools
 * prefer (nvidia-smi 580, DCGM), answered from the same snapshot as their
 * older forms, plus two board facts the identity already holds.
 *
 * nvmlDeviceGetFieldValues fills each entry with its own result: the few
 * fields vgpu knows get values, every other field NOT_SUPPORTED, and the
 * call itself succeeds, as NVML's does for a field a board lacks. */
#include "internal.h"
#include <cuda.h>
#include <sys/time.h>

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t d,
						    nvmlTemperature_v1_t *t)
{
	if (!t)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (t->version != nvmlTemperature_v1)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	unsigned c;
	nvmlReturn_t r = nvmlDeviceGetTemperature(d, t->sensorType, &c);
	if (!r)
		t->temperature = (int)c;
	return r;
}

static void field(const struct vgpu_vminfo *s, nvmlFieldValue_t *f)
{
	f->latencyUsec = 0;
	f->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
	switch (f->fieldId) {
	case NVML_FI_DEV_ECC_CURRENT:
	case NVML_FI_DEV_ECC_PENDING:
		if (!(s->valid & VGPU_VMI_ECC))
			return;
		f->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
		f->value.uiVal = f->fieldId == NVML_FI_DEV_ECC_CURRENT
					 ? !!s->ecc_current
					 : !!s->ecc_pending;
		break;
	case NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION:
		if (!(s->valid & VGPU_VMI_ENERGY))
			return;
		f->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
		f->value.ullVal = s->energy;
		break;
	default:
		return;
	}
	f->nvmlReturn = NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t d, int count,
						   nvmlFieldValue_t *values)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	if (count < 0 || (count && !values))
		return NVML_ERROR_INVALID_ARGUMENT;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	for (int i = 0; i < count; i++) {
		values[i].timestamp = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
		field(&s, &values[i]);
	}
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t d,
						      unsigned *bits)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	if (!bits)
		return NVML_ERROR_INVALID_ARGUMENT;
	int w = vn_attr(&s, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
	if (w <= 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*bits = (unsigned)w;
	return NVML_SUCCESS;
}

/* The VM's GPU is one device, never half of a dual-GPU board. */
VGPU_EXPORT nvmlReturn_t nvmlDeviceGetMultiGpuBoard(nvmlDevice_t d,
						     unsigned *multi)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	if (!multi)
		return NVML_ERROR_INVALID_ARGUMENT;
	*multi = 0;
	return NVML_SUCCESS;
}
