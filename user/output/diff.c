// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cowtrace diff: two reports side by side (see diff.h). Every figure is a pair (A, B) with its
 * change and change in percent; the text and the JSON print the same pairs, and the gate reads
 * them by name.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include "diff.h"
#include "gate.h"
#include "json.h"
#include "log.h"
#include "outfile.h"
#include "textesc.h"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_GATE = 3 };

/* Sums stop here, so that a difference of two always fits a long long. */
#define SUM_MAX (1ULL << 62)
/* More roles than this (a hostile report can name thousands) share one row. */
#define MAX_ROLES 16
#define OTHER_ROLES "(other roles)"

static unsigned long long sat_add(unsigned long long a, unsigned long long b)
{
	return a >= SUM_MAX || b >= SUM_MAX - a ? SUM_MAX : a + b;
}

void diff_counts_add(struct diff_counts *sum, const struct diff_counts *c)
{
	int i;

	sum->pages = sat_add(sum->pages, c->pages);
	sum->anon = sat_add(sum->anon, c->anon);
	sum->file = sat_add(sum->file, c->file);
	sum->zero = sat_add(sum->zero, c->zero);
	for (i = 0; i < DIFF_CAUSES; i++)
		sum->cause[i] = sat_add(sum->cause[i], c->cause[i]);
	for (i = 0; i < DIFF_GENS; i++)
		sum->gen[i] = sat_add(sum->gen[i], c->gen[i]);
}

static unsigned long long other_pages(const struct diff_counts *c)
{
	return c->pages > c->cause[CAUSE_GC] ? c->pages - c->cause[CAUSE_GC] : 0;
}

double diff_change_pct(double a, double b)
{
	if (isnan(a) || isnan(b))
		return NAN;
	if (a == 0)
		return b == 0 ? 0 : NAN;
	return 100.0 * (b - a) / a;
}

static long long change(unsigned long long a, unsigned long long b)
{
	return (long long)b - (long long)a; /* both below SUM_MAX */
}

/* ---- pairing ------------------------------------------------------------------------------ */

static struct diff_role *role_of(struct diff *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nroles; i++)
		if (!strcmp(d->roles[i].name, name))
			return &d->roles[i];
	if (d->nroles == MAX_ROLES - 1)
		name = OTHER_ROLES; /* the last row takes every role beyond */
	else if (d->nroles == MAX_ROLES)
		return &d->roles[MAX_ROLES - 1];
	d->roles[d->nroles].name = name;
	return &d->roles[d->nroles++];
}

struct worker_ref {
	const struct diff_proc *p;
	size_t order; /* place in the report: the tie-break */
};

