/* guest/cuda/visible.h - CUDA_VISIBLE_DEVICES, as the real driver reads it.
 *
 * Contract: vgpu_visible_parse(env, uuids, n, out) turns the variable's
 * value into the VM device indices the process sees, in order (its
 * devices 0..k-1), and returns k. Entries are separated by commas and may
 * be padded with blanks; each is a decimal index into the VM's devices or
 * a UUID as the devices report it ("GPU-" and 8-4-4-4-12 hex), or an
 * unambiguous prefix of one (at least "GPU-" and one hex digit; case does
 * not matter). The first entry that is none of these, names no device, or
 * repeats an earlier one ends the list, as with the real driver: the
 * entries before it stay visible ("0,x,1" is device 0 alone; "" or "x" is
 * no device). NULL env: every device, in order. Header-only so the unit
 * tests run it (tests/unit/test_multigpu.c).
 */
#ifndef VGPU_GUEST_CUDA_VISIBLE_H
#define VGPU_GUEST_CUDA_VISIBLE_H

#include "../../ring/vminfo.h" /* VGPU_UUID_STR */
#include <ctype.h>
#include <string.h>
#include <strings.h>

/* The device whose UUID entry e (len bytes) names, or -1. */
static inline int vgpu_visible_uuid(const char *e, size_t len,
				    const char (*uuids)[VGPU_UUID_STR], int n)
{
	int found = -1;
	if (len < 5 || strncasecmp(e, "GPU-", 4))
		return -1;
	for (size_t i = 4; i < len; i++)
		if (!isxdigit((unsigned char)e[i]) && e[i] != '-')
			return -1;
	for (int d = 0; d < n; d++) {
		if (strlen(uuids[d]) < len || strncasecmp(uuids[d], e, len))
			continue;
		if (found >= 0)
			return -1; /* ambiguous prefix */
		found = d;
	}
	return found;
}

/* The device a decimal entry names, or -1. */
static inline int vgpu_visible_index(const char *e, size_t len, int n)
{
	int v = 0;
	if (!len || len > 4)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)e[i]))
			return -1;
		v = v * 10 + (e[i] - '0');
	}
	return v < n ? v : -1;
}

static inline int vgpu_visible_parse(const char *env,
				     const char (*uuids)[VGPU_UUID_STR], int n,
				     int *out)
{
	int k = 0;
	if (!env) {
		for (k = 0; k < n; k++)
			out[k] = k;
		return n;
	}
	for (const char *p = env; k < n;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		while (len && isblank((unsigned char)*p))
			p++, len--;
		while (len && isblank((unsigned char)p[len - 1]))
			len--;
		int d = isdigit((unsigned char)*p) ? vgpu_visible_index(p, len, n)
						   : vgpu_visible_uuid(p, len,
								       uuids, n);
		for (int j = 0; j < k && d >= 0; j++)
			if (out[j] == d)
				d = -1;
		if (d < 0)
			break;
		out[k++] = d;
		if (!comma)
			break;
		p = comma + 1;
	}
	return k;
}

#endif
