/* daemon/sim/sim_ptx.c - kernels, parameter layouts and globals of PTX.
 *
 * Contract: sim_ptx_parse reads NUL-terminated PTX text, as the driver's
 * JIT would, only far enough to know what a module holds:
 *  - ".version X.Y" (newer than 9.0, what a CUDA 13.0 driver reads, is
 *    CUDA_ERROR_UNSUPPORTED_PTX_VERSION) and ".target sm_NN" (newer than
 *    the 9.0 device is CUDA_ERROR_INVALID_PTX); text without .version is
 *    not PTX: CUDA_ERROR_INVALID_IMAGE;
 *  - every module-scope ".entry name(params)": each ".param .type name",
 *    ".param .align N .b8 name[M]" or ".param .type .ptr... name" is laid
 *    out as the PTX ABI does (each at the next multiple of its alignment,
 *    the alignment being .align's or the type's size);
 *  - every module-scope ".global" / ".const" variable that is not
 *    .extern: its size (type x vector x array dimensions, or the number of
 *    initialisers for "[]") and its initialiser (integers, 0f/0d bit
 *    patterns, decimal floats; an address initialiser reads as 0).
 * Function bodies are skipped by brace depth; comments and strings are
 * skipped. Anything malformed is CUDA_ERROR_INVALID_PTX.
 */
#include "sim.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 4096
#define MAX_GLOBAL (1ull << 30)

struct tok {
	const char *s;
	size_t n;
};

struct lex {
	const char *p;
	struct tok t;
};

static bool word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$' || c == '%' ||
	       c == '.';
}

static void skip_space(struct lex *l)
{
	for (;;) {
		while (isspace((unsigned char)*l->p))
			l->p++;
		if (l->p[0] == '/' && l->p[1] == '/') {
			while (*l->p && *l->p != '\n')
				l->p++;
		} else if (l->p[0] == '/' && l->p[1] == '*') {
			const char *e = strstr(l->p + 2, "*/");
			l->p = e ? e + 2 : l->p + strlen(l->p);
		} else {
			return;
		}
	}
}

/* The next token: a word, a "string", or one punctuation character. */
static bool next(struct lex *l)
{
	skip_space(l);
	const char *s = l->p;
	if (!*s)
		return false;
	if (word_char(*s)) {
		while (word_char(*l->p))
			l->p++;
	} else if (*s == '"') {
		const char *e = strchr(s + 1, '"');
		l->p = e ? e + 1 : s + strlen(s);
	} else {
		l->p++;
	}
	l->t = (struct tok){s, (size_t)(l->p - s)};
	return true;
}

static bool is(const struct tok *t, const char *w)
{
	return t->n == strlen(w) && !memcmp(t->s, w, t->n);
}

static bool expect(struct lex *l, const char *w)
{
	return next(l) && is(&l->t, w);
}

static bool is_number(const struct tok *t)
{
	return t->n && isdigit((unsigned char)t->s[0]);
}

/* Unsigned number token (decimal, 0x hex, 0 octal, U suffix). */
static bool number(const struct tok *t, uint64_t *v)
{
	char buf[32], *end;
	if (!is_number(t) || t->n >= sizeof(buf))
		return false;
	memcpy(buf, t->s, t->n);
	buf[t->n] = 0;
	*v = strtoull(buf, &end, 0);
	return !*end || !strcmp(end, "U");
}

/* Size in bytes of a PTX type directive, 0 if it is not one. */
static unsigned type_size(const struct tok *t)
{
	static const struct { const char *n; unsigned size; } types[] = {
		{".b8", 1}, {".u8", 1}, {".s8", 1}, {".b16", 2}, {".u16", 2},
		{".s16", 2}, {".f16", 2}, {".bf16", 2}, {".b32", 4},
		{".u32", 4}, {".s32", 4}, {".f32", 4}, {".f16x2", 4},
		{".bf16x2", 4}, {".b64", 8}, {".u64", 8}, {".s64", 8},
		{".f64", 8}, {".b128", 16}, {".texref", 8},
		{".samplerref", 8}, {".surfref", 8}};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (is(t, types[i].n))
			return types[i].size;
	return 0;
}

static char *dup_tok(const struct tok *t)
{
	char *s = malloc(t->n + 1);
	if (s) {
		memcpy(s, t->s, t->n);
		s[t->n] = 0;
	}
	return s;
}

