/* tests/support/mini/mini_criterion.c - runner for mini/criterion/criterion.h:
 * one forked process per test, suite init/fini, timeouts, and Criterion's
 * closing synthesis line. Flags: --filter SUITE/NAME (fnmatch pattern);
 * Criterion flags such as --jobs and --verbose are accepted and ignored. */
#define _GNU_SOURCE
#include "criterion/criterion.h"
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static struct mc_test *tests;
static struct mc_suite *suites;
static int failures; /* in the child running one test */

void mc_register_test(struct mc_test *t)
{
	t->next = tests;
	tests = t;
}

void mc_register_suite(struct mc_suite *s)
{
	s->next = suites;
	suites = s;
}

void mc_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("[----] ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

bool mc_check(bool ok, bool fatal, const char *file, int line,
	      const char *expr, const char *fmt, ...)
{
	if (ok)
		return true;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[----] %s:%d: Assertion Failed\n[----]   %s\n", file,
		line, expr);
	if (*fmt) {
		fputs("[----]   ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
	failures++;
	if (fatal)
		_exit(1); /* also ends tests that assert from a thread */
	return false;
}

static const struct mc_suite *suite_of(const struct mc_test *t)
{
	for (struct mc_suite *s = suites; s; s = s->next)
		if (!strcmp(s->sname, t->tsuite))
			return s;
	return NULL;
}

/* 0 pass, 1 fail, 2 crash or timeout */
static int run_one(const struct mc_test *t)
{
	const struct mc_suite *s = suite_of(t);
	void (*init)(void) = t->init ? t->init : s ? s->init : NULL;
	void (*fini)(void) = t->fini ? t->fini : s ? s->fini : NULL;
	double to = t->timeout ? t->timeout : s && s->timeout ? s->timeout : 0;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (to > 0)
			alarm((unsigned)(to + 0.999));
		if (init)
			init();
		t->fn();
		if (fini)
			fini();
		fflush(NULL);
		_exit(failures ? 1 : 0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st))
		return WEXITSTATUS(st) ? 1 : 0;
	fprintf(stderr, "[----] %s::%s: %s\n", t->tsuite, t->tname,
		WTERMSIG(st) == SIGALRM ? "Timed out" : strsignal(WTERMSIG(st)));
	return 2;
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--filter") && i + 1 < argc)
			filter = argv[++i];
		else if (!strncmp(argv[i], "--filter=", 9))
			filter = argv[i] + 9;
	int n = 0, pass = 0, fail = 0, crash = 0;
	for (struct mc_test *t = tests; t; t = t->next) {
		char full[256];
		snprintf(full, sizeof(full), "%s/%s", t->tsuite, t->tname);
		if (filter && fnmatch(filter, full, 0) != 0)
			continue;
		fprintf(stderr, "[RUN ] %s::%s\n", t->tsuite, t->tname);
		int r = run_one(t);
		n++;
		pass += r == 0;
		fail += r == 1;
		crash += r == 2;
		fprintf(stderr, "[%s] %s::%s\n", r == 0 ? "PASS" : "FAIL", t->tsuite,
			t->tname);
	}
	fprintf(stderr,
		"[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | "
		"Crashing: %d\n", n, pass, fail, crash);
	return fail || crash ? 1 : 0;
}
