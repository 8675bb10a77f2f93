/* guest/tools/vgpu-smi.c - vgpu-smi: nvidia-smi for a vgpu guest.
 *
 * Options and exit status as documented in usage() (the --help text is the
 * manual). All it knows comes from NVML calls, so it shows what every NVML
 * program in the VM sees.
 */
#define _GNU_SOURCE
#include "smi.h"
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs(
"NAME\n"
"    vgpu-smi - show the GPU a vgpu virtual machine has\n"
"\n"
"SYNOPSIS\n"
"    vgpu-smi [-i ID]\n"
"    vgpu-smi [-i ID] -L | --list-gpus\n"
"    vgpu-smi [-i ID] -q | --query\n"
"    vgpu-smi [-i ID] --query-gpu=FIELD[,FIELD...] --format=csv[,noheader][,nounits]\n"
"    vgpu-smi --help-query-gpu | -h | --help\n"
"\n"
"DESCRIPTION\n"
"    vgpu-smi prints what nvidia-smi prints, for virtual machines that use\n"
"    vgpu (a GPU on the host served by vgpud) and have no NVIDIA userspace.\n"
"    It is an ordinary NVML program: it loads libnvidia-ml.so.1, which in a\n"
"    vgpu guest is vgpu's guest library, so it shows exactly what Ollama,\n"
"    PyTorch or any other NVML user in this VM sees, and like them it never\n"
"    starts work on the GPU.\n"
"\n"
"    What the VM sees is its own view of the GPU: memory total is the VM's\n"
"    memory quota (the whole GPU's memory if it has none), free is what the\n"
"    VM can still allocate, used and the process list are this VM's guest\n"
"    processes only, utilization is this VM's share. Clocks, temperature,\n"
"    power and ECC are the physical board's, shared by every VM on it, as\n"
"    vgpud last sampled them (about once a second). Values the host cannot\n"
"    supply print as N/A.\n"
"\n"
"    With no option, prints a summary table of each GPU and the processes\n"
"    using it.\n"
"\n"
"OPTIONS\n"
"    -L, --list-gpus\n"
"        One line per GPU: index, name and UUID. The UUID is the one\n"
"        cuDeviceGetUuid reports in this VM.\n"
"\n"
"    -q, --query\n"
"        Everything known about each GPU, one \"key : value\" per line,\n"
"        grouped by section.\n"
"\n"
"    --query-gpu=FIELDS\n"
"        The comma-separated FIELDS of each GPU as CSV; needs --format.\n"
"        --help-query-gpu lists the fields. nvidia-smi's field names work.\n"
"\n"
"    --format=csv[,noheader][,nounits]\n"
"        CSV output for --query-gpu: noheader drops the header line,\n"
"        nounits prints bare numbers (\"256\" instead of \"256 MiB\").\n"
"\n"
"    -i, --id=ID\n"
"        Only the GPU with this index, UUID (GPU-...) or PCI bus id.\n"
"\n"
"    --help-query-gpu\n"
"        List the fields of --query-gpu and exit.\n"
"\n"
"    -h, --help\n"
"        This text.\n"
"\n"
"EXIT STATUS\n"
"    0  success\n"
"    2  invalid argument or field\n"
"    4  no permission to the vgpu device (add the user to group vgpu)\n"
"    6  no such GPU (-i), or none found\n"
"    9  no vgpu region: vgpud not running, or not a vgpu VM\n"
"    15 the GPU is lost (vgpud stopped describing it)\n"
"\n"
"ENVIRONMENT\n"
"    VGPU_REGION   the region file or BAR to use instead of the ivshmem\n"
"                  device (containers, tests)\n"
"    VGPU_LOG      \"quiet\" silences the library's one-line reports\n"
"\n"
"EXAMPLES\n"
"    vgpu-smi --query-gpu=name,memory.total,memory.free --format=csv\n"
"    vgpu-smi -q | grep -A4 'FB Memory'\n"
"\n"
"SEE ALSO\n"
"    nvidia-smi(1); docs/nvml.md in the vgpu sources (what the VM sees and\n"
"    why).\n", f);
}

