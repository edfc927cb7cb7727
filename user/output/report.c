// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "json.h"
#include "report.h"
#include "stackout.h"
#include "textesc.h"
#include "tracees.h"

#define PAGE_BYTES COW_PAGE_SIZE
#define MIB	   (1024.0 * 1024.0)

const struct report_figure report_figures[] = {
	{ "pages", "copied pages (anon + file) in all traced processes" },
	{ "mib", "the same in MiB" },
	{ "anon", "copies of private anonymous pages shared after fork" },
	{ "file", "first writes to private file-backed pages" },
	{ "zero", "first writes to the shared zero page (not in pages)" },
	{ "gc", "pages copied while a CPython garbage collection ran" },
	{ "gc_pct", "gc as a percentage of pages" },
	{ "gc_gen0", "gc pages in generation 0 collections (gc_gen1, gc_gen2 alike)" },
	{ "gc_gen1", "" },
	{ "gc_gen2", "" },
	{ "other", "pages copied outside collections (all causes but gc)" },
	{ "refcount", "ob_refcnt written outside a collection" },
	{ "gc_list", "GC header written outside a collection (track/untrack)" },
	{ "alloc_into_shared", "new objects placed into blocks free when the page was shared" },
	{ "mutation", "payload of a live object written" },
	{ "allocator", "pymalloc metadata written" },
	{ "native", "memory that is not Python's heap" },
	{ "unknown", "decoded, but the writer could not be told" },
	{ "unattributed", "copies with no decoded event (lost events, --counts-only)" },
	{ "worker_pages_max", "the most pages any one worker copied" },
	{ "worker_gc_max", "the most gc pages any one worker copied" },
	{ "gc_header", "gc pages copied by writing an object's GC header (decoded; not freeing)" },
	{ "worker_gc_header_max", "the most gc_header pages of any one worker: 0 with gc.freeze() "
				  "right before fork" },
	{ "processes", "processes traced" },
	{ "workers", "processes forked by a CPython process, running its interpreter" },
	{ "lost_events", "events lost to a full buffer (counts stay exact)" },
	{ "duration_s", "seconds traced" },
	{},
};

unsigned long long report_unattributed(const struct report_counts *c,
				       const unsigned long long causes[CAUSE_COUNT])
{
	unsigned long long explained = report_gc(c);
	int i;

	for (i = 0; i < CAUSE_COUNT; i++)
		if (i != CAUSE_GC)
			explained += causes[i];
	return report_pages(c) > explained ? report_pages(c) - explained : 0;
}

unsigned long long report_pages(const struct report_counts *c)
{
	return c->kind[COW_ANON] + c->kind[COW_FILE];
}

unsigned long long report_gc(const struct report_counts *c)
{
	unsigned long long sum = 0;
	int i;

	for (i = 0; i <= GC_GENS; i++)
		sum += c->gc[i];
	return sum;
}

void report_add(struct report_counts *sum, const struct report_counts *c)
{
	int i;

	for (i = 0; i < COW_KINDS; i++)
		sum->kind[i] += c->kind[i];
	for (i = 0; i <= GC_GENS; i++)
		sum->gc[i] += c->gc[i];
}

