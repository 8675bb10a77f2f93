/* tests/support/mini/criterion/criterion.h - the subset of Criterion's API
 * our tests use, for builds where Criterion cannot run.
 *
 * Why: Criterion aborts at start-up under ThreadSanitizer ("Could not
 * initialize inheritable arena", Snaipe/Criterion#274, open), yet the ring
 * tests must also pass under TSan. The TSan build puts this directory first
 * on the include path, so the same test sources compile against it. Like
 * Criterion, each test runs in its own forked process with its suite's
 * init/fini and a timeout, and the run ends with Criterion's synthesis
 * line. Not supported: parameterised tests, theories, reports.
 */
#ifndef VGPU_MINI_CRITERION_H
#define VGPU_MINI_CRITERION_H

/* Criterion's header pulls these in; tests rely on it. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mc_test {
	const char *tsuite, *tname; /* not suite/name: the macros' parameters */
	void (*fn)(void);
	void (*init)(void);
	void (*fini)(void);
	double timeout;
	struct mc_test *next;
};

struct mc_suite {
	const char *sname;
	void (*init)(void);
	void (*fini)(void);
	double timeout;
	struct mc_suite *next;
};

void mc_register_test(struct mc_test *t);
void mc_register_suite(struct mc_suite *s);
bool mc_check(bool ok, bool fatal, const char *file, int line,
	      const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void mc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define MC_CAT(a, b) a##b
#define Test(suite, name, ...)                                                \
	static void MC_CAT(suite##_, name##_impl)(void);                      \
	static struct mc_test MC_CAT(suite##_, name##_t) = {                  \
		.tsuite = #suite, .tname = #name,                               \
		.fn = MC_CAT(suite##_, name##_impl), __VA_ARGS__};            \
	__attribute__((constructor)) static void MC_CAT(suite##_,             \
							name##_reg)(void)     \
	{                                                                     \
		mc_register_test(&MC_CAT(suite##_, name##_t));                \
	}                                                                     \
	static void MC_CAT(suite##_, name##_impl)(void)

#define TestSuite(suite, ...)                                                 \
	static struct mc_suite MC_CAT(suite, _mc_suite) = {.sname = #suite,   \
							   __VA_ARGS__};      \
	__attribute__((constructor)) static void MC_CAT(suite, _mc_sreg)(void) \
	{                                                                     \
		mc_register_suite(&MC_CAT(suite, _mc_suite));                 \
	}

#define MC_CHECK(fatal, cond, expr, ...)                                      \
	mc_check((cond), (fatal), __FILE__, __LINE__, expr, "" __VA_ARGS__)

#define cr_assert(c, ...) MC_CHECK(1, (c), #c, __VA_ARGS__)
#define cr_expect(c, ...) MC_CHECK(0, (c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) MC_CHECK(1, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_expect_not(c, ...) MC_CHECK(0, !(c), "!(" #c ")", __VA_ARGS__)
#define MC_CMP(f, a, op, b, ...) MC_CHECK(f, (a)op(b), #a " " #op " " #b, __VA_ARGS__)
#define cr_assert_eq(a, b, ...) MC_CMP(1, a, ==, b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) MC_CMP(0, a, ==, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) MC_CMP(1, a, !=, b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) MC_CMP(0, a, !=, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) MC_CMP(1, a, >, b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...) MC_CMP(0, a, >, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) MC_CMP(1, a, >=, b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) MC_CMP(0, a, >=, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) MC_CMP(1, a, <, b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...) MC_CMP(0, a, <, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) MC_CMP(1, a, <=, b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) MC_CMP(0, a, <=, b, __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...)                                           \
	MC_CHECK(0, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_expect_str_neq(a, b, ...)                                          \
	MC_CHECK(0, strcmp((a), (b)) != 0, #a " != " #b, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                           \
	MC_CHECK(1, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_arr_eq(a, b, n, ...)                                        \
	MC_CHECK(1, memcmp((a), (b), (n)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_expect_arr_eq(a, b, n, ...)                                        \
	MC_CHECK(0, memcmp((a), (b), (n)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) MC_CHECK(1, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_null(p, ...) MC_CHECK(0, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) MC_CHECK(1, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) MC_CHECK(0, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_fail(...) MC_CHECK(1, false, "cr_assert_fail", __VA_ARGS__)
#define cr_log_info(...) mc_log(__VA_ARGS__)

#endif
