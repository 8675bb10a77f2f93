/* guest/tools/smi.h - vgpu-smi's parts: the query fields and the views.
 *
 * Contract: vgpu-smi is an nvidia-smi for VMs without NVIDIA's userspace.
 * It is an ordinary NVML program (it links libnvidia-ml.so.1, which in a
 * vgpu guest is guest/nvml), so what it prints is exactly what any NVML
 * program in the VM sees. smi_fields.c knows the --query-gpu fields;
 * smi_views.c prints the default table, -L and -q.
 */
#ifndef VGPU_GUEST_TOOLS_SMI_H
#define VGPU_GUEST_TOOLS_SMI_H

#include "../nvml/nvml_api.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A --query-gpu field: its value (without unit) into out, or an NVML
 * error (NOT_SUPPORTED prints "[N/A]"). */
struct smi_field {
	const char *name;
	const char *alias; /* nvidia-smi's other spelling, or NULL */
	const char *unit;  /* "MiB", "W", ... or NULL */
	const char *help;
	nvmlReturn_t (*get)(nvmlDevice_t d, char *out, size_t n);
};

const struct smi_field *smi_field_find(const char *name);
void smi_fields_help(FILE *f);
/* One CSV line per GPU (and a header unless noheader). 0, or 2 for an
 * unknown field (named on stderr). */
int smi_query_csv(nvmlDevice_t *devs, unsigned n, const char *list,
		  bool header, bool units);

/* Views (smi_views.c). */
void smi_list(nvmlDevice_t *devs, unsigned n);
void smi_table(nvmlDevice_t *devs, unsigned n);
void smi_query(nvmlDevice_t *devs, unsigned n);

/* nvidia-smi's word for an NVML brand ("NVIDIA", "GeForce", ...). */
const char *smi_brand(nvmlBrandType_t b);

/* "Mon Jan  2 15:04:05 2006" and "2006/01/02 15:04:05.000" */
void smi_time(char *out, size_t n, bool csv);

#endif