static int nvml_exit(nvmlReturn_t r)
{
	switch (r) {
	case NVML_ERROR_NO_PERMISSION: return 4;
	case NVML_ERROR_DRIVER_NOT_LOADED: return 9;
	case NVML_ERROR_GPU_IS_LOST: return 15;
	default: return 6;
	}
}

/* The GPUs to show: all, or the one -i names. */
static int select_gpus(const char *id, nvmlDevice_t *devs, unsigned *n)
{
	unsigned count = 0;
	nvmlReturn_t r = nvmlDeviceGetCount_v2(&count);
	if (r || !count) {
		fprintf(stderr, "No devices were found\n");
		return r ? nvml_exit(r) : 6;
	}
	if (count > 64)
		count = 64;
	*n = 0;
	if (!id) {
		for (unsigned i = 0; i < count; i++)
			if (!nvmlDeviceGetHandleByIndex_v2(i, &devs[*n]))
				(*n)++;
		return *n ? 0 : 6;
	}
	char *end;
	unsigned long idx = strtoul(id, &end, 10);
	if (*id && !*end)
		r = idx < count ? nvmlDeviceGetHandleByIndex_v2((unsigned)idx,
								 &devs[0])
				: NVML_ERROR_NOT_FOUND;
	else if (!strncasecmp(id, "GPU-", 4))
		r = nvmlDeviceGetHandleByUUID(id, &devs[0]);
	else
		r = nvmlDeviceGetHandleByPciBusId_v2(id, &devs[0]);
	if (r) {
		fprintf(stderr, "No devices were found matching \"%s\"\n", id);
		return 6;
	}
	*n = 1;
	return 0;
}

struct opts {
	bool list, query, help_fields;
	const char *fields, *format, *id;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"list-gpus", 0, 0, 'L'}, {"query", 0, 0, 'q'},
		{"query-gpu", 1, 0, 'Q'}, {"format", 1, 0, 'F'},
		{"id", 1, 0, 'i'}, {"help-query-gpu", 0, 0, 'H'},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "Lqi:h", lo, NULL)) != -1) {
		switch (c) {
		case 'L': o->list = true; break;
		case 'q': o->query = true; break;
		case 'Q': o->fields = optarg; break;
		case 'F': o->format = optarg; break;
		case 'i': o->id = optarg; break;
		case 'H': o->help_fields = true; break;
		case 'h': usage(stdout); exit(0);
		default: return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vgpu-smi: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if ((o->fields != NULL) != (o->format != NULL)) {
		fprintf(stderr, "vgpu-smi: --query-gpu and --format=csv go "
				"together\n");
		return 2;
	}
	if (o->format && strncmp(o->format, "csv", 3)) {
		fprintf(stderr, "vgpu-smi: only --format=csv is supported\n");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	if (parse(argc, argv, &o)) {
		fprintf(stderr, "Try 'vgpu-smi --help'.\n");
		return 2;
	}
	if (o.help_fields) {
		smi_fields_help(stdout);
		return 0;
	}
	nvmlReturn_t r = nvmlInit_v2();
	if (r) {
		fprintf(stderr, "vgpu-smi: cannot talk to vgpu: %s\n",
			nvmlErrorString(r));
		return nvml_exit(r);
	}
	nvmlDevice_t devs[64];
	unsigned n = 0;
	int rc = select_gpus(o.id, devs, &n);
	if (!rc) {
		if (o.fields)
			rc = smi_query_csv(devs, n, o.fields,
					   !strstr(o.format, "noheader"),
					   !strstr(o.format, "nounits"));
		else if (o.list)
			smi_list(devs, n);
		else if (o.query)
			smi_query(devs, n);
		else
			smi_table(devs, n);
	}
	nvmlShutdown();
	return rc;
}
