/* Hugepage-backed regions (daemon/region_huge.c): the region_hugepages key,
 * and the region file's filesystem checked when the region is opened: a
 * region that must be on hugetlbfs but is not is refused with the fix in
 * the message; an ordinary file without the key is accepted. On a machine
 * with a hugetlbfs mount and free huge pages (VGPU_TEST_HUGETLBFS=DIR), a
 * region there is laid out and one not a multiple of the page is refused.
 */
#define _GNU_SOURCE
#include "../../daemon/config.h"
#include "../../daemon/region_file.h"
#include "../../daemon/region_huge.h"
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct vgpud_vm vm_at(const char *path, bool huge, uint64_t size)
{
	struct vgpud_vm vm = {.region_size = size, .region_mode = 0600,
			      .channels = 2, .pinned_pool = size / 8,
			      .region_hugepages = huge};
	snprintf(vm.name, sizeof(vm.name), "h");
	snprintf(vm.file, sizeof(vm.file), "vms.d/h.conf");
	snprintf(vm.region, sizeof(vm.region), "%s", path);
	return vm;
}

Test(bulk_huge, the_key_is_yes_or_no)
{
	char dir[] = "/tmp/vgpud-huge-XXXXXX", p[128];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/vms.d", dir);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/vms.d/a.conf", dir);
	FILE *f = fopen(p, "w");
	fputs("region_hugepages = yes\n", f);
	fclose(f);
	struct vgpud_config *c = calloc(1, sizeof(*c));
	struct vgpud_cfgerr e;
	cr_assert_eq(vgpud_config_load(dir, c, &e), 0);
	cr_expect(c->vms[0].region_hugepages);
	f = fopen(p, "w");
	fputs("region_hugepages = maybe\n", f);
	fclose(f);
	cr_expect_eq(vgpud_config_load(dir, c, &e), -1);
	cr_expect(strstr(e.msg, "yes or no") != NULL, "%s", e.msg);
	f = fopen(p, "w");
	fputs("channels = 4\n", f);
	fclose(f);
	cr_assert_eq(vgpud_config_load(dir, c, &e), 0);
	cr_expect_not(c->vms[0].region_hugepages, "default: no");
	free(c);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

Test(bulk_huge, a_region_not_on_hugetlbfs_is_refused_when_asked)
{
	char path[64], err[512] = "";
	snprintf(path, sizeof(path), "/dev/shm/vgpu-huge-%d", (int)getpid());
	struct vgpud_vm vm = vm_at(path, true, 8u << 20);
	struct vgpu_region r = {0};
	cr_expect_eq(vgpud_region_open(&vm, &r, err, sizeof(err)), -1);
	cr_expect(strstr(err, "not on a hugetlbfs mount") != NULL, "%s", err);
	int fd = open(path, O_RDONLY);
	uint64_t page;
	cr_expect_not(fd >= 0 && vgpud_is_hugetlbfs(fd, &page));
	if (fd >= 0)
		close(fd);
	vm.region_hugepages = false; /* an ordinary file: fine */
	cr_expect_eq(vgpud_region_open(&vm, &r, err, sizeof(err)), 0, "%s",
		     err);
	vgpud_region_close(&r);
	unlink(path);
}

Test(bulk_huge, a_region_on_hugetlbfs_is_laid_out_in_whole_pages)
{
	const char *dir = getenv("VGPU_TEST_HUGETLBFS");
	if (!dir || !*dir) { /* skipped: no huge pages in CI */
		cr_log_info("set VGPU_TEST_HUGETLBFS to a hugetlbfs mount "
			    "with 4 free 2 MiB pages to run this");
		return;
	}
	char path[256], err[512] = "";
	snprintf(path, sizeof(path), "%s/vgpu-huge-%d", dir, (int)getpid());
	struct vgpud_vm vm = vm_at(path, true, 8u << 20);
	struct vgpu_region r = {0};
	cr_assert_eq(vgpud_region_open(&vm, &r, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_eq(r.g.nchannels, 2u);
	vgpud_region_close(&r);
	unlink(path);
	vm = vm_at(path, true, 9u << 20); /* 4.5 huge pages */
	cr_expect_eq(vgpud_region_open(&vm, &r, err, sizeof(err)), -1);
	cr_expect(strstr(err, "multiple of the huge page size") != NULL, "%s",
		  err);
	unlink(path);
}