static double pct(unsigned long long part, unsigned long long whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

double report_figure_value(const struct report *r, const char *name)
{
	const struct report_counts *t = &r->total;
	unsigned long long pages = report_pages(t), gc = report_gc(t), best = 0;
	bool want_gc = !strcmp(name, "worker_gc_max");
	bool want_header = !strcmp(name, "worker_gc_header_max");
	size_t i;

	if (!strcmp(name, "pages"))
		return pages;
	if (!strcmp(name, "mib"))
		return pages * PAGE_BYTES / MIB;
	if (!strcmp(name, "anon"))
		return t->kind[COW_ANON];
	if (!strcmp(name, "file"))
		return t->kind[COW_FILE];
	if (!strcmp(name, "zero"))
		return t->kind[COW_ZERO];
	if (!strcmp(name, "gc"))
		return gc;
	if (!strcmp(name, "gc_pct"))
		return pct(gc, pages);
	if (!strncmp(name, "gc_gen", 6) && name[6] >= '0' && name[6] < '0' + GC_GENS && !name[7])
		return t->gc[name[6] - '0'];
	if (!strcmp(name, "other"))
		return pages - gc;
	if (!strcmp(name, "processes"))
		return r->nprocs;
	if (!strcmp(name, "gc_header"))
		return r->gc_header;
	if (!strcmp(name, "workers") || !strcmp(name, "worker_pages_max") || want_gc ||
	    want_header) {
		for (i = 0; i < r->nprocs; i++) {
			const struct report_proc *p = &r->procs[i];
			unsigned long long v;

			if (p->info.role != ROLE_WORKER)
				continue;
			v = want_gc ? report_gc(&p->counts) : want_header ? p->gc_header
								      : report_pages(&p->counts);
			if (!strcmp(name, "workers"))
				best++;
			else if (v > best)
				best = v;
		}
		return best;
	}
	for (i = 0; i < CAUSE_COUNT; i++)
		if (i != CAUSE_GC && !strcmp(name, cow_cause_name(i)))
			return r->causes[i];
	if (!strcmp(name, "unattributed"))
		return report_unattributed(t, r->causes);
	if (!strcmp(name, "lost_events"))
		return r->lost_events;
	if (!strcmp(name, "duration_s"))
		return r->duration_s;
	/* a name without a value here (a figure documented but not computed): undefined, which
	 * satisfies no gate comparison, rather than a 0 that would */
	return NAN;
}

/* wait(2) status to the shell's convention: the exit status, or 128 + the signal. */
static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return status;
}

static double rel_s(const struct report *r, unsigned long long ns)
{
	return ((double)ns - (double)r->start_ns) / 1e9;
}

static void text_gc_line(FILE *f, const struct report *r)
{
	const struct report_counts *t = &r->total;
	unsigned long long pages = report_pages(t), gc = report_gc(t), n;
	int i, col = 15;

	fprintf(f, "by cause:      gc %llu (%.1f%%: gen0 %llu, gen1 %llu, gen2 %llu", gc,
		pct(gc, pages), t->gc[0], t->gc[1], t->gc[2]);
	if (t->gc[GC_GEN_UNKNOWN])
		fprintf(f, ", gen ? %llu", t->gc[GC_GEN_UNKNOWN]);
	fprintf(f, ")   other %llu (%.1f%%)\n", pages - gc, pct(pages - gc, pages));
	if (!r->attribution)
		return;
	/* "other", split by what the decoded events say */
	fprintf(f, "%15s", "");
	for (i = 0; i <= CAUSE_COUNT; i++) {
		const char *name = i < CAUSE_COUNT ? cow_cause_name(i) : "unattributed";
		char item[64];
		int len;

		if (i == CAUSE_GC)
			continue;
		n = i < CAUSE_COUNT ? r->causes[i] : report_unattributed(t, r->causes);
		if (!n)
			continue;
		len = snprintf(item, sizeof(item), "%s%s %llu (%.1f%%)", col > 15 ? "   " : "", name,
			       n, pct(n, pages));
		if (col + len > 99) {
			fprintf(f, "\n%15s", "");
			col = 15;
			len = snprintf(item, sizeof(item), "%s %llu (%.1f%%)", name, n, pct(n, pages));
		}
		fputs(item, f);
		col += len;
	}
	fputc('\n', f);
}

/* One line of a breakdown: the rows that share a key, summed. */
struct group {
	char key[160];
	unsigned long long pages;
};

static int by_group_pages(const void *x, const void *y)
{
	const struct group *a = x, *b = y;

	if (a->pages != b->pages)
		return a->pages < b->pages ? 1 : -1;
	return strcmp(a->key, b->key);
}

static void group_key(const struct attrib_row *row, const char *by, char *key, size_t len)
{
	const char *type = row->type[0] ? row->type : "?";

	if (!strcmp(by, "cause"))
		snprintf(key, len, "%s", cow_cause_name(row->cause));
	else if (!strcmp(by, "type"))
		snprintf(key, len, "%s", type);
	else if (!strcmp(by, "region"))
		snprintf(key, len, "%s", cow_region_name(row->region));
	else
		snprintf(key, len, "%-17s %-28.28s %s", cow_cause_name(row->cause), type,
			 cow_field_name(row->field));
}

