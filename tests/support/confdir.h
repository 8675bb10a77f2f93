/* A scratch vgpud configuration directory for unit tests: DIR (under
 * /tmp, named for the test) with DIR/vms.d, files written and removed in
 * it, and the tree deleted at the end.
 *
 * Contract: confdir_make() fills dir (at least 64 bytes) and asserts with
 * Criterion that both directories exist; confdir_put() writes TEXT to
 * DIR/REL (asserting it could); confdir_unput() removes DIR/REL if there;
 * confdir_remove() deletes the tree. Only unit tests link this.
 */
#ifndef VGPU_TESTS_CONFDIR_H
#define VGPU_TESTS_CONFDIR_H

#include <stddef.h>

void confdir_make(char *dir, size_t n, const char *tag);
void confdir_put(const char *dir, const char *rel, const char *text);
void confdir_unput(const char *dir, const char *rel);
void confdir_remove(const char *dir);

#endif