/* ---- .entry ------------------------------------------------------------- */

/* One ".param ... name[N]" after the ".param"; *end is the token after. */
static CUresult param(struct lex *l, uint32_t *size, uint64_t *align)
{
	uint64_t elem = 0, al = 0, count = 1, v;
	bool ptr = false;
	while (next(l) && l->t.s[0] == '.') {
		if (is(&l->t, ".align")) {
			if (!next(l) || !number(&l->t, &v))
				return CUDA_ERROR_INVALID_PTX;
			if (!ptr) /* after .ptr it is the pointee's alignment */
				al = v;
		} else if (l->t.n >= 4 && !memcmp(l->t.s, ".ptr", 4)) {
			/* ".ptr.global.align 16" is one token, then the number */
			ptr = true;
			if (l->t.n >= 6 && !memcmp(l->t.s + l->t.n - 6, ".align", 6) &&
			    !(next(l) && number(&l->t, &v)))
				return CUDA_ERROR_INVALID_PTX;
		} else if (type_size(&l->t)) {
			elem = type_size(&l->t);
		}
	}
	if (!elem || !l->t.n || !word_char(l->t.s[0]) || !next(l))
		return CUDA_ERROR_INVALID_PTX;
	if (is(&l->t, "[")) {
		if (!next(l) || !number(&l->t, &count) || !expect(l, "]") ||
		    !next(l) || count > SIM_MAX_PARAM_BYTES)
			return CUDA_ERROR_INVALID_PTX;
	}
	if (!al)
		al = elem;
	if (al & (al - 1) || elem * count > SIM_MAX_PARAM_BYTES)
		return CUDA_ERROR_INVALID_PTX;
	*size = (uint32_t)(elem * count);
	*align = al;
	return CUDA_SUCCESS;
}

/* In 64 bits, and checked before it is stored: ".align 4294967296"
 * truncated to 0 in 32 placed the parameter at offset 0, under earlier
 * ones, and argsize (the launch's buffer) came out smaller than the
 * layout: a launch wrote past it (found with tests/fuzz/fuzz_worker.c). */
static CUresult add_param(struct sim_kdesc *k, uint32_t size, uint64_t align)
{
	uint64_t off = ((uint64_t)k->argsize + align - 1) & ~(align - 1);
	if (off + size > SIM_MAX_PARAM_BYTES || k->nparams >= MAX_PARAMS)
		return CUDA_ERROR_INVALID_PTX;
	struct sim_param *v = realloc(k->params, (k->nparams + 1) * sizeof(*v));
	if (!v)
		return CUDA_ERROR_OUT_OF_MEMORY;
	k->params = v;
	v[k->nparams++] = (struct sim_param){(uint32_t)off, size};
	k->argsize = (uint32_t)(off + size);
	return CUDA_SUCCESS;
}

static CUresult params(struct lex *l, struct sim_kdesc *k)
{
	const char *save = l->p;
	if (!next(l) || !is(&l->t, "(")) {
		l->p = save; /* no parameter list */
		return CUDA_SUCCESS;
	}
	if (!next(l))
		return CUDA_ERROR_INVALID_PTX;
	if (is(&l->t, ")"))
		return CUDA_SUCCESS;
	for (;;) {
		uint32_t size;
		uint64_t align;
		if (!is(&l->t, ".param"))
			return CUDA_ERROR_INVALID_PTX;
		CUresult rc = param(l, &size, &align);
		if (!rc)
			rc = add_param(k, size, align);
		if (rc || is(&l->t, ")"))
			return rc;
		if (!is(&l->t, ",") || !next(l))
			return CUDA_ERROR_INVALID_PTX;
	}
}

static CUresult entry(struct lex *l, struct sim_image *im)
{
	struct sim_kdesc k = {0};
	if (!next(l) || !word_char(l->t.s[0]))
		return CUDA_ERROR_INVALID_PTX;
	if (!(k.name = dup_tok(&l->t)))
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult rc = params(l, &k);
	if (!rc && sim_image_add_kernel(im, &k))
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (rc) {
		sim_detail("PTX: cannot read the parameters of .entry %s",
			   k.name);
		free(k.name);
		free(k.params);
	}
	return rc;
}

/* ---- .global / .const --------------------------------------------------- */