static void text_breakdown(FILE *f, const struct report *r, const char *by, size_t top)
{
	unsigned long long pages = report_pages(&r->total), decoded = 0;
	struct group *g = calloc(r->nrows ? r->nrows : 1, sizeof(*g));
	size_t i, j, n = 0;
	char key[160], esc[4 * 160];

	if (!g)
		return;
	for (i = 0; i < r->nrows; i++) {
		group_key(&r->rows[i], by, key, sizeof(key));
		for (j = 0; j < n && strcmp(g[j].key, key); j++)
			;
		if (j == n)
			snprintf(g[n++].key, sizeof(g->key), "%s", key);
		g[j].pages += r->rows[i].pages;
		decoded += r->rows[i].pages;
	}
	qsort(g, n, sizeof(*g), by_group_pages);
	if (!strcmp(by, "field"))
		fprintf(f, "\n%9s %6s  %-17s %-28s %s\n", "PAGES", "%", "CAUSE", "TYPE", "FIELD");
	else
		fprintf(f, "\n%9s %6s  %s\n", "PAGES", "%", !strcmp(by, "cause") ? "CAUSE"
							   : !strcmp(by, "type")  ? "TYPE"
										  : "REGION");
	for (i = 0; i < n && i < top; i++)
		fprintf(f, "%9llu %6.1f  %s\n", g[i].pages, pct(g[i].pages, pages),
			text_esc(esc, sizeof(esc), g[i].key));
	if (n > top)
		fprintf(f, "%9s %6s  (%zu more; --json has them all)\n", "", "", n - top);
	if (decoded < pages)
		fprintf(f, "%9llu %6.1f  (no decoded event: lost or not attributed)\n",
			pages - decoded, pct(pages - decoded, pages));
	free(g);
}

/* Is any traced process in a pid namespace of its own (a container)? */
static bool any_namespaced(const struct report *r)
{
	size_t i;

	for (i = 0; i < r->nprocs; i++)
		if (r->procs[i].ns_pid > 0 && (unsigned int)r->procs[i].ns_pid != r->procs[i].info.pid)
			return true;
	return false;
}

/*
 * The process table. When some process runs in a pid namespace of its own, a NSPID column
 * gives the pid its container knows it by, and the cgroups of the processes follow the table.
 */
static void text_procs(FILE *f, const struct report *r)
{
	bool ns = any_namespaced(r);
	char esc[4 * 256];
	size_t i, j;

	fprintf(f, "\n%8s %8s", "PID", "PPID");
	if (ns)
		fprintf(f, " %8s", "NSPID");
	/* copied MiB are in the summary above; RSS, PSS and USS are whole MiB */
	fprintf(f, " %-16s %-6s %8s %6s %6s %6s %6s  %s\n", "COMM", "ROLE", "PAGES", "GC%", "RSS",
		"PSS", "USS", "PYTHON");
	for (i = 0; i < r->nprocs; i++) {
		const struct report_proc *p = &r->procs[i];
		unsigned long long pp = report_pages(&p->counts);
		char py[48] = "-", comm[4 * COWTRACE_COMM_LEN];

		if (p->py_version)
			snprintf(py, sizeof(py), "%s %s", p->py_version, p->gc_source);
		fprintf(f, "%8u %8u", p->info.pid, p->info.ppid);
		if (ns && p->ns_pid > 0)
			fprintf(f, " %8d", p->ns_pid);
		else if (ns)
			fprintf(f, " %8s", "?");
		fprintf(f, " %-16.16s %-6s %8llu %6.1f", text_esc(comm, sizeof(comm), p->info.comm),
			cow_role_name(p->info.role), pp, pct(report_gc(&p->counts), pp));
		if (p->mem_s >= 0)
			fprintf(f, " %6.0f %6.0f %6.0f", p->mem.rss_kb / 1024.0,
				p->mem.pss_kb / 1024.0, p->mem.uss_kb / 1024.0);
		else
			fprintf(f, " %6s %6s %6s", "-", "-", "-");
		fprintf(f, "  %s%s\n", py, (p->info.flags & PROC_EXITED) ? "" : " (alive)");
	}
	if (!ns)
		return;
	/* each cgroup once, with its pids, in the table's order */
	for (i = 0; i < r->nprocs; i++) {
		const char *cg = r->procs[i].cgroup;
		bool seen = false;

		if (!cg)
			continue;
		for (j = 0; j < i && !seen; j++)
			seen = r->procs[j].cgroup && !strcmp(r->procs[j].cgroup, cg);
		if (seen)
			continue;
		fprintf(f, "cgroup %s:", text_esc(esc, sizeof(esc), cg));
		for (j = i; j < r->nprocs; j++)
			if (r->procs[j].cgroup && !strcmp(r->procs[j].cgroup, cg))
				fprintf(f, " %u", r->procs[j].info.pid);
		fputc('\n', f);
	}
}

