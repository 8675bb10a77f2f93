/* daemon/sim/sim_lib.c - what the library and kernel API needs of the
 * sim: a module's functions.
 *
 * Contract: cuModuleGetFunctionCount / cuModuleEnumerateFunctions list a
 * module's kernels in image order (handles valid while it is loaded).
 */
#include "sim.h"

CUresult sim_cuModuleGetFunctionCount(unsigned int *count, CUmodule h)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_module *m = (struct sim_module *)sim_obj_get(h, SIM_MODULE);
	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	struct sim_func *const *f;
	*count = (unsigned)sim_module_funcs(m, &f);
	sim_obj_put((struct sim_obj *)m);
	return CUDA_SUCCESS;
}

CUresult sim_cuModuleEnumerateFunctions(CUfunction *out, unsigned int n,
					CUmodule h)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!out || !n)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_module *m = (struct sim_module *)sim_obj_get(h, SIM_MODULE);
	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	struct sim_func *const *f;
	size_t nf = sim_module_funcs(m, &f);
	for (size_t i = 0; i < nf && i < n; i++)
		out[i] = (CUfunction)f[i];
	sim_obj_put((struct sim_obj *)m);
	return CUDA_SUCCESS;
}