struct var {
	uint64_t elem, count;      /* count 0: "[]", from the initialiser */
	uint8_t *data;
	uint64_t ninit, cap;
};

/* Store one initialiser element (little-endian, elem bytes). */
static CUresult store(struct var *v, uint64_t bits)
{
	if (v->ninit * v->elem >= MAX_GLOBAL)
		return CUDA_ERROR_INVALID_PTX;
	if ((v->ninit + 1) * v->elem > v->cap) {
		/* at least one element more: a ".v8 .b128" element is 128
		 * bytes, and the first 64-byte buffer took only half of it
		 * (found with tests/fuzz/fuzz_worker.c) */
		uint64_t cap = v->cap ? v->cap * 2 : 64;
		while (cap < (v->ninit + 1) * v->elem)
			cap *= 2;
		uint8_t *d = realloc(v->data, cap);
		if (!d)
			return CUDA_ERROR_OUT_OF_MEMORY;
		v->data = d;
		v->cap = cap;
	}
	for (uint64_t i = 0; i < v->elem; i++)
		v->data[v->ninit * v->elem + i] = i < 8 ? (uint8_t)(bits >> (8 * i)) : 0;
	v->ninit++;
	return CUDA_SUCCESS;
}

/* The bits of one literal as an element of elem bytes. */
static uint64_t literal(const struct tok *t, uint64_t elem, bool neg)
{
	char buf[64];
	uint64_t v = 0;
	size_t n = t->n < sizeof(buf) - 1 ? t->n : sizeof(buf) - 1;
	memcpy(buf, t->s, n);
	buf[n] = 0;
	if ((buf[1] == 'f' || buf[1] == 'F' || buf[1] == 'd' || buf[1] == 'D') &&
	    buf[0] == '0')
		return strtoull(buf + 2, NULL, 16); /* 0f / 0d bit patterns */
	if (strpbrk(buf, ".eE") && !strpbrk(buf, "xX")) {
		double d = strtod(buf, NULL) * (neg ? -1 : 1);
		float f = (float)d;
		if (elem == 4)
			memcpy(&v, &f, 4);
		else
			memcpy(&v, &d, 8);
		return v;
	}
	number(t, &v);
	return neg ? (uint64_t)0 - v : v;
}

static CUresult initialiser(struct lex *l, struct var *v)
{
	int depth = 0;
	bool neg = false;
	while (next(l)) {
		CUresult rc = CUDA_SUCCESS;
		if (is(&l->t, "{"))
			depth++;
		else if (is(&l->t, "}"))
			depth--;
		else if (is(&l->t, "-"))
			neg = true;
		else if (is(&l->t, ";") && depth == 0)
			return CUDA_SUCCESS;
		else if (is(&l->t, "(")) /* generic(sym): counted at its name */
			while (next(l) && !is(&l->t, ")"))
				;
		else if (word_char(l->t.s[0])) {
			rc = store(v, is_number(&l->t) ? literal(&l->t, v->elem, neg) : 0);
			neg = false;
		}
		if (rc || depth < 0)
			return rc ? rc : CUDA_ERROR_INVALID_PTX;
	}
	return CUDA_ERROR_INVALID_PTX;
}

/* Attributes, name and dimensions; l->t is left after them. */
static CUresult declarator(struct lex *l, struct var *v, struct tok *name)
{
	uint64_t vec = 1, n;
	while (next(l) && l->t.s[0] == '.') {
		if (is(&l->t, ".align") && !(next(l) && number(&l->t, &n)))
			return CUDA_ERROR_INVALID_PTX;
		if (is(&l->t, ".v2") || is(&l->t, ".v4") || is(&l->t, ".v8"))
			vec = (uint64_t)(l->t.s[2] - '0');
		if (type_size(&l->t))
			v->elem = type_size(&l->t);
	}
	if (!v->elem || !word_char(l->t.s[0]))
		return CUDA_ERROR_INVALID_PTX;
	*name = l->t;
	v->elem *= vec;
	v->count = 1;
	while (next(l) && is(&l->t, "[")) {
		if (!next(l))
			return CUDA_ERROR_INVALID_PTX;
		if (is(&l->t, "]")) {
			v->count = 0;
			continue;
		}
		uint64_t sofar = (v->count ? v->count : 1) * v->elem;
		if (!number(&l->t, &n) || !expect(l, "]") || !n ||
		    n > MAX_GLOBAL / sofar)
			return CUDA_ERROR_INVALID_PTX;
		v->count *= n;
	}
	return CUDA_SUCCESS;
}

