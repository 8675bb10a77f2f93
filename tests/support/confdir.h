/* A scratch vgpud configuration directory for unit tests: DIR (under
 * /tmp, named for the test) with DIR/vms.d, files written and removed in
 * it, and the tree deleted at the end.
 *
 * Contract: confdir_make() fills dir (at least 64 bytes) and asserts with
 * Criterion that both directories exist; confdir_put() writes TEXT to
 * DIR/REL (asserting it could); confdir_unput() removes DIR/REL if there;
 * confdir_remove() deletes the tree. confdir_load() loads DIR into *c,
 * the error (if any) into *e and its text into msg; confdir_expect_error()
 * does the same and asserts that loading fails and that the error names FILE, LINE and
 * contains TEXT. Only unit tests link this.
 */
#ifndef VGPU_TESTS_CONFDIR_H
#define VGPU_TESTS_CONFDIR_H

#include "../../daemon/config.h"
#include <stddef.h>

void confdir_make(char *dir, size_t n, const char *tag);
void confdir_put(const char *dir, const char *rel, const char *text);
void confdir_unput(const char *dir, const char *rel);
void confdir_remove(const char *dir);
int confdir_load(const char *dir, struct vgpud_config *c,
		 struct vgpud_cfgerr *e, char *msg, size_t n);
void confdir_expect_error(const char *dir, struct vgpud_config *c,
			  struct vgpud_cfgerr *e, char *msg, size_t n,
			  const char *file, int line, const char *text);

#endif