/* By start time, unknown times last, then in the report's order. */
static int by_start(const void *x, const void *y)
{
	const struct worker_ref *a = x, *b = y;
	bool ka = !isnan(a->p->start_s), kb = !isnan(b->p->start_s);

	if (ka != kb)
		return ka ? -1 : 1;
	if (ka && a->p->start_s != b->p->start_s)
		return a->p->start_s < b->p->start_s ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static int pair_workers(struct diff *d)
{
	struct worker_ref *w[2] = { NULL, NULL };
	size_t n[2] = { 0, 0 }, i;
	int s, err = -ENOMEM;

	for (s = 0; s < 2; s++) {
		const struct diff_report *r = d->r[s];

		w[s] = calloc(r->nprocs ? r->nprocs : 1, sizeof(*w[s]));
		if (!w[s])
			goto out;
		for (i = 0; i < r->nprocs; i++) {
			if (strcmp(r->procs[i].role, "worker"))
				continue;
			w[s][n[s]++] = (struct worker_ref){ &r->procs[i], i };
			diff_counts_add(&d->wsum[s], &r->procs[i].c);
		}
		qsort(w[s], n[s], sizeof(*w[s]), by_start);
		d->nw[s] = n[s];
	}
	d->nworkers = n[0] > n[1] ? n[0] : n[1];
	d->workers = calloc(d->nworkers ? d->nworkers : 1, sizeof(*d->workers));
	if (!d->workers)
		goto out;
	for (i = 0; i < d->nworkers; i++)
		for (s = 0; s < 2; s++)
			d->workers[i].p[s] = i < n[s] ? w[s][i].p : NULL;
	err = 0;
out:
	free(w[0]);
	free(w[1]);
	return err;
}

static int by_key(const void *x, const void *y)
{
	const struct diff_object_pair *a = x, *b = y;
	int c = strcmp(a->cause, b->cause);

	if (!c)
		c = strcmp(a->type, b->type);
	return c ? c : strcmp(a->field, b->field);
}

static unsigned long long abs_change(const struct diff_object_pair *o)
{
	return o->pages[0] > o->pages[1] ? o->pages[0] - o->pages[1] : o->pages[1] - o->pages[0];
}

/* Largest change first; then the larger row; then by name, so that the order is stable. */
static int by_change(const void *x, const void *y)
{
	const struct diff_object_pair *a = x, *b = y;
	unsigned long long ca = abs_change(a), cb = abs_change(b);
	unsigned long long ma = a->pages[0] > a->pages[1] ? a->pages[0] : a->pages[1];
	unsigned long long mb = b->pages[0] > b->pages[1] ? b->pages[0] : b->pages[1];

	if (ca != cb)
		return ca > cb ? -1 : 1;
	if (ma != mb)
		return ma > mb ? -1 : 1;
	return by_key(a, b);
}

/* The objects tables of both runs by (cause, type, field), regions summed. */
static int pair_objects(struct diff *d)
{
	size_t total = d->r[0]->nobjs + d->r[1]->nobjs, i, n = 0;
	struct diff_object_pair *all;
	int s;

	all = calloc(total ? total : 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (s = 0; s < 2; s++)
		for (i = 0; i < d->r[s]->nobjs; i++) {
			const struct diff_object *o = &d->r[s]->objs[i];

			all[n] = (struct diff_object_pair){ o->cause, o->type, o->field };
			all[n++].pages[s] = o->pages;
		}
	qsort(all, n, sizeof(*all), by_key);
	d->nobjs = 0;
	for (i = 0; i < n; i++) {
		struct diff_object_pair *last = d->nobjs ? &all[d->nobjs - 1] : NULL;

		if (last && !by_key(last, &all[i])) {
			last->pages[0] = sat_add(last->pages[0], all[i].pages[0]);
			last->pages[1] = sat_add(last->pages[1], all[i].pages[1]);
		} else {
			all[d->nobjs++] = all[i];
		}
	}
	qsort(all, d->nobjs, sizeof(*all), by_change);
	d->objs = all;
	return 0;
}

int diff_compute(struct diff *d, const char *path_a, const struct diff_report *a,
		 const char *path_b, const struct diff_report *b)
{
	size_t i;
	int s;

	memset(d, 0, sizeof(*d));
	d->path[0] = path_a;
	d->path[1] = path_b;
	d->r[0] = a;
	d->r[1] = b;
	d->roles = calloc(MAX_ROLES, sizeof(*d->roles));
	if (!d->roles)
		goto nomem;
	for (s = 0; s < 2; s++)
		for (i = 0; i < d->r[s]->nprocs; i++) {
			const struct diff_proc *p = &d->r[s]->procs[i];
			struct diff_role *role = role_of(d, p->role);

			role->procs[s]++;
			diff_counts_add(&role->c[s], &p->c);
		}
	if (pair_workers(d) || pair_objects(d))
		goto nomem;
	return 0;
nomem:
	diff_free(d);
	return -ENOMEM;
}

void diff_free(struct diff *d)
{
	free(d->roles);
	free(d->workers);
	free(d->objs);
	memset(d, 0, sizeof(*d));
}

/* ---- the gate's figures ------------------------------------------------------------------- */

#define FIGURE4(base) base "_a", base "_b", base "_change", base "_change_pct"

const struct report_figure diff_figures[] = {
	{ "pages", "copied pages (anon + file), all processes" },
	{ "gc_pages", "pages copied while a CPython collection ran, all processes" },
	{ "other_pages", "pages copied outside collections (pages - gc_pages)" },
	{ "workers", "processes forked from a traced process" },
	{ "pages_per_worker", "pages per worker (the workers' pages / workers)" },
	{ "gc_pages_per_worker", "gc pages per worker (the workers' gc pages / workers)" },
	{},
};

const char *const diff_figure_names[] = {
	FIGURE4("pages"),	     FIGURE4("gc_pages"),	  FIGURE4("other_pages"),
	FIGURE4("workers"),	     FIGURE4("pages_per_worker"), FIGURE4("gc_pages_per_worker"),
	NULL,
};

/* One run's value of a figure's base quantity; NaN when undefined. */
static double base_value(const struct diff *d, const char *base, size_t len, int s)
{
	const struct diff_counts *t = &d->r[s]->total, *w = &d->wsum[s];
	double nw = d->nw[s];

#define IS(name) (len == strlen(name) && !strncmp(base, name, len))
	if (IS("pages"))
		return t->pages;
	if (IS("gc_pages"))
		return t->cause[CAUSE_GC];
	if (IS("other_pages"))
		return other_pages(t);
	if (IS("workers"))
		return nw;
	if (IS("pages_per_worker"))
		return nw ? w->pages / nw : NAN;
	if (IS("gc_pages_per_worker"))
		return nw ? w->cause[CAUSE_GC] / nw : NAN;
#undef IS
	return NAN;
}

static bool ends_with(const char *s, size_t len, const char *suffix, size_t *base_len)
{
	size_t n = strlen(suffix);

	if (len <= n || strcmp(s + len - n, suffix))
		return false;
	*base_len = len - n;
	return true;
}

double diff_figure_value(const struct diff *d, const char *name)
{
	size_t len = strlen(name), base;
	double a, b;

	/* "_change_pct" before "_change": the longer suffix first */
	if (ends_with(name, len, "_change_pct", &base)) {
		a = base_value(d, name, base, 0);
		b = base_value(d, name, base, 1);
		return diff_change_pct(a, b);
	}
	if (ends_with(name, len, "_change", &base))
		return base_value(d, name, base, 1) - base_value(d, name, base, 0);
	if (ends_with(name, len, "_a", &base))
		return base_value(d, name, base, 0);
	if (ends_with(name, len, "_b", &base))
		return base_value(d, name, base, 1);
	return NAN;
}

/* ---- text --------------------------------------------------------------------------------- */

#define ROW_FMT "%-30s %11s %11s %11s %8s\n"

static const char *fmt_count(char *buf, size_t n, const struct diff_proc *p,
			     unsigned long long v)
{
	if (!p)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%llu", v);
	return buf;
}

static const char *fmt_change(char *buf, size_t n, double change, int decimals)
{
	if (isnan(change))
		snprintf(buf, n, "-");
	else if (change == 0)
		snprintf(buf, n, "0");
	else
		snprintf(buf, n, "%+.*f", decimals, change);
	return buf;
}

static const char *fmt_pct(char *buf, size_t n, double pct)
{
	if (isnan(pct))
		snprintf(buf, n, "-");
	else if (pct == 0)
		snprintf(buf, n, "0.0");
	else if (pct < 1000) /* it cannot fall below -100 */
		snprintf(buf, n, "%+.1f", pct);
	else if (pct < 1e6) /* a column of 8 */
		snprintf(buf, n, "%+.0f", pct);
	else
		snprintf(buf, n, "%+.0e", pct);
	return buf;
}

static void row_counts(FILE *f, const char *label, unsigned long long a, unsigned long long b)
{
	char sa[24], sb[24], sc[24], sp[24];

	snprintf(sa, sizeof(sa), "%llu", a);
	snprintf(sb, sizeof(sb), "%llu", b);
	fprintf(f, ROW_FMT, label, sa, sb, fmt_change(sc, sizeof(sc), change(a, b), 0),
		fmt_pct(sp, sizeof(sp), diff_change_pct(a, b)));
}

static void row_means(FILE *f, const char *label, double a, double b)
{
	char sa[32] = "-", sb[32] = "-", sc[32], sp[24];

	if (!isnan(a))
		snprintf(sa, sizeof(sa), "%.1f", a);
	if (!isnan(b))
		snprintf(sb, sizeof(sb), "%.1f", b);
	fprintf(f, ROW_FMT, label, sa, sb, fmt_change(sc, sizeof(sc), b - a, 1),
		fmt_pct(sp, sizeof(sp), diff_change_pct(a, b)));
}

static const char *cause_name(int i)
{
	return i < CAUSE_COUNT ? cow_cause_name(i) : "unattributed";
}

/* The causes other than gc, one row each where either run has some; prefix before each. */
static void rows_causes(FILE *f, const char *prefix, const struct diff_counts *a,
			const struct diff_counts *b)
{
	char label[64];
	int i;

	for (i = 0; i < DIFF_CAUSES; i++) {
		if (i == CAUSE_GC || (!a->cause[i] && !b->cause[i]))
			continue;
		snprintf(label, sizeof(label), "%s%s", prefix, cause_name(i));
		row_counts(f, label, a->cause[i], b->cause[i]);
	}
}

static void text_header(FILE *f, const struct diff *d)
{
	char path[4 * 256], ver[4 * 64], dur[32];
	int s;

	fprintf(f, "cowtrace diff: what changed from A to B\n");
	for (s = 0; s < 2; s++) {
		const struct diff_report *r = d->r[s];

		if (isnan(r->duration_s))
			snprintf(dur, sizeof(dur), "?");
		else
			snprintf(dur, sizeof(dur), "%.2f", r->duration_s);
		fprintf(f, "  %c  %s: cowtrace %s, %zu processes (%llu workers), traced %s s\n",
			s ? 'B' : 'A', text_esc(path, sizeof(path), d->path[s]),
			text_esc(ver, sizeof(ver), r->version), r->nprocs, d->nw[s], dur);
	}
}

static void text_totals(FILE *f, const struct diff *d)
{
	const struct diff_counts *a = &d->r[0]->total, *b = &d->r[1]->total;
	static const char *const gens[DIFF_GENS] = { "  gen0", "  gen1", "  gen2", "  gen ?" };
	int i;

	fprintf(f, "\n" ROW_FMT, "", "A", "B", "CHANGE", "CHANGE%");
	row_counts(f, "copied pages", a->pages, b->pages);
	row_counts(f, "  anon", a->anon, b->anon);
	row_counts(f, "  file", a->file, b->file);
	row_counts(f, "  zero (not in pages)", a->zero, b->zero);
	row_counts(f, "gc", a->cause[CAUSE_GC], b->cause[CAUSE_GC]);
	for (i = 0; i < DIFF_GENS; i++)
		if (a->gen[i] || b->gen[i])
			row_counts(f, gens[i], a->gen[i], b->gen[i]);
	row_counts(f, "other", other_pages(a), other_pages(b));
	rows_causes(f, "  ", a, b);
}

static void text_per_worker(FILE *f, const struct diff *d)
{
	fprintf(f, "\n" ROW_FMT, "per worker (mean)", "A", "B", "CHANGE", "CHANGE%");
	row_counts(f, "  workers", d->nw[0], d->nw[1]);
	row_means(f, "  pages per worker", diff_figure_value(d, "pages_per_worker_a"),
		  diff_figure_value(d, "pages_per_worker_b"));
	row_means(f, "  gc pages per worker", diff_figure_value(d, "gc_pages_per_worker_a"),
		  diff_figure_value(d, "gc_pages_per_worker_b"));
}

static void text_roles(FILE *f, const struct diff *d)
{
	char esc[4 * 64], label[64];
	size_t i;

	if (!d->nroles)
		return;
	fprintf(f, "\n" ROW_FMT, "by role", "A", "B", "CHANGE", "CHANGE%");
	for (i = 0; i < d->nroles; i++) {
		const struct diff_role *r = &d->roles[i];

		text_esc(esc, sizeof(esc), r->name);
		snprintf(label, sizeof(label), "%-9.9s processes", esc);
		row_counts(f, label, r->procs[0], r->procs[1]);
		row_counts(f, "          pages", r->c[0].pages, r->c[1].pages);
		row_counts(f, "          gc", r->c[0].cause[CAUSE_GC], r->c[1].cause[CAUSE_GC]);
		rows_causes(f, "          ", &r->c[0], &r->c[1]);
	}
}

static void text_workers(FILE *f, const struct diff *d)
{
	char pa[24], pb[24], a[24], b[24], c[24], p[24], ga[24], gb[24], gc[24], gp[24], n[24];
	size_t i;

	if (!d->nworkers)
		return;
	fprintf(f, "\nworkers, the i-th of A beside the i-th of B (by start time)\n");
	fprintf(f, "%-4s %8s %8s %8s %8s %8s %7s %8s %8s %8s %7s\n", "", "PID A", "PID B",
		"PAGES A", "PAGES B", "CHANGE", "CHANGE%", "GC A", "GC B", "CHANGE", "CHANGE%");
	for (i = 0; i < d->nworkers; i++) {
		const struct diff_proc *wa = d->workers[i].p[0], *wb = d->workers[i].p[1];
		bool both = wa && wb;
		double va = wa ? wa->c.pages : NAN, vb = wb ? wb->c.pages : NAN;
		double gca = wa ? wa->c.cause[CAUSE_GC] : NAN;
		double gcb = wb ? wb->c.cause[CAUSE_GC] : NAN;

		snprintf(n, sizeof(n), "#%zu", i + 1);
		fprintf(f, "%-4s %8s %8s %8s %8s %8s %7s %8s %8s %8s %7s\n", n,
			fmt_count(pa, sizeof(pa), wa, wa ? wa->pid : 0),
			fmt_count(pb, sizeof(pb), wb, wb ? wb->pid : 0),
			fmt_count(a, sizeof(a), wa, wa ? wa->c.pages : 0),
			fmt_count(b, sizeof(b), wb, wb ? wb->c.pages : 0),
			fmt_change(c, sizeof(c), both ? vb - va : NAN, 0),
			fmt_pct(p, sizeof(p), diff_change_pct(va, vb)),
			fmt_count(ga, sizeof(ga), wa, wa ? wa->c.cause[CAUSE_GC] : 0),
			fmt_count(gb, sizeof(gb), wb, wb ? wb->c.cause[CAUSE_GC] : 0),
			fmt_change(gc, sizeof(gc), both ? gcb - gca : NAN, 0),
			fmt_pct(gp, sizeof(gp), diff_change_pct(gca, gcb)));
	}
}

static void text_objects(FILE *f, const struct diff *d)
{
	char cause[4 * 32], type[4 * 64], field[4 * 32], a[24], b[24], c[24], p[24];
	size_t i;

	fprintf(f, "\nobjects: the largest changes\n");
	if (!d->nobjs) {
		fprintf(f, "  none in either report (--counts-only, or an older cowtrace)\n");
		return;
	}
	fprintf(f, "%-17s %-28s %-11s %8s %8s %8s %8s\n", "CAUSE", "TYPE", "FIELD", "A", "B",
		"CHANGE", "CHANGE%");
	for (i = 0; i < d->nobjs && i < DIFF_TEXT_OBJECTS; i++) {
		const struct diff_object_pair *o = &d->objs[i];

		snprintf(a, sizeof(a), "%llu", o->pages[0]);
		snprintf(b, sizeof(b), "%llu", o->pages[1]);
		fprintf(f, "%-17.17s %-28.28s %-11.11s %8s %8s %8s %8s\n",
			text_esc(cause, sizeof(cause), o->cause),
			text_esc(type, sizeof(type), o->type),
			text_esc(field, sizeof(field), o->field), a, b,
			fmt_change(c, sizeof(c), change(o->pages[0], o->pages[1]), 0),
			fmt_pct(p, sizeof(p), diff_change_pct(o->pages[0], o->pages[1])));
	}
	if (d->nobjs > DIFF_TEXT_OBJECTS)
		fprintf(f, "  (%zu more; --json has them all)\n", d->nobjs - DIFF_TEXT_OBJECTS);
}

void diff_text(FILE *f, const struct diff *d)
{
	text_header(f, d);
	text_totals(f, d);
	text_per_worker(f, d);
	text_roles(f, d);
	text_workers(f, d);
	text_objects(f, d);
}

/* ---- JSON --------------------------------------------------------------------------------- */

/* {"a": A, "b": B, "change": B - A, "change_pct": ...}; a side that is absent is null. */
static void json_pair(struct json_writer *w, const char *key, bool have_a, unsigned long long a,
		      bool have_b, unsigned long long b)
{
	json_key(w, key);
	json_begin_object(w);
	json_key(w, "a");
	if (have_a)
		json_uint(w, a);
	else
		json_null(w);
	json_key(w, "b");
	if (have_b)
		json_uint(w, b);
	else
		json_null(w);
	json_key(w, "change");
	if (have_a && have_b)
		json_int(w, change(a, b));
	else
		json_null(w);
	json_key(w, "change_pct");
	json_double(w, have_a && have_b ? diff_change_pct(a, b) : NAN, 3);
	json_end_object(w);
}

static void json_counts_pair(struct json_writer *w, const char *key, unsigned long long a,
			     unsigned long long b)
{
	json_pair(w, key, true, a, true, b);
}

static void json_means_pair(struct json_writer *w, const char *key, double a, double b)
{
	json_key(w, key);
	json_begin_object(w);
	json_key(w, "a");
	json_double(w, a, 3);
	json_key(w, "b");
	json_double(w, b, 3);
	json_key(w, "change");
	json_double(w, b - a, 3);
	json_key(w, "change_pct");
	json_double(w, diff_change_pct(a, b), 3);
	json_end_object(w);
}

/* have_a, have_b: false for the side of a worker that the other run does not have */
static void json_by_cause(struct json_writer *w, bool have_a, const struct diff_counts *a,
			  bool have_b, const struct diff_counts *b)
{
	int i;

	json_key(w, "by_cause");
	json_begin_object(w);
	for (i = 0; i < DIFF_CAUSES; i++)
		json_pair(w, cause_name(i), have_a, a->cause[i], have_b, b->cause[i]);
	json_end_object(w);
}

static void json_run(struct json_writer *w, const struct diff *d, int s)
{
	const struct diff_report *r = d->r[s];

	json_key(w, s ? "b" : "a");
	json_begin_object(w);
	json_key(w, "path");
	json_string(w, d->path[s]);
	json_key(w, "version");
	json_string(w, r->version);
	json_key(w, "duration_s");
	json_double(w, r->duration_s, 3);
	json_key(w, "processes");
	json_uint(w, r->nprocs);
	json_key(w, "workers");
	json_uint(w, d->nw[s]);
	json_end_object(w);
}

static void json_totals(struct json_writer *w, const struct diff *d)
{
	const struct diff_counts *a = &d->r[0]->total, *b = &d->r[1]->total;
	static const char *const gens[DIFF_GENS] = { "0", "1", "2", "unknown" };
	int i;

	json_key(w, "totals");
	json_begin_object(w);
	json_counts_pair(w, "pages", a->pages, b->pages);
	json_key(w, "by_kind");
	json_begin_object(w);
	json_counts_pair(w, "anon", a->anon, b->anon);
	json_counts_pair(w, "file", a->file, b->file);
	json_counts_pair(w, "zero", a->zero, b->zero);
	json_end_object(w);
	json_counts_pair(w, "other", other_pages(a), other_pages(b));
	json_by_cause(w, true, a, true, b);
	json_key(w, "gc_generations");
	json_begin_object(w);
	for (i = 0; i < DIFF_GENS; i++)
		json_counts_pair(w, gens[i], a->gen[i], b->gen[i]);
	json_end_object(w);
	json_end_object(w);
}

static void json_per_worker(struct json_writer *w, const struct diff *d)
{
	json_key(w, "per_worker");
	json_begin_object(w);
	json_counts_pair(w, "workers", d->nw[0], d->nw[1]);
	json_means_pair(w, "pages", diff_figure_value(d, "pages_per_worker_a"),
			diff_figure_value(d, "pages_per_worker_b"));
	json_means_pair(w, "gc_pages", diff_figure_value(d, "gc_pages_per_worker_a"),
			diff_figure_value(d, "gc_pages_per_worker_b"));
	json_end_object(w);
}

static void json_roles(struct json_writer *w, const struct diff *d)
{
	size_t i;

	json_key(w, "roles");
	json_begin_array(w);
	for (i = 0; i < d->nroles; i++) {
		const struct diff_role *r = &d->roles[i];

		json_begin_object(w);
		json_key(w, "role");
		json_string(w, r->name);
		json_counts_pair(w, "processes", r->procs[0], r->procs[1]);
		json_counts_pair(w, "pages", r->c[0].pages, r->c[1].pages);
		json_by_cause(w, true, &r->c[0], true, &r->c[1]);
		json_end_object(w);
	}
	json_end_array(w);
}

static void json_workers(struct json_writer *w, const struct diff *d)
{
	static const struct diff_counts none;
	size_t i;
	int s;

	json_key(w, "workers");
	json_begin_array(w);
	for (i = 0; i < d->nworkers; i++) {
		const struct diff_proc *p[2] = { d->workers[i].p[0], d->workers[i].p[1] };

		json_begin_object(w);
		json_key(w, "index");
		json_uint(w, i + 1);
		for (s = 0; s < 2; s++) {
			json_key(w, s ? "pid_b" : "pid_a");
			if (p[s])
				json_uint(w, p[s]->pid);
			else
				json_null(w);
		}
		json_pair(w, "pages", p[0] != NULL, p[0] ? p[0]->c.pages : 0, p[1] != NULL,
			  p[1] ? p[1]->c.pages : 0);
		json_by_cause(w, p[0] != NULL, p[0] ? &p[0]->c : &none, p[1] != NULL,
			      p[1] ? &p[1]->c : &none);
		json_end_object(w);
	}
	json_end_array(w);
}

static void json_objects(struct json_writer *w, const struct diff *d)
{
	size_t i;

	json_key(w, "objects");
	json_begin_array(w);
	for (i = 0; i < d->nobjs; i++) {
		const struct diff_object_pair *o = &d->objs[i];

		json_begin_object(w);
		json_key(w, "cause");
		json_string(w, o->cause);
		json_key(w, "type");
		json_string(w, o->type);
		json_key(w, "field");
		json_string(w, o->field);
		json_counts_pair(w, "pages", o->pages[0], o->pages[1]);
		json_end_object(w);
	}
	json_end_array(w);
}

static void json_figures(struct json_writer *w, const struct diff *d)
{
	const char *const *name;

	json_key(w, "figures");
	json_begin_object(w);
	for (name = diff_figure_names; *name; name++) {
		double v = diff_figure_value(d, *name);

		json_key(w, *name);
		/* whole numbers as such (no libm: the cast is exact below 2^53) */
		if (v > -(double)DIFF_COUNT_MAX && v < (double)DIFF_COUNT_MAX &&
		    v == (double)(long long)v)
			json_int(w, (long long)v);
		else
			json_double(w, v, 3);
	}
	json_end_object(w);
}

int diff_json(FILE *f, const struct diff *d)
{
	struct json_writer *w = json_writer_new(f);
	int err;

	if (!w)
		return -ENOMEM;
	json_begin_object(w);
	json_key(w, "tool");
	json_string(w, "cowtrace");
	json_key(w, "kind");
	json_string(w, "diff");
	json_key(w, "version");
	json_string(w, COWTRACE_VERSION);
	json_run(w, d, 0);
	json_run(w, d, 1);
	json_totals(w, d);
	json_per_worker(w, d);
	json_roles(w, d);
	json_workers(w, d);
	json_objects(w, d);
	json_figures(w, d);
	json_end_object(w);
	err = json_writer_error(w);
	json_writer_free(w);
	if (!err && (fputc('\n', f) == EOF || fflush(f)))
		err = -errno;
	return err;
}

/* ---- the command -------------------------------------------------------------------------- */

static const char usage_head[] =
	"Usage: cowtrace diff A.json B.json [--json FILE|-] [--fail-on EXPR] [-q]\n"
	"\n"
	"What changed between two runs of cowtrace --json (A before a change, B after it, e.g.\n"
	"without and with gc.freeze()). Each copy is credited to the first write that copied its\n"
	"page, so what a change saves is the difference between two runs, not any one run's\n"
	"breakdown. Compares the totals (pages, by kind, by cause, gc generations), each\n"
	"role, the workers (the i-th of A with the i-th of B, by start time) and the objects.\n"
	"\n"
	"      --json FILE        the comparison as JSON to FILE ('-' for stdout; the text then\n"
	"                         goes to stderr)\n"
	"      --fail-on EXPR     gate: exit 3 when EXPR holds (the language of cowtrace\n"
	"                         --fail-on; numbers may be negative here)\n"
	"  -q, --quiet            no text output\n"
	"  -h, --help             this help\n"
	"\n"
	"Figures, each as NAME_a (run A), NAME_b (run B), NAME_change (B - A) and NAME_change_pct\n"
	"(100 * (B - A) / A: negative when it fell; 0 when both are 0, undefined when only A is;\n"
	"an undefined figure, as per worker without workers, makes no comparison hold):\n";

static const char usage_tail[] =
	"\n"
	"Examples:\n"
	"  cowtrace diff plain.json frozen.json\n"
	"  cowtrace diff plain.json frozen.json --fail-on 'gc_pages_per_worker_change_pct > -90'\n"
	"      fails (exit 3) unless the gc pages per worker fell by 90% or more\n"
	"\n"
	"Exit status: 0 ok, 1 an input that cannot be read or is not a cowtrace report, 2 usage\n"
	"error, 3 the --fail-on gate held.\n";

void diff_usage(FILE *f)
{
	const struct report_figure *fig;

	fputs(usage_head, f);
	for (fig = diff_figures; fig->name; fig++)
		fprintf(f, "  %-20s %s\n", fig->name, fig->help);
	fputs(usage_tail, f);
}

static int fail_usage(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_usage(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

enum { OPT_JSON = 256, OPT_FAIL_ON };

int diff_options_parse(int argc, char **argv, struct diff_options *o, char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{ "json", required_argument, NULL, OPT_JSON },
		{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c, npaths = 0;

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	optind = 0; /* full reset: the parser may run more than once (tests) */
	opterr = 0;
	/* options may come before or after the two files (getopt moves them to the front) */
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			if (!*optarg)
				return fail_usage(err, errlen,
						  "--json needs a file name ('-' for stdout)");
			o->json_path = optarg;
			break;
		case OPT_FAIL_ON:
			o->fail_on = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			o->help = true;
			return 0;
		case ':':
			return fail_usage(err, errlen, "option '%s' needs an argument",
					  argv[optind - 1]);
		default:
			if (optopt)
				return fail_usage(err, errlen, "unknown option '-%c'", optopt);
			return fail_usage(err, errlen, "unknown option '%s'", argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (npaths == 2)
			return fail_usage(err, errlen, "one report too many: '%s' (compare two)",
					  argv[optind]);
		if (!*argv[optind])
			return fail_usage(err, errlen, "an empty file name");
		o->path[npaths++] = argv[optind];
	}
	if (npaths < 2)
		return fail_usage(err, errlen, "give two reports: cowtrace diff A.json B.json");
	return 0;
}

static double gate_value(const char *name, void *ctx)
{
	return diff_figure_value(ctx, name);
}

static int load(const char *path, struct diff_report *r)
{
	char err[512], esc[4 * 256], missing[160];

	if (diff_report_load(path, r, err, sizeof(err))) {
		log_error("%s: %s", text_esc(esc, sizeof(esc), path), err);
		return -1;
	}
	if (r->missing)
		log_warn("%s: no %s (an older cowtrace, or a report cut short): read as 0",
			 text_esc(esc, sizeof(esc), path),
			 diff_missing_text(r->missing, missing, sizeof(missing)));
	return 0;
}

int diff_main(int argc, char **argv)
{
	struct diff_report r[2] = { { 0 }, { 0 } };
	struct diff_options o;
	struct outfile json = { 0 };
	struct gate *gate = NULL;
	struct diff d = { 0 };
	char err[1024], why[1024];
	FILE *text = stdout;
	const char *out_name;
	int status = EXIT_OK, e;

	/* like cowtrace itself: installed setuid, it would write files as root for anyone */
	if (getauxval(AT_SECURE)) {
		log_error("refusing to run setuid or setgid");
		return EXIT_ERROR;
	}
	if (diff_options_parse(argc, argv, &o, err, sizeof(err))) {
		log_error("diff: %s (see cowtrace diff --help)", err);
		return EXIT_USAGE;
	}
	if (o.help) {
		diff_usage(stdout);
		return EXIT_OK;
	}
	if (o.fail_on) {
		gate = gate_parse_signed(o.fail_on, diff_figure_names, err, sizeof(err));
		if (!gate) {
			log_error("--fail-on: %s", err);
			return EXIT_USAGE;
		}
	}
	e = outfile_open(&json, o.json_path);
	if (e) {
		log_error("cannot write --json file %s: %s", o.json_path, strerror(-e));
		status = EXIT_USAGE;
		goto out;
	}
	if (load(o.path[0], &r[0]) || load(o.path[1], &r[1])) {
		status = EXIT_ERROR;
		goto out;
	}
	if (diff_compute(&d, o.path[0], &r[0], o.path[1], &r[1])) {
		log_error("out of memory");
		status = EXIT_ERROR;
		goto out;
	}
	out_name = strcmp(o.json_path ? o.json_path : "", "-") ? o.json_path : "to stdout";
	if (json.f) {
		e = diff_json(json.f, &d);
		if (e) {
			log_error("writing %s: %s", out_name, strerror(-e));
			outfile_discard(&json);
			status = EXIT_ERROR;
		}
		if (json.f == stdout)
			text = stderr;
	}
	if (!o.quiet)
		diff_text(text, &d);
	e = outfile_commit(&json);
	if (e && status == EXIT_OK) {
		log_error("writing %s: %s", out_name, strerror(-e));
		status = EXIT_ERROR;
	}
	/* one line per error: stdout's own failure only when nothing has been said yet */
	if ((fflush(stdout) || ferror(stdout)) && status == EXIT_OK) {
		log_error("writing to stdout: a write failed, the output is incomplete");
		status = EXIT_ERROR;
	}
	if (gate && gate_eval(gate, gate_value, &d, why, sizeof(why))) {
		log_error("gate failed (--fail-on '%s'): %s", o.fail_on, why);
		status = EXIT_GATE;
	}
out:
	outfile_discard(&json);
	diff_free(&d);
	diff_report_free(&r[0]);
	diff_report_free(&r[1]);
	gate_free(gate);
	return status;
}