static CUresult global(struct lex *l, struct sim_image *im)
{
	struct var v = {0};
	struct tok name;
	CUresult rc = declarator(l, &v, &name);
	if (!rc && is(&l->t, "="))
		rc = initialiser(l, &v);
	else if (!rc && !is(&l->t, ";"))
		rc = CUDA_ERROR_INVALID_PTX;
	uint64_t count = v.count ? v.count : v.ninit;
	struct sim_gdesc g = {.size = count * v.elem, .owned = v.data,
			      .init = v.data,
			      .init_len = v.ninit * v.elem};
	if (!rc && (g.init_len > g.size || !g.size))
		rc = CUDA_ERROR_INVALID_PTX;
	if (!rc && !(g.name = dup_tok(&name)))
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (!rc && sim_image_add_global(im, &g))
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (rc) {
		free(g.name);
		free(v.data);
	}
	return rc;
}

/* ---- module scope ------------------------------------------------------- */

/* "X.Y" or "sm_NN[a|f]" as NN (X*10+Y). */
static int version_of(const struct tok *t, size_t skip)
{
	int v = 0, digits = 0;
	for (size_t i = skip; i < t->n && digits < 4; i++)
		if (isdigit((unsigned char)t->s[i])) {
			v = v * 10 + (t->s[i] - '0');
			digits++;
		} else if (t->s[i] != '.') {
			break;
		}
	return digits ? v : -1;
}

static CUresult directive(struct lex *l, struct sim_image *im, bool *ext,
			  bool *seen_version)
{
	const struct tok t = l->t;
	if (is(&t, ".extern")) {
		*ext = true;
		return CUDA_SUCCESS;
	}
	if (is(&t, ".version")) {
		*seen_version = true;
		if (!next(l) || version_of(&l->t, 0) < 0)
			return CUDA_ERROR_INVALID_PTX;
		return version_of(&l->t, 0) > 90 ?
			CUDA_ERROR_UNSUPPORTED_PTX_VERSION : CUDA_SUCCESS;
	}
	if (is(&t, ".target")) {
		if (!next(l) || l->t.n < 4 || memcmp(l->t.s, "sm_", 3))
			return CUDA_ERROR_INVALID_PTX;
		im->ptx_version = version_of(&l->t, 3);
		return im->ptx_version > SIM_SM_VERSION ? CUDA_ERROR_INVALID_PTX :
							  CUDA_SUCCESS;
	}
	if (is(&t, ".entry"))
		return entry(l, im);
	if ((is(&t, ".global") || is(&t, ".const")) && !*ext)
		return global(l, im);
	return CUDA_SUCCESS;
}

CUresult sim_ptx_parse(const char *text, struct sim_image *im)
{
	struct lex l = {.p = text};
	int depth = 0;
	bool ext = false, seen_version = false;
	CUresult rc = CUDA_SUCCESS;
	while (!rc && next(&l)) {
		if (is(&l.t, "{"))
			depth++;
		else if (is(&l.t, "}"))
			depth--;
		else if (is(&l.t, ";"))
			ext = false;
		else if (depth == 0 && l.t.s[0] == '.')
			rc = directive(&l, im, &ext, &seen_version);
		if (depth < 0)
			rc = CUDA_ERROR_INVALID_PTX;
		if (!seen_version && depth == 0 && l.t.s[0] == '.' && !rc &&
		    !is(&l.t, ".version"))
			rc = CUDA_ERROR_INVALID_IMAGE; /* PTX starts with .version */
	}
	if (!rc && !seen_version)
		rc = CUDA_ERROR_INVALID_IMAGE;
	if (!rc && depth)
		rc = CUDA_ERROR_INVALID_PTX;
	im->binary_version = SIM_SM_VERSION;
	if (rc == CUDA_ERROR_INVALID_IMAGE)
		sim_detail("image is neither a cubin, a fatbin, a fatbin wrapper "
			   "nor PTX text");
	else if (rc && !*vgpu_sim_last_error_detail())
		sim_detail("PTX rejected");
	return rc;
}