/* With kernel.bpf_stats_enabled: what the BPF programs cost, in all and per copy counted. */
static void text_bpf_stats(FILE *f, const struct report *r)
{
	unsigned long long ns = 0, copies = report_pages(&r->total) + r->total.kind[COW_ZERO];
	size_t i;

	if (!r->bpf_stats)
		return;
	for (i = 0; i < r->nbpf_progs; i++)
		ns += r->bpf_progs[i].run_ns;
	fprintf(f, "bpf time:      %.1f ms", ns / 1e6);
	if (copies)
		fprintf(f, ", %.0f ns per copy", (double)ns / copies);
	fprintf(f, " (kernel.bpf_stats_enabled: every run, system-wide)\n               ms:");
	for (i = 0; i < r->nbpf_progs; i++)
		fprintf(f, "%s %s %.1f", i ? "," : "", r->bpf_progs[i].name,
			r->bpf_progs[i].run_ns / 1e6);
	fputc('\n', f);
}

void report_text(FILE *f, const struct report *r)
{
	const struct report_counts *t = &r->total;
	unsigned long long pages = report_pages(t);

	fprintf(f, "cowtrace %s: detector %s, kernel %s, traced %.2f s\n", r->version, r->detector,
		r->kernel, r->duration_s);
	fprintf(f, "copied pages:  %llu (%.1f MiB)   anon %llu   file %llu   zero %llu (not in pages)\n",
		pages, pages * PAGE_BYTES / MIB, t->kind[COW_ANON], t->kind[COW_FILE],
		t->kind[COW_ZERO]);
	text_gc_line(f, r);
	if (r->lost_events || r->slots_exhausted)
		fprintf(f, "lost:          %llu events (counts stay exact), %llu processes untraced\n",
			r->lost_events, r->slots_exhausted);
	if (r->missed_runs)
		fprintf(f, "missed:        %llu runs of the BPF programs skipped by the kernel "
			   "(recursion protection): counts may be low by as much\n",
			r->missed_runs);
	text_bpf_stats(f, r);
	text_procs(f, r);
	if (!r->attribution)
		return;
	if (r->by && !strcmp(r->by, "stack")) {
		stackout_text(f, r->srows, r->nsrows, report_pages(&r->total));
		return;
	}
	if (r->by) {
		text_breakdown(f, r, r->by, 40);
		return;
	}
	/* by default: who wrote, as precisely as it could be told */
	text_breakdown(f, r, "field", 15);
}

/* A process's or the totals' counts; gc_header_pages null without attribution. */
static void json_counts(struct json_writer *w, const struct report *r,
			const struct report_counts *c, const unsigned long long causes[CAUSE_COUNT],
			unsigned long long gc_header)
{
	unsigned long long pages = report_pages(c), gc = report_gc(c);
	int i;

	json_member_uint(w, "pages", pages);
	json_member_uint(w, "bytes", pages * PAGE_BYTES);
	json_key(w, "by_kind");
	json_begin_object(w);
	json_member_uint(w, "anon", c->kind[COW_ANON]);
	json_member_uint(w, "file", c->kind[COW_FILE]);
	json_member_uint(w, "zero", c->kind[COW_ZERO]);
	json_end_object(w);
	json_key(w, "by_cause");
	json_begin_object(w);
	json_member_uint(w, "gc", gc);
	for (i = 0; i < CAUSE_COUNT; i++) {
		if (i == CAUSE_GC)
			continue;
		json_member_uint(w, cow_cause_name(i), causes[i]);
	}
	json_member_uint(w, "unattributed", report_unattributed(c, causes));
	json_end_object(w);
	json_key(w, "gc_generations");
	json_begin_object(w);
	json_member_uint(w, "0", c->gc[0]);
	json_member_uint(w, "1", c->gc[1]);
	json_member_uint(w, "2", c->gc[2]);
	json_member_uint(w, "unknown", c->gc[GC_GEN_UNKNOWN]);
	json_end_object(w);
	json_key(w, "gc_header_pages");
	if (r->attribution)
		json_uint(w, gc_header);
	else
		json_null(w);
}

