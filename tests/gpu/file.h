/* tests/gpu/file.h - read a whole file (a kernel image) into memory, NUL
 * terminated so PTX text works too. Shared by the GPU test programs. */
#ifndef VGPU_TESTS_GPU_FILE_H
#define VGPU_TESTS_GPU_FILE_H

#include <stdio.h>
#include <stdlib.h>

static inline void *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = n >= 0 ? calloc(1, (size_t)n + 1) : NULL;
	if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

#endif
