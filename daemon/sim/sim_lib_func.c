/* daemon/sim/sim_lib_func.c - cuFuncSetAttribute and cuFuncGetName for
 * the sim, as the library and kernel API uses them.
 *
 * Contract: cuFuncGetName returns the kernel's name, valid while its
 * module is loaded. cuFuncSetAttribute accepts the settable attributes
 * with the ranges the CUDA reference gives (dynamic shared memory up to
 * the device's opt-in limit minus the kernel's static shared memory,
 * carveout -1..100, cluster flags) and refuses the rest with
 * CUDA_ERROR_INVALID_VALUE; a value set is what cuFuncGetAttribute answers
 * from then on (sim_module.c asks sim_func_attr_override). Set values live
 * in a small side table keyed by function, dropped with the function.
 *
 * Both entry points are weak: the stream area implements them as well
 * (daemon/sim/sim_stream_func.c on its branch, with the values kept in
 * struct sim_func); its strong definitions replace these when both are
 * linked, and this table then stays empty.
 */
#include "sim.h"
#include <stdlib.h>

#define SIM_SHARED_OPTIN 232448 /* sim_attr.c: MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */

struct attr_set {
	const struct sim_func *f;
	CUfunction_attribute a;
	int v;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct attr_set *sets;
static size_t nsets, capsets;

bool sim_func_attr_override(const struct sim_func *f, CUfunction_attribute a,
			    int *v)
{
	bool found = false;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nsets && !found; i++)
		if (sets[i].f == f && sets[i].a == a) {
			*v = sets[i].v;
			found = true;
		}
	pthread_mutex_unlock(&mu);
	return found;
}

void sim_func_attr_forget(const struct sim_func *f)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nsets;)
		if (sets[i].f == f)
			sets[i] = sets[--nsets];
		else
			i++;
	pthread_mutex_unlock(&mu);
}

static CUresult remember(const struct sim_func *f, CUfunction_attribute a,
			 int v)
{
	CUresult rc = CUDA_SUCCESS;
	pthread_mutex_lock(&mu);
	size_t i = 0;
	while (i < nsets && !(sets[i].f == f && sets[i].a == a))
		i++;
	if (i == nsets && nsets == capsets) {
		size_t cap = capsets ? capsets * 2 : 16;
		struct attr_set *n = realloc(sets, cap * sizeof(*n));
		if (!n) {
			rc = CUDA_ERROR_OUT_OF_MEMORY;
			goto out;
		}
		sets = n;
		capsets = cap;
	}
	if (i == nsets)
		nsets++;
	sets[i] = (struct attr_set){f, a, v};
out:
	pthread_mutex_unlock(&mu);
	return rc;
}

static bool settable(const struct sim_func *f, CUfunction_attribute a, int v)
{
	switch (a) {
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
		return v >= 0 && v <= SIM_SHARED_OPTIN - (int)f->d.shared;
	case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
		return v >= -1 && v <= 100;
	case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
		return v == 0 || v == 1;
	case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
		return v >= CU_CLUSTER_SCHEDULING_POLICY_DEFAULT &&
		       v <= CU_CLUSTER_SCHEDULING_POLICY_LOAD_BALANCING;
	default:
		return false;
	}
}

__attribute__((weak)) CUresult
sim_cuFuncSetAttribute(CUfunction h, CUfunction_attribute a, int v)
{
	CUresult rc = sim_enter_handle();
	if (rc)
		return rc;
	struct sim_func *f = (struct sim_func *)sim_obj_get(h, SIM_FUNC);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	rc = settable(f, a, v) ? remember(f, a, v) : CUDA_ERROR_INVALID_VALUE;
	sim_obj_put(&f->obj);
	return rc;
}

__attribute__((weak)) CUresult
sim_cuFuncGetName(const char **name, CUfunction h)
{
	CUresult rc = sim_enter_handle();
	if (rc)
		return rc;
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_func *f = (struct sim_func *)sim_obj_get(h, SIM_FUNC);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	*name = f->d.name; /* the module keeps it while loaded */
	sim_obj_put(&f->obj);
	return CUDA_SUCCESS;
}