static void json_proc(struct json_writer *w, const struct report *r, const struct report_proc *p)
{
	json_begin_object(w);
	json_member_uint(w, "pid", p->info.pid);
	json_member_uint(w, "ppid", p->info.ppid);
	json_key(w, "ns_pid");
	if (p->ns_pid > 0)
		json_uint(w, p->ns_pid);
	else
		json_null(w);
	json_member_string(w, "cgroup", p->cgroup);
	json_key(w, "memory");
	if (p->mem_s >= 0) {
		json_begin_object(w);
		json_member_uint(w, "rss_bytes", p->mem.rss_kb * 1024);
		json_member_uint(w, "pss_bytes", p->mem.pss_kb * 1024);
		json_member_uint(w, "uss_bytes", p->mem.uss_kb * 1024);
		json_member_uint(w, "shared_bytes", p->mem.shared_kb * 1024);
		json_member_double(w, "at_s", p->mem_s, 3);
		json_end_object(w);
	} else {
		json_null(w);
	}
	json_member_string(w, "comm", p->info.comm);
	json_member_string(w, "cmdline", p->cmdline);
	json_member_string(w, "role", cow_role_name(p->info.role));
	json_member_bool(w, "exec", p->info.flags & PROC_EXECED);
	json_member_double(w, "start_s", rel_s(r, p->info.start_ns), 6);
	json_key(w, "exit_s");
	if (p->info.flags & PROC_EXITED)
		json_double(w, rel_s(r, p->info.exit_ns), 6);
	else
		json_null(w);
	json_key(w, "exit_code");
	if ((p->info.flags & PROC_EXITED) && !(p->info.flags & PROC_EXIT_UNSEEN))
		json_int(w, exit_code_of(p->info.exit_code));
	else
		json_null(w);
	json_key(w, "python");
	if (p->py_version) {
		json_begin_object(w);
		json_member_string(w, "version", p->py_version);
		json_member_string(w, "gc_source", p->gc_source);
		json_end_object(w);
	} else {
		json_null(w);
	}
	json_counts(w, r, &p->counts, p->causes, p->gc_header);
	json_end_object(w);
}

/* null unless kernel.bpf_stats_enabled is 1 (the kernel times BPF programs only then) */
static void json_bpf_stats(struct json_writer *w, const struct report *r)
{
	size_t i;

	if (!r->bpf_stats) {
		json_null(w);
		return;
	}
	json_begin_array(w);
	for (i = 0; i < r->nbpf_progs; i++) {
		json_begin_object(w);
		json_member_string(w, "program", r->bpf_progs[i].name);
		json_member_uint(w, "runs", r->bpf_progs[i].runs);
		json_member_uint(w, "run_ns", r->bpf_progs[i].run_ns);
		json_end_object(w);
	}
	json_end_array(w);
}

int report_json(FILE *f, const struct report *r)
{
	struct json_writer *w = json_document_begin(f);
	size_t i;

	if (!w)
		return -ENOMEM;
	json_member_string(w, "version", r->version);
	json_member_string(w, "detector", r->detector);
	json_member_string(w, "kernel", r->kernel);
	json_member_double(w, "duration_s", r->duration_s, 3);
	json_member_uint(w, "lost_events", r->lost_events);
	json_member_uint(w, "untraced_processes", r->slots_exhausted);
	json_member_uint(w, "missed_bpf_runs", r->missed_runs);
	json_key(w, "totals");
	json_begin_object(w);
	json_counts(w, r, &r->total, r->causes, r->gc_header);
	json_end_object(w);
	json_member_bool(w, "attribution", r->attribution);
	json_key(w, "objects");
	json_begin_array(w);
	for (i = 0; i < r->nrows; i++) {
		const struct attrib_row *row = &r->rows[i];

		json_begin_object(w);
		json_member_string(w, "cause", cow_cause_name(row->cause));
		json_member_string(w, "type", row->type[0] ? row->type : NULL);
		json_member_string(w, "field", cow_field_name(row->field));
		json_member_string(w, "region", cow_region_name(row->region));
		json_member_uint(w, "pages", row->pages);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "processes");
	json_begin_array(w);
	for (i = 0; i < r->nprocs; i++)
		json_proc(w, r, &r->procs[i]);
	json_end_array(w);
	json_key(w, "bpf_stats");
	json_bpf_stats(w, r);
	return json_document_end(w, f);
}
