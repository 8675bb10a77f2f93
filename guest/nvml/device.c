/* guest/nvml/device.c - enumeration and identity of the virtual GPU.
 *
 * Name, UUID and PCI bus id are the daemon's virtual identity, the very
 * struct cuDeviceGetName/GetUuid/GetPCIBusId answer from, so programs that
 * match NVML devices to CUDA devices (Ollama's ggml patch, by UUID;
 * PyTorch, by bus id) find the same GPU. The serial number is derived from
 * the per-VM UUID: stable for the VM, and it names no physical board. */
#include "internal.h"
#include <cuda.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vn_attr(const struct vgpu_vminfo *s, int attr)
{
	if (attr < 0 || (uint32_t)attr >= s->dev.nattrs ||
	    s->dev.attrs[attr] == VGPU_CU_ATTR_INVALID)
		return 0;
	return s->dev.attrs[attr];
}

void vn_uuid(const struct vgpu_vminfo *s, char out[VGPU_UUID_STR])
{
	vgpu_uuid_str(s->dev.uuid, out);
}

void vn_serial(const struct vgpu_vminfo *s, char out[32])
{
	uint64_t v;
	memcpy(&v, s->dev.uuid + 8, 8);
	snprintf(out, 32, "1%012llu", (unsigned long long)(v % 1000000000000ull));
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *count)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_snapshot(&s);
	if (r)
		return r;
	if (!count)
		return NVML_ERROR_INVALID_ARGUMENT;
	*count = vn_count(&s);
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned *count)
{
	return nvmlDeviceGetCount_v2(count);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned i,
							nvmlDevice_t *d)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_snapshot(&s);
	if (r)
		return r;
	if (!d || i >= vn_count(&s))
		return NVML_ERROR_INVALID_ARGUMENT;
	*d = vn_handle_of(i);
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned i,
						     nvmlDevice_t *d)
{
	return nvmlDeviceGetHandleByIndex_v2(i, d);
}

/* A lookup by some key: NOT_FOUND unless it names our device. */
static nvmlReturn_t find(const char *key, nvmlDevice_t *d,
			 bool (*match)(const struct vgpu_vminfo *, const char *))
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_snapshot(&s);
	if (r)
		return r;
	if (!key || !d)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (unsigned i = 0; i < vn_count(&s); i++) {
		struct vgpu_vminfo one = s;
		vn_select(&one, i);
		if (match(&one, key)) {
			*d = vn_handle_of(i);
			return NVML_SUCCESS;
		}
	}
	return NVML_ERROR_NOT_FOUND;
}

static bool match_uuid(const struct vgpu_vminfo *s, const char *key)
{
	char u[VGPU_UUID_STR];
	vn_uuid(s, u);
	return !strcasecmp(u, key);
}

static bool match_serial(const struct vgpu_vminfo *s, const char *key)
{
	char sn[32];
	vn_serial(s, sn);
	return !strcmp(sn, key);
}

/* "[domain:]bus:device[.function]", hexadecimal, NVML's and CUDA's
 * spellings alike ("0000:01:00.0", "00000000:01:00.0"). */
static bool parse_bus_id(const char *id, unsigned v[3])
{
	unsigned a, b, c, f = 0;
	char end;
	int n = sscanf(id, "%x:%x:%x.%x%c", &a, &b, &c, &f, &end);
	if (n == 3 || n == 4) {
		v[0] = a, v[1] = b, v[2] = c;
		return true;
	}
	n = sscanf(id, "%x:%x.%x%c", &b, &c, &f, &end);
	if (n == 2 || n == 3) {
		v[0] = 0, v[1] = b, v[2] = c;
		return true;
	}
	return false;
}

