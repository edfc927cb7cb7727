// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "prometheus.h"
#include "tracees.h"

/* a comm is 15 bytes: each can grow to 3 (U+FFFD) */
#define LABEL_MAX 64

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* The length of the well-formed UTF-8 character at s, else 0; *c1: it is a C1 control. */
static size_t utf8_char(const unsigned char *s, bool *c1)
{
	unsigned int c, min;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* the terminating NUL stops here too */
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*c1 = c < 0xa0;
	return n;
}

char *prometheus_label_escape(char *dst, size_t len, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t out = 0, n;
	const char *piece;
	char one[2] = "";
	bool c1;

	if (!len)
		return dst;
	while (s && *s) {
		n = 1;
		if (*s == '\\')
			piece = "\\\\";
		else if (*s == '"')
			piece = "\\\"";
		else if (*s == '\n')
			piece = "\\n";
		else if (*s < 0x20 || *s == 0x7f)
			piece = replacement;
		else if (*s < 0x80)
			one[0] = *s, piece = one;
		else if ((n = utf8_char(s, &c1)))
			piece = c1 ? replacement : NULL;
		else
			n = 1, piece = replacement;
		if (!piece) {
			if (out + n >= len)
				break;
			memcpy(dst + out, s, n);
			out += n;
		} else {
			if (out + strlen(piece) >= len)
				break;
			memcpy(dst + out, piece, strlen(piece));
			out += strlen(piece);
		}
		s += n;
	}
	dst[out] = '\0';
	return dst;
}

/* Copies by (role, program[, pid]); causes[CAUSE_GC] is the gc count, [CAUSE_COUNT] the
 * copies no decoded event explains. */
struct group {
	unsigned int role;
	unsigned int pid; /* 0 without --prometheus-pids */
	char program[LABEL_MAX];
	unsigned long long pages;
	unsigned long long causes[CAUSE_COUNT + 1];
};

