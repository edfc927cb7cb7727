// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reading a --json report for cowtrace diff. The file may come from another machine, another
 * cowtrace version, or anyone: jansson parses it (strict JSON, valid UTF-8, no NUL in strings,
 * duplicate keys refused, nesting bounded), and every value used is checked for its type and
 * range before it is believed. A key that is absent (or null) reads as 0: older reports lack
 * newer keys. A value of the wrong type is an error, never a silent 0: a gate must not pass on
 * a corrupt input.
 *
 * jansson's names (json_string, json_null, ...) clash with our JSON writer's (json.h): this
 * file is the only one that includes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include "diff.h"
#include "textesc.h"

struct loader {
	char *err;
	size_t errlen;
	int failed; /* 0, or the -errno to return */
};

static int fail(struct loader *l, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Only the first error is kept: later ones follow from it. */
static int fail(struct loader *l, int code, const char *fmt, ...)
{
	va_list ap;

	if (l->failed)
		return l->failed;
	l->failed = code;
	if (l->err && l->errlen) {
		va_start(ap, fmt);
		vsnprintf(l->err, l->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

/* "path.key" in messages; a top-level key has no path */
#define DOT(path) (*(path) ? "." : "")

/* obj[key], or NULL when obj has no such key or it is null. */
static json_t *member(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return v && !json_is_null(v) ? v : NULL;
}

/* A count: a non-negative integer up to DIFF_COUNT_MAX. Absent: 0, and *present false. */
static void get_count(struct loader *l, const json_t *obj, const char *path, const char *key,
		      unsigned long long *out, bool *present)
{
	json_t *v = member(obj, key);
	json_int_t n;

	*out = 0;
	if (present)
		*present = v != NULL;
	if (!v || l->failed)
		return;
	if (!json_is_integer(v)) {
		fail(l, -EINVAL, "%s%s%s: expected a count (a whole number), got %s", path,
		     DOT(path), key, type_name(v));
		return;
	}
	n = json_integer_value(v);
	if (n < 0 || (unsigned long long)n > DIFF_COUNT_MAX) {
		fail(l, -EINVAL, "%s%s%s: %lld is not a page count", path, DOT(path), key,
		     (long long)n);
		return;
	}
	*out = n;
}

/* An object member: NULL when absent; an error when present and not an object. */
static json_t *get_object(struct loader *l, const json_t *obj, const char *path, const char *key)
{
	json_t *v = member(obj, key);

	if (v && !json_is_object(v)) {
		fail(l, -EINVAL, "%s%s%s: expected an object, got %s", path, DOT(path), key,
		     type_name(v));
		return NULL;
	}
	return v;
}

/* A copy of a string member, cut at DIFF_STR_MAX bytes; dflt when absent. */
static char *get_string(struct loader *l, const json_t *obj, const char *path, const char *key,
			const char *dflt)
{
	json_t *v = member(obj, key);
	const char *s = dflt;
	size_t len;
	char *copy;

	if (l->failed)
		return NULL;
	if (v && !json_is_string(v)) {
		fail(l, -EINVAL, "%s%s%s: expected a string, got %s", path, DOT(path), key,
		     type_name(v));
		return NULL;
	}
	if (v)
		s = json_string_value(v);
	len = strnlen(s, DIFF_STR_MAX);
	copy = strndup(s, len);
	if (!copy)
		fail(l, -ENOMEM, "out of memory");
	return copy;
}

/* A number of seconds; NaN when absent. */
static double get_seconds(struct loader *l, const json_t *obj, const char *path, const char *key)
{
	json_t *v = member(obj, key);
	double s;

	if (!v || l->failed)
		return NAN;
	if (!json_is_number(v)) {
		fail(l, -EINVAL, "%s%s%s: expected a number, got %s", path, DOT(path), key,
		     type_name(v));
		return NAN;
	}
	s = json_number_value(v);
	return isfinite(s) ? s : NAN;
}

/* pages, by_kind, by_cause and gc_generations of totals or of one process. */
static void get_counts(struct loader *l, const json_t *obj, const char *path,
		       struct diff_counts *c, unsigned int *missing)
{
	static const char *const gens[DIFF_GENS] = { "0", "1", "2", "unknown" };
	char sub[96];
	const json_t *kind, *cause, *gen;
	bool have_pages, have_gc;
	unsigned long long gsum = 0;
	int i;

	memset(c, 0, sizeof(*c));
	get_count(l, obj, path, "pages", &c->pages, &have_pages);
	kind = get_object(l, obj, path, "by_kind");
	cause = get_object(l, obj, path, "by_cause");
	gen = get_object(l, obj, path, "gc_generations");
	if (l->failed)
		return;
	*missing |= (kind ? 0 : DIFF_NO_BY_KIND) | (cause ? 0 : DIFF_NO_BY_CAUSE) |
		    (gen ? 0 : DIFF_NO_GENERATIONS);
	snprintf(sub, sizeof(sub), "%s.by_kind", path);
	if (kind) {
		get_count(l, kind, sub, "anon", &c->anon, NULL);
		get_count(l, kind, sub, "file", &c->file, NULL);
		get_count(l, kind, sub, "zero", &c->zero, NULL);
	}
	snprintf(sub, sizeof(sub), "%s.gc_generations", path);
	for (i = 0; gen && i < DIFF_GENS; i++) {
		get_count(l, gen, sub, gens[i], &c->gen[i], NULL);
		gsum += c->gen[i];
	}
	/* "other", which the first reports had, is not read: it is always pages - gc */
	snprintf(sub, sizeof(sub), "%s.by_cause", path);
	have_gc = false;
	for (i = 0; cause && i < DIFF_CAUSES; i++)
		get_count(l, cause, sub, i < CAUSE_COUNT ? cow_cause_name(i) : "unattributed",
			  &c->cause[i], i == CAUSE_GC ? &have_gc : NULL);
	if (!have_gc)
		c->cause[CAUSE_GC] = gsum;
	if (!have_pages)
		c->pages = c->anon + c->file;
}

static void get_process(struct loader *l, const json_t *v, size_t i, struct diff_proc *p)
{
	unsigned int ignored = 0;
	char path[48];

	snprintf(path, sizeof(path), "processes[%zu]", i);
	p->start_s = NAN;
	if (!json_is_object(v)) {
		fail(l, -EINVAL, "%s: expected an object, got %s", path, type_name(v));
		return;
	}
	p->role = get_string(l, v, path, "role", "?");
	get_count(l, v, path, "pid", &p->pid, NULL);
	p->start_s = get_seconds(l, v, path, "start_s");
	get_counts(l, v, path, &p->c, &ignored);
}

static void get_object_row(struct loader *l, const json_t *v, size_t i, struct diff_object *o)
{
	char path[48];

	snprintf(path, sizeof(path), "objects[%zu]", i);
	if (!json_is_object(v)) {
		fail(l, -EINVAL, "%s: expected an object, got %s", path, type_name(v));
		return;
	}
	o->cause = get_string(l, v, path, "cause", "?");
	o->type = get_string(l, v, path, "type", "?");
	o->field = get_string(l, v, path, "field", "?");
	get_count(l, v, path, "pages", &o->pages, NULL);
}

/* An array member: NULL (and *n 0) when absent, an error when not an array. */
static json_t *get_array(struct loader *l, const json_t *obj, const char *key, size_t *n)
{
	json_t *v = member(obj, key);

	*n = 0;
	if (v && !json_is_array(v)) {
		fail(l, -EINVAL, "%s: expected an array, got %s", key, type_name(v));
		return NULL;
	}
	if (v)
		*n = json_array_size(v);
	return v;
}

static void get_report(struct loader *l, const json_t *root, struct diff_report *r)
{
	const json_t *tool, *kind, *totals, *procs, *objs;
	size_t i, n;

	if (!json_is_object(root)) {
		fail(l, -EINVAL, "not a cowtrace report (%s, not an object)", type_name(root));
		return;
	}
	tool = member(root, "tool");
	if (!tool || !json_is_string(tool) || strcmp(json_string_value(tool), "cowtrace")) {
		fail(l, -EINVAL, "not a cowtrace report (no \"tool\": \"cowtrace\")");
		return;
	}
	kind = member(root, "kind");
	if (kind && json_is_string(kind) && !strcmp(json_string_value(kind), "diff")) {
		fail(l, -EINVAL, "a cowtrace diff, not a report (compare the reports themselves)");
		return;
	}
	r->version = get_string(l, root, "", "version", "?");
	r->duration_s = get_seconds(l, root, "", "duration_s");
	totals = get_object(l, root, "", "totals");
	if (totals)
		get_counts(l, totals, "totals", &r->total, &r->missing);
	else
		r->missing |= DIFF_NO_TOTALS;

	procs = get_array(l, root, "processes", &n);
	if (!procs)
		r->missing |= DIFF_NO_PROCESSES;
	if (n && !l->failed) {
		r->procs = calloc(n, sizeof(*r->procs));
		if (!r->procs)
			fail(l, -ENOMEM, "out of memory");
	}
	for (i = 0; r->procs && i < n && !l->failed; i++) {
		get_process(l, json_array_get(procs, i), i, &r->procs[i]);
		r->nprocs++; /* what was allocated is freed even when this one failed */
	}

	objs = get_array(l, root, "objects", &n);
	if (!objs)
		r->missing |= DIFF_NO_OBJECTS;
	if (n && !l->failed) {
		r->objs = calloc(n, sizeof(*r->objs));
		if (!r->objs)
			fail(l, -ENOMEM, "out of memory");
	}
	for (i = 0; r->objs && i < n && !l->failed; i++) {
		get_object_row(l, json_array_get(objs, i), i, &r->objs[i]);
		r->nobjs++;
	}
}

int diff_report_parse(const char *text, size_t len, struct diff_report *r, char *err,
		      size_t errlen)
{
	struct loader l = { .err = err, .errlen = errlen };
	json_error_t jerr;
	char esc[4 * sizeof(jerr.text)];
	json_t *root;

	memset(r, 0, sizeof(*r));
	r->duration_s = NAN;
	if (err && errlen)
		err[0] = '\0';
	/* JSON_REJECT_DUPLICATES: {"pages": 1, "pages": 2} is not a report, whichever would win */
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* jansson's message can quote the input: escaped before it reaches a terminal */
		return fail(&l, -EINVAL, "not a cowtrace report: not JSON (line %d, column %d: %s)",
			    jerr.line, jerr.column, text_esc(esc, sizeof(esc), jerr.text));
	}
	get_report(&l, root, r);
	json_decref(root);
	if (l.failed)
		diff_report_free(r);
	return l.failed;
}

int diff_report_load(const char *path, struct diff_report *r, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	memset(r, 0, sizeof(*r));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot read it: %s", strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "cannot read it: %s", strerror(EISDIR));
		return -EISDIR;
	}
	/* one byte more than the limit: a file that fills it is too large */
	buf = malloc(DIFF_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (len <= DIFF_FILE_MAX) {
		n = read(fd, buf + len, DIFF_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			close(fd);
			free(buf);
			snprintf(err, errlen, "cannot read it: %s", strerror(-ret));
			return ret;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	if (len > DIFF_FILE_MAX) {
		free(buf);
		snprintf(err, errlen, "larger than %u MiB: not a cowtrace report",
			 DIFF_FILE_MAX >> 20);
		return -EFBIG;
	}
	ret = diff_report_parse(buf, len, r, err, errlen);
	free(buf);
	return ret;
}

void diff_report_free(struct diff_report *r)
{
	size_t i;

	for (i = 0; i < r->nprocs; i++)
		free(r->procs[i].role);
	for (i = 0; i < r->nobjs; i++) {
		free(r->objs[i].cause);
		free(r->objs[i].type);
		free(r->objs[i].field);
	}
	free(r->procs);
	free(r->objs);
	free(r->version);
	memset(r, 0, sizeof(*r));
	r->duration_s = NAN;
}

const char *diff_missing_text(unsigned int missing, char *buf, size_t len)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} parts[] = {
		{ DIFF_NO_TOTALS, "totals" },
		{ DIFF_NO_BY_KIND, "totals.by_kind" },
		{ DIFF_NO_BY_CAUSE, "totals.by_cause" },
		{ DIFF_NO_GENERATIONS, "totals.gc_generations" },
		{ DIFF_NO_PROCESSES, "processes" },
		{ DIFF_NO_OBJECTS, "objects" },
	};
	size_t i, used = 0;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		int n;

		if (!(missing & parts[i].bit) || used >= len)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", parts[i].name);
		if (n > 0)
			used += n;
	}
	return buf;
}
