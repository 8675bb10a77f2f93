/* guest/nvml/board.c - the board facts nvidia-smi -q prints: brand, board
 * id, inforom and GSP firmware versions, clocks event reasons, application
 * clocks, and MIG device counts.
 *
 * Contract: values are the physical board's as vgpud sampled them from the
 * host's NVML (ring/vminfo.h, the VGPU_VMI_CLKREASON..GSP groups), or
 * derived from the VM's identity (brand from the name NVML and cuDevice*
 * report). A fact the host could not read answers NOT_SUPPORTED. The VM's
 * GPU is never MIG-partitioned (the host owns MIG), so it has no MIG
 * devices and no handle is a MIG device handle, as on a non-MIG GPU.
 */
#include "internal.h"
#include <string.h>

VN_VAL(nvmlDeviceGetMaxMigDeviceCount, unsigned, VGPU_VMI_IDENTITY, 0)
VN_VAL(nvmlDeviceIsMigDeviceHandle, unsigned, VGPU_VMI_IDENTITY, 0)
VN_VAL(nvmlDeviceGetBoardId, unsigned, VGPU_VMI_BOARDID, s.board_id)
VN_VAL(nvmlDeviceGetCurrentClocksEventReasons, unsigned long long,
    VGPU_VMI_CLKREASON, s.clk_reasons)
VN_VAL(nvmlDeviceGetCurrentClocksThrottleReasons, unsigned long long,
    VGPU_VMI_CLKREASON, s.clk_reasons)
VN_VAL(nvmlDeviceGetSupportedClocksEventReasons, unsigned long long,
    VGPU_VMI_CLKREASON, s.clk_reasons_supported)
VN_VAL(nvmlDeviceGetSupportedClocksThrottleReasons, unsigned long long,
    VGPU_VMI_CLKREASON, s.clk_reasons_supported)

/* NVML's brand follows the product line, which the name spells. */
static nvmlBrandType_t brand_of(const char *name)
{
	static const struct {
		const char *word;
		nvmlBrandType_t brand;
	} lines[] = {
		{"GeForce RTX", NVML_BRAND_GEFORCE_RTX},
		{"GeForce", NVML_BRAND_GEFORCE},
		{"TITAN RTX", NVML_BRAND_TITAN_RTX},
		{"TITAN", NVML_BRAND_TITAN},
		{"Quadro RTX", NVML_BRAND_QUADRO_RTX},
		{"Quadro", NVML_BRAND_QUADRO},
		{"Tesla", NVML_BRAND_TESLA},
		{"NVS", NVML_BRAND_NVS},
		{"NVIDIA RTX", NVML_BRAND_NVIDIA_RTX},
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (strstr(name, lines[i].word))
			return lines[i].brand;
	/* data-center boards since Ampere (A100, H100, ...) */
	return !strncmp(name, "NVIDIA ", 7) ? NVML_BRAND_NVIDIA
					    : NVML_BRAND_UNKNOWN;
}

VN_VAL(nvmlDeviceGetBrand, nvmlBrandType_t, VGPU_VMI_IDENTITY,
    brand_of(s.dev.name))

static nvmlReturn_t app_clock(nvmlDevice_t d, nvmlClockType_t t,
			      unsigned *out, bool dflt)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_APPCLK, out);
	if (!r && (unsigned)t >= VGPU_VMI_NCLK)
		r = NVML_ERROR_INVALID_ARGUMENT;
	unsigned v = r ? 0 : dflt ? s.app_clock_default[t] : s.app_clock[t];
	if (!r && !v) /* a domain without application clocks (SM, video) */
		r = NVML_ERROR_NOT_SUPPORTED;
	if (!r)
		*out = v;
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDevice_t d,
							 nvmlClockType_t t,
							 unsigned *out)
{
	return app_clock(d, t, out, false);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(
	nvmlDevice_t d, nvmlClockType_t t, unsigned *out)
{
	return app_clock(d, t, out, true);
}

/* nvmlDeviceGetClock's application-clock ids (guest/nvml/sensors.c). */
nvmlReturn_t vn_app_clock(nvmlDevice_t d, nvmlClockType_t t, unsigned *out,
			  bool dflt)
{
	return app_clock(d, t, out, dflt);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetInforomImageVersion(nvmlDevice_t d,
							   char *v,
							   unsigned len)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_INFOROM, v);
	return r ? r : vn_str(v, len, s.inforom_image);
}

/* NVML's caller supplies NVML_GSP_FIRMWARE_VERSION_BUF_SIZE (64) bytes;
 * the block's string is shorter. */
VGPU_EXPORT nvmlReturn_t nvmlDeviceGetGspFirmwareVersion(nvmlDevice_t d,
							  char *v)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_GSP, v);
	return r ? r : vn_str(v, 64, s.gsp_version);
}
