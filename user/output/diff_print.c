// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cowtrace diff's two outputs, the text and the JSON: the same pairs of figures (diff.c). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"
#include "json.h"
#include "textesc.h"

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
	fprintf(f, ROW_FMT, label, sa, sb, fmt_change(sc, sizeof(sc), diff_change(a, b), 0),
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
	row_counts(f, "other", diff_other_pages(a), diff_other_pages(b));
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
			fmt_change(c, sizeof(c), diff_change(o->pages[0], o->pages[1]), 0),
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
		json_int(w, diff_change(a, b));
	else
		json_null(w);
	json_member_double(w, "change_pct", have_a && have_b ? diff_change_pct(a, b) : NAN, 3);
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
	json_member_double(w, "a", a, 3);
	json_member_double(w, "b", b, 3);
	json_member_double(w, "change", b - a, 3);
	json_member_double(w, "change_pct", diff_change_pct(a, b), 3);
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
	json_member_string(w, "path", d->path[s]);
	json_member_string(w, "version", r->version);
	json_member_double(w, "duration_s", r->duration_s, 3);
	json_member_uint(w, "processes", r->nprocs);
	json_member_uint(w, "workers", d->nw[s]);
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
	json_counts_pair(w, "other", diff_other_pages(a), diff_other_pages(b));
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
		json_member_string(w, "role", r->name);
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
		json_member_uint(w, "index", i + 1);
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
		json_member_string(w, "cause", o->cause);
		json_member_string(w, "type", o->type);
		json_member_string(w, "field", o->field);
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
	struct json_writer *w = json_document_begin(f);

	if (!w)
		return -ENOMEM;
	json_member_string(w, "kind", "diff");
	json_member_string(w, "version", COWTRACE_VERSION);
	json_run(w, d, 0);
	json_run(w, d, 1);
	json_totals(w, d);
	json_per_worker(w, d);
	json_roles(w, d);
	json_workers(w, d);
	json_objects(w, d);
	json_figures(w, d);
	return json_document_end(w, f);
}
