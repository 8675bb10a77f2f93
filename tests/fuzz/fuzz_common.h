/* tests/fuzz/fuzz_common.h - what both fuzz harnesses share: the step
 * trace, the failure report, CHECK, and the little-endian input reader.
 * Include once, after defining FUZZ_NAME ("fuzz_host") and FUZZ_STEP
 * ("op", "message"): the words the reports use. */
#ifndef VGPU_FUZZ_COMMON_H
#define VGPU_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool trace_on;
static unsigned step_index; /* which op/message of the input is running */

static void tracef(const char *fmt, ...)
{
	if (!trace_on)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[%4u] ", step_index);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

__attribute__((noreturn, format(printf, 3, 4))) static void
fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "\n%s: CONTRACT VIOLATION (%s:%d, %s #%u): ", FUZZ_NAME,
		file, line, FUZZ_STEP, step_index);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond))                                                 \
			fail(__FILE__, __LINE__, "!(" #cond ") " __VA_ARGS__); \
	} while (0)

static const uint8_t *in_p;
static size_t in_n;

static uint8_t u8(void)
{
	if (!in_n)
		return 0;
	in_n--;
	return *in_p++;
}
/* Little-endian; one read per statement, since the operands of | are
 * unsequenced and the byte order must not depend on the compiler. */
static uint16_t u16(void)
{
	uint16_t lo = u8();
	return (uint16_t)(lo | (unsigned)u8() << 8);
}
static uint32_t u32(void)
{
	uint32_t lo = u16();
	return lo | (uint32_t)u16() << 16;
}
static uint64_t u64(void)
{
	uint64_t lo = u32();
	return lo | (uint64_t)u32() << 32;
}

#endif