static int by_key(const void *x, const void *y)
{
	const struct group *a = x, *b = y;
	int c;

	if (a->role != b->role)
		return a->role < b->role ? -1 : 1;
	c = strcmp(a->program, b->program);
	if (c)
		return c;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

static int by_pages(const void *x, const void *y)
{
	const struct group *a = x, *b = y;

	if (a->pages != b->pages)
		return a->pages < b->pages ? 1 : -1;
	return by_key(x, y);
}

/* Sorts g by key and sums the groups that share one (two comms can escape alike, a pid can be
 * reused): every series is written once. Returns the new count. */
static size_t merge(struct group *g, size_t n)
{
	size_t i, out = 0;
	int c;

	qsort(g, n, sizeof(*g), by_key);
	for (i = 0; i < n; i++) {
		if (out && !by_key(&g[out - 1], &g[i])) {
			g[out - 1].pages += g[i].pages;
			for (c = 0; c <= CAUSE_COUNT; c++)
				g[out - 1].causes[c] += g[i].causes[c];
			continue;
		}
		if (out != i)
			g[out] = g[i];
		out++;
	}
	return out;
}

/* One group per process, merged; without pids, the programs past the first PROM_PROGRAMS_MAX
 * (by pages) are summed under PROM_OTHER_PROGRAM. */
static struct group *make_groups(const struct report *r, bool pids, size_t *count)
{
	struct group *g = calloc(r->nprocs ? r->nprocs : 1, sizeof(*g));
	size_t i, n;
	int c;

	if (!g)
		return NULL;
	for (i = 0; i < r->nprocs; i++) {
		const struct report_proc *p = &r->procs[i];

		g[i].role = p->info.role;
		g[i].pid = pids ? p->info.pid : 0;
		prometheus_label_escape(g[i].program, sizeof(g[i].program), p->info.comm);
		g[i].pages = report_pages(&p->counts);
		for (c = 0; c < CAUSE_COUNT; c++)
			g[i].causes[c] = c == CAUSE_GC ? report_gc(&p->counts) : p->causes[c];
		g[i].causes[CAUSE_COUNT] = report_unattributed(&p->counts, p->causes);
	}
	n = merge(g, r->nprocs);
	if (!pids && n > PROM_PROGRAMS_MAX) {
		qsort(g, n, sizeof(*g), by_pages);
		for (i = PROM_PROGRAMS_MAX; i < n; i++)
			snprintf(g[i].program, sizeof(g[i].program), "%s", PROM_OTHER_PROGRAM);
		n = merge(g, n);
	}
	*count = n;
	return g;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void by_cause(FILE *f, const struct group *g, size_t n, bool pids)
{
	const char *name = "cowtrace_copied_pages_by_cause_total";
	size_t i;
	int c;

	family(f, name, "counter",
	       "Pages copied on write (anon and file), by cause, process role and program (comm); "
	       "cause unattributed: no decoded event explains them (lost events, --counts-only)");
	for (c = 0; c <= CAUSE_COUNT; c++) {
		for (i = 0; i < n; i++) {
			fprintf(f, "%s{cause=\"%s\",role=\"%s\",program=\"%s\"", name,
				c < CAUSE_COUNT ? cow_cause_name(c) : "unattributed",
				cow_role_name(g[i].role), g[i].program);
			if (pids)
				fprintf(f, ",pid=\"%u\"", g[i].pid);
			fprintf(f, "} %llu\n", g[i].causes[c]);
		}
	}
}

static void processes(FILE *f, const struct report *r)
{
	unsigned long long all[ROLE_COUNT] = {}, alive[ROLE_COUNT] = {};
	unsigned int role;
	size_t i;

	for (i = 0; i < r->nprocs; i++) {
		role = r->procs[i].info.role;
		if (role >= ROLE_COUNT)
			continue;
		all[role]++;
		alive[role] += !(r->procs[i].info.flags & PROC_EXITED);
	}
	family(f, "cowtrace_processes", "gauge",
	       "Processes traced so far (alive or exited), by role");
	for (role = 0; role < ROLE_COUNT; role++)
		fprintf(f, "cowtrace_processes{role=\"%s\"} %llu\n", cow_role_name(role),
			all[role]);
	family(f, "cowtrace_processes_alive", "gauge", "Traced processes still alive, by role");
	for (role = 0; role < ROLE_COUNT; role++)
		fprintf(f, "cowtrace_processes_alive{role=\"%s\"} %llu\n", cow_role_name(role),
			alive[role]);
}

/* With kernel.bpf_stats_enabled: what each of cowtrace's BPF programs ran (system-wide). */
static void bpf_stats(FILE *f, const struct report *r)
{
	char name[LABEL_MAX];
	size_t i;

	if (!r->bpf_stats)
		return;
	family(
	    f, "cowtrace_bpf_runs_total", "counter",
	    "Runs of each of cowtrace's BPF programs, on every process (kernel.bpf_stats_enabled)");
	for (i = 0; i < r->nbpf_progs; i++)
		fprintf(f, "cowtrace_bpf_runs_total{bpf_program=\"%s\"} %llu\n",
			prometheus_label_escape(name, sizeof(name), r->bpf_progs[i].name),
			r->bpf_progs[i].runs);
	family(f, "cowtrace_bpf_run_seconds_total", "counter",
	       "Run time of each of cowtrace's BPF programs (kernel.bpf_stats_enabled)");
	for (i = 0; i < r->nbpf_progs; i++)
		fprintf(f, "cowtrace_bpf_run_seconds_total{bpf_program=\"%s\"} %.9f\n",
			prometheus_label_escape(name, sizeof(name), r->bpf_progs[i].name),
			r->bpf_progs[i].run_ns / 1e9);
}

int prometheus_write(FILE *f, const struct report *r, bool pids)
{
	const struct report_counts *t = &r->total;
	char version[LABEL_MAX], detector[LABEL_MAX], kernel[2 * LABEL_MAX];
	struct group *g;
	size_t n;

	g = make_groups(r, pids, &n);
	if (!g)
		return -ENOMEM;
	family(f, "cowtrace_info", "gauge",
	       "cowtrace's version, copy detector and kernel (always 1)");
	fprintf(f, "cowtrace_info{version=\"%s\",detector=\"%s\",kernel=\"%s\"} 1\n",
		prometheus_label_escape(version, sizeof(version), r->version),
		prometheus_label_escape(detector, sizeof(detector), r->detector),
		prometheus_label_escape(kernel, sizeof(kernel), r->kernel));
	family(f, "cowtrace_copied_pages_total", "counter",
	       "Pages copied on write in the traced processes, by kind of page (zero: first writes "
	       "to the shared zero page, which the report's pages leave out)");
	fprintf(f, "cowtrace_copied_pages_total{kind=\"anon\"} %llu\n", t->kind[COW_ANON]);
	fprintf(f, "cowtrace_copied_pages_total{kind=\"file\"} %llu\n", t->kind[COW_FILE]);
	fprintf(f, "cowtrace_copied_pages_total{kind=\"zero\"} %llu\n", t->kind[COW_ZERO]);
	by_cause(f, g, n, pids);
	family(
	    f, "cowtrace_gc_copied_pages_total", "counter",
	    "Pages copied while a CPython garbage collection ran, by the collection's generation");
	fprintf(f, "cowtrace_gc_copied_pages_total{generation=\"0\"} %llu\n", t->gc[0]);
	fprintf(f, "cowtrace_gc_copied_pages_total{generation=\"1\"} %llu\n", t->gc[1]);
	fprintf(f, "cowtrace_gc_copied_pages_total{generation=\"2\"} %llu\n", t->gc[2]);
	fprintf(f, "cowtrace_gc_copied_pages_total{generation=\"unknown\"} %llu\n",
		t->gc[GC_GEN_UNKNOWN]);
	processes(f, r);
	family(f, "cowtrace_attribution", "gauge",
	       "1 when copies are decoded into causes, 0 with --counts-only (all but gc "
	       "unattributed)");
	fprintf(f, "cowtrace_attribution %d\n", r->attribution ? 1 : 0);
	family(
	    f, "cowtrace_lost_events_total", "counter",
	    "Copy and process events lost to a full buffer (counts stay exact; attribution not)");
	fprintf(f, "cowtrace_lost_events_total %llu\n", r->lost_events);
	family(f, "cowtrace_untraced_processes_total", "counter",
	       "Processes of the tree not traced: no slot was left for them");
	fprintf(f, "cowtrace_untraced_processes_total %llu\n", r->slots_exhausted);
	family(f, "cowtrace_missed_bpf_runs_total", "counter",
	       "Runs of cowtrace's BPF programs the kernel skipped (recursion protection): counts "
	       "can be low by as much");
	fprintf(f, "cowtrace_missed_bpf_runs_total %llu\n", r->missed_runs);
	bpf_stats(f, r);
	family(f, "cowtrace_trace_seconds", "gauge", "Seconds traced so far");
	fprintf(f, "cowtrace_trace_seconds %.3f\n", r->duration_s);
	free(g);
	if (fflush(f) || ferror(f))
		return -(errno ? errno : EIO);
	return 0;
}

int prom_file_open(struct prom_file *p, const char *path, bool pids)
{
	memset(p, 0, sizeof(*p));
	p->pids = pids;
	if (!path)
		return 0;
	return outfile_open(&p->out, path);
}

static int update(struct prom_file *p, const struct report *r)
{
	int err;

	if (!p->out.f) {
		err = outfile_open(&p->out, p->out.path);
		if (err)
			return err;
	}
	errno = 0;
	err = prometheus_write(p->out.f, r, p->pids);
	if (err) {
		outfile_discard(&p->out); /* the previous version stays */
		return err;
	}
	return outfile_commit(&p->out);
}

int prom_file_update(struct prom_file *p, const struct report *r)
{
	if (!p->out.path)
		return 0;
	p->last_err = update(p, r);
	return p->last_err;
}

void prom_file_close(struct prom_file *p)
{
	outfile_discard(&p->out);
}
