/* tests/support/confdir.c - scratch configuration directories (confdir.h). */
#define _GNU_SOURCE
#include "confdir.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void confdir_make(char *dir, size_t n, const char *tag)
{
	char p[160];
	snprintf(dir, n, "/tmp/vgpud-%s-XXXXXX", tag);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/vms.d", dir);
	cr_assert_eq(mkdir(p, 0755), 0);
}

void confdir_put(const char *dir, const char *rel, const char *text)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f, "%s", p);
	fputs(text, f);
	fclose(f);
}

void confdir_unput(const char *dir, const char *rel)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	unlink(p);
}

void confdir_remove(const char *dir)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

int confdir_load(const char *dir, struct vgpud_config *c,
		 struct vgpud_cfgerr *e, char *msg, size_t n)
{
	int rc = vgpud_config_load(dir, c, e);
	vgpud_cfgerr_format(e, msg, n);
	return rc;
}

void confdir_expect_error(const char *dir, struct vgpud_config *c,
			  struct vgpud_cfgerr *e, char *msg, size_t n,
			  const char *file, int line, const char *text)
{
	cr_assert_eq(confdir_load(dir, c, e, msg, n), -1,
		     "expected an error about %s", text);
	cr_expect(strstr(e->file, file) != NULL, "file %s, want %s", e->file,
		  file);
	cr_expect_eq(e->line, line, "line %d, want %d (%s)", e->line, line, msg);
	cr_expect(strstr(msg, text) != NULL, "'%s' lacks '%s'", msg, text);
}