static bool match_bus(const struct vgpu_vminfo *s, const char *key)
{
	unsigned want[3];
	return parse_bus_id(key, want) &&
	       want[0] == (unsigned)vn_attr(s, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID) &&
	       want[1] == (unsigned)vn_attr(s, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID) &&
	       want[2] == (unsigned)vn_attr(s, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid,
						    nvmlDevice_t *d)
{
	return find(uuid, d, match_uuid);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetHandleBySerial(const char *serial,
						      nvmlDevice_t *d)
{
	return find(serial, d, match_serial);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *id,
							   nvmlDevice_t *d)
{
	return find(id, d, match_bus);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *id,
							nvmlDevice_t *d)
{
	return find(id, d, match_bus);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name,
					    unsigned len)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	return r ? r : vn_str(name, len, s.dev.name);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid,
					    unsigned len)
{
	struct vgpu_vminfo s;
	char u[VGPU_UUID_STR];
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	vn_uuid(&s, u);
	return vn_str(uuid, len, u);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t d, char *serial,
					      unsigned len)
{
	struct vgpu_vminfo s;
	char sn[32];
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	vn_serial(&s, sn);
	return vn_str(serial, len, sn);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t d, unsigned *index)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	if (!index)
		return NVML_ERROR_INVALID_ARGUMENT;
	*index = (unsigned)vn_index(d);
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t d,
						   unsigned *minor)
{
	return nvmlDeviceGetIndex(d, minor); /* /dev/nvidia0 */
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d,
							     int *major,
							     int *minor)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	if (!major || !minor)
		return NVML_ERROR_INVALID_ARGUMENT;
	*major = vn_attr(&s, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
	*minor = vn_attr(&s, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t d,
						    nvmlDeviceArchitecture_t *a)
{
	int major, minor;
	nvmlReturn_t r = nvmlDeviceGetCudaComputeCapability(d, &major, &minor);
	if (r)
		return r;
	if (!a)
		return NVML_ERROR_INVALID_ARGUMENT;
	switch (major) {
	case 3: *a = NVML_DEVICE_ARCH_KEPLER; break;
	case 5: *a = NVML_DEVICE_ARCH_MAXWELL; break;
	case 6: *a = NVML_DEVICE_ARCH_PASCAL; break;
	case 7: *a = minor >= 5 ? NVML_DEVICE_ARCH_TURING
				: NVML_DEVICE_ARCH_VOLTA; break;
	case 8: *a = minor >= 9 ? NVML_DEVICE_ARCH_ADA
				: NVML_DEVICE_ARCH_AMPERE; break;
	case 9: *a = NVML_DEVICE_ARCH_HOPPER; break;
	case 10: case 11: case 12: *a = NVML_DEVICE_ARCH_BLACKWELL; break;
	default: *a = NVML_DEVICE_ARCH_UNKNOWN; break;
	}
	return NVML_SUCCESS;
}

/* PCI: the guest's bus id and the device/vendor ids of the real GPU. */
static nvmlReturn_t pci(nvmlDevice_t d, unsigned v[5], char full[32])
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	v[0] = (unsigned)vn_attr(&s, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID);
	v[1] = (unsigned)vn_attr(&s, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID);
	v[2] = (unsigned)vn_attr(&s, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID);
	v[3] = s.pci_device_id;
	v[4] = s.pci_subsys_id;
	/* "00000000:01:00.0"; the legacy spelling is its last 12 bytes */
	snprintf(full, 32, "%08X:%02X:%02X.0", v[0] & 0xffff, v[1] & 0xff,
		 v[2] & 0xff);
	return NVML_SUCCESS;
}

/* "0000:01:00.0": the domain in four digits, the form v1 and v2 use */
static void legacy(char dst[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE],
		   const char *full)
{
	memcpy(dst, full + 4, 12);
	dst[12] = 0;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d,
						  nvmlPciInfo_t *p)
{
	unsigned v[5];
	char full[32];
	nvmlReturn_t r = pci(d, v, full);
	if (r)
		return r;
	if (!p)
		return NVML_ERROR_INVALID_ARGUMENT;
	memset(p, 0, sizeof(*p));
	legacy(p->busIdLegacy, full);
	snprintf(p->busId, sizeof(p->busId), "%s", full);
	p->domain = v[0], p->bus = v[1], p->device = v[2];
	p->pciDeviceId = v[3], p->pciSubSystemId = v[4];
	return NVML_SUCCESS;
}

/* v1 and v2: the legacy layout with the short bus id. */
static nvmlReturn_t pci_legacy(nvmlDevice_t d, nvmlPciInfo_v2_t *p)
{
	unsigned v[5];
	char full[32];
	nvmlReturn_t r = pci(d, v, full);
	if (r)
		return r;
	if (!p)
		return NVML_ERROR_INVALID_ARGUMENT;
	memset(p, 0, sizeof(*p));
	legacy(p->busId, full);
	p->domain = v[0], p->bus = v[1], p->device = v[2];
	p->pciDeviceId = v[3], p->pciSubSystemId = v[4];
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t d,
						  nvmlPciInfo_v2_t *p)
{
	return pci_legacy(d, p);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t d,
					       nvmlPciInfo_v2_t *p)
{
	return pci_legacy(d, p);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetPciInfoExt(nvmlDevice_t d,
						  nvmlPciInfoExt_v1_t *p)
{
	unsigned v[5];
	char full[32];
	nvmlReturn_t r = pci(d, v, full);
	if (r)
		return r;
	if (!p)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (p->version != nvmlPciInfoExt_v1)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	snprintf(p->busId, sizeof(p->busId), "%s", full);
	p->domain = v[0], p->bus = v[1], p->device = v[2];
	p->pciDeviceId = v[3], p->pciSubSystemId = v[4];
	p->baseClass = 0x03, p->subClass = 0x02; /* 3D controller */
	return NVML_SUCCESS;
}

static nvmlReturn_t board_string(nvmlDevice_t d, char *out, unsigned len,
				 size_t field)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	const char *v = (const char *)&s + field;
	return v[0] ? vn_str(out, len, v) : NVML_ERROR_NOT_SUPPORTED;
}

/* The physical board's, as the host's NVML reports them. */
VGPU_EXPORT nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t d, char *v,
						    unsigned len)
{
	return board_string(d, v, len, offsetof(struct vgpu_vminfo,
						vbios_version));
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetBoardPartNumber(nvmlDevice_t d,
						       char *v, unsigned len)
{
	return board_string(d, v, len, offsetof(struct vgpu_vminfo, board_part));
}
