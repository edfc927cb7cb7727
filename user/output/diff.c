// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cowtrace diff: two reports side by side (see diff.h). Every figure is a pair (A, B) with its
 * change and change in percent; the text and the JSON print the same pairs (diff_print.c), and
 * the gate reads them by name. This file pairs the runs and computes the figures; the command
 * itself is diff_main.c.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"

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

unsigned long long diff_other_pages(const struct diff_counts *c)
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

long long diff_change(unsigned long long a, unsigned long long b)
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
		return diff_other_pages(t);
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
