// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cowtrace: count every copy-on-write page copy in a process tree, and the ones CPython's
 * garbage collector caused.
 *
 * open -> configure rodata -> load -> attach -> mark the tree traced -> poll -> report; every
 * failure goes to the one cleanup path with its exit status set.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "cowtrace.skel.h"
#include "cowtrace.h"
#include "attrib.h"
#include "copy_event.h"
#include "detector.h"
#include "direct_map.h"
#include "gate.h"
#include "kernel.h"
#include "log.h"
#include "options.h"
#include "procfs.h"
#include "pyattach.h"
#include "report.h"
#include "flamegraph.h"
#include "spawn.h"
#include "stackout.h"
#include "trace_print.h"
#include "tracees.h"

enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_GATE = 3,
	EXIT_CANNOT_EXEC = 126,
	EXIT_NOT_FOUND = 127,
};

/* Longest wait for events: copies below the wakeup threshold are decoded at least this often,
 * while the processes whose memory names their objects most likely live. */
#define POLL_MS 20

/* How long a --trace line waits for the rest of its fault (a file copy's correction). */
#define TRACE_HOLD_NS 20000000ULL

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	static const char msg[] = "cowtrace: interrupted twice, exiting without a report\n";

	if (exiting) {
		/* BPF programs and links die with the process: nothing stays attached. */
		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			_exit(130);
		_exit(130);
	}
	exiting = sig;
}

struct session {
	struct options opt;
	struct gate *gate;
	FILE *json;
	FILE *folded, *svg, *speedscope; /* opened before tracing: a bad path fails early */
	struct btf *btf;
	const struct detector *detector;
	struct cowtrace_bpf *skel;
	struct ring_buffer *rb;	     /* both rings: what the poll loop waits on */
	struct ring_buffer *rb_proc; /* the process ring alone (see handle_copy_event) */
	struct pyattach *pa;
	struct tracees tracees;
	struct trace_printer *printer;
	struct attrib *attrib; /* NULL with --counts-only */
	struct spawn child;
	bool child_reaped;
	int child_status;
	unsigned long long start_ns;
	unsigned long long end_ns;
	struct utsname uts;
};

static int handle_proc_event(void *ctx, void *data, size_t len)
{
	struct session *s = ctx;
	const struct cow_proc_event *e = data;

	if (len < sizeof(*e))
		return 0;
	switch (e->type) {
	case EV_FORK:
		tracees_on_fork(&s->tracees, e->slot, e->pid);
		break;
	case EV_EXEC:
		tracees_on_exec(&s->tracees, e->slot, e->pid, monotonic_ns());
		attrib_on_exec(s->attrib, e->slot);
		break;
	}
	return 0;
}

static int handle_copy_event(void *ctx, void *data, size_t len)
{
	struct session *s = ctx;
	struct cow_copy_event e;

	if (copy_event_read(data, len, &e))
		return 0;
	/* A copy's fork and exec events are in the other ring, written earlier: take them first,
	 * so that a new process's interpreter is known before its copies are decoded. */
	ring_buffer__consume(s->rb_proc);
	if (s->attrib)
		attrib_event(s->attrib, &e);
	if (s->printer)
		trace_printer_event(s->printer, &e);
	return 0;
}

static void read_counts(struct session *s, unsigned int slot, struct report_counts *out)
{
	struct cow_proc_counts c = {};
	int i;

	bpf_map__lookup_elem(s->skel->maps.counts, &slot, sizeof(slot), &c, sizeof(c), 0);
	for (i = 0; i < COW_KINDS; i++)
		out->kind[i] = c.kind[i];
	for (i = 0; i <= GC_GENS; i++)
		out->gc[i] = c.gc[i];
}

/* kernel.bpf_stats_enabled: the kernel times BPF programs only while it is 1 (it costs two clock
 * reads per run, so it is off by default). */
static bool bpf_stats_enabled(void)
{
	char c = '0';
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");

	if (f) {
		if (fread(&c, 1, 1, f) != 1)
			c = '0';
		fclose(f);
	}
	return c == '1';
}

/* The run time of each of our programs that ran, when the kernel keeps it. */
static void read_bpf_stats(struct session *s, struct report *r)
{
	struct bpf_program *prog;

	r->bpf_stats = bpf_stats_enabled();
	if (!r->bpf_stats)
		return;
	bpf_object__for_each_program(prog, s->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) || !info.run_cnt)
			continue;
		if (r->nbpf_progs == REPORT_BPF_PROGS_MAX)
			break;
		r->bpf_progs[r->nbpf_progs++] = (struct report_bpf_prog){
			.name = bpf_program__name(prog),
			.runs = info.run_cnt,
			.run_ns = info.run_time_ns,
		};
	}
}

/* Fills r from the BPF maps; r->procs is malloc'd. */
static int build_report(struct session *s, struct report *r, unsigned long long now_ns)
{
	unsigned int slot, n = tracees_nslots(&s->tracees);
	const unsigned long long *causes;
	int i;

	memset(r, 0, sizeof(*r));
	r->version = COWTRACE_VERSION;
	r->detector = s->detector->name;
	r->kernel = s->uts.release;
	r->start_ns = s->start_ns;
	r->duration_s = (now_ns - s->start_ns) / 1e9;
	r->lost_events = s->skel->bss->lost_copy_events + s->skel->bss->lost_proc_events;
	r->slots_exhausted = s->skel->bss->slots_exhausted;
	r->procs = calloc(n ? n : 1, sizeof(*r->procs));
	if (!r->procs)
		return -ENOMEM;
	for (slot = 0; slot < n; slot++) {
		struct report_proc *p = &r->procs[r->nprocs];
		const struct tracee *te = &s->tracees.slots[slot];

		if (bpf_map__lookup_elem(s->skel->maps.procs, &slot, sizeof(slot), &p->info,
					 sizeof(p->info), 0) ||
		    !p->info.pid)
			continue;
		p->info.comm[COWTRACE_COMM_LEN - 1] = '\0';
		read_counts(s, slot, &p->counts);
		p->cmdline = te->cmdline;
		if (te->python) {
			p->py_version = te->python->version;
			p->gc_source = te->python->gc_source;
		}
		causes = attrib_slot_causes(s->attrib, slot);
		for (i = 0; causes && i < CAUSE_COUNT; i++) {
			p->causes[i] = causes[i];
			r->causes[i] += causes[i];
		}
		report_add(&r->total, &p->counts);
		r->nprocs++;
	}
	if (s->attrib) {
		r->attribution = true;
		r->rows = attrib_rows(s->attrib, &r->nrows);
		r->srows = attrib_stack_rows(s->attrib, &r->nsrows);
		r->by = s->opt.by;
	}
	return 0;
}

static void live_summary(struct session *s, unsigned long long now_ns,
			 unsigned long long *last_pages)
{
	struct report r;
	unsigned long long pages, gc;
	size_t i, alive = 0;

	if (build_report(s, &r, now_ns))
		return;
	pages = report_pages(&r.total);
	gc = report_gc(&r.total);
	for (i = 0; i < r.nprocs; i++)
		alive += !(r.procs[i].info.flags & PROC_EXITED);
	fprintf(stderr,
		"[%8.1fs] processes %zu (%zu alive)  pages %llu (+%llu)  %.1f MiB  gc %.1f%%  "
		"zero %llu  lost %llu\n",
		r.duration_s, r.nprocs, alive, pages, pages - *last_pages,
		pages * 4096.0 / (1024 * 1024), pages ? 100.0 * gc / pages : 0.0,
		r.total.kind[COW_ZERO], r.lost_events);
	*last_pages = pages;
	free(r.procs);
}

static double gate_value(const char *name, void *ctx)
{
	return report_figure_value(ctx, name);
}

static int open_output(const char *path, FILE **f)
{
	if (!path)
		return 0;
	*f = !strcmp(path, "-") ? stdout : fopen(path, "we");
	if (!*f) {
		log_error("cannot write %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Checks that need nothing loaded: a bad input fails here, before anything is attached. */
static int preflight(struct session *s, char *cmd_path, size_t cmd_len)
{
	static const char *names[64];
	char err[512];
	size_t i;
	int e;

	if (s->opt.fail_on) {
		for (i = 0; report_figures[i].name && i < 63; i++)
			names[i] = report_figures[i].name;
		s->gate = gate_parse(s->opt.fail_on, names, err, sizeof(err));
		if (!s->gate) {
			log_error("--fail-on: %s", err);
			return EXIT_USAGE;
		}
	}
	if (s->opt.json_path && strcmp(s->opt.json_path, "-")) {
		s->json = fopen(s->opt.json_path, "we");
		if (!s->json) {
			log_error("cannot write --json file %s: %s", s->opt.json_path,
				  strerror(errno));
			return EXIT_USAGE;
		}
	}
	if (open_output(s->opt.folded_path, &s->folded) || open_output(s->opt.svg_path, &s->svg) ||
	    open_output(s->opt.speedscope_path, &s->speedscope))
		return EXIT_USAGE;
	if (s->opt.command) {
		e = spawn_resolve(s->opt.command[0], cmd_path, cmd_len);
		if (e == -ENOENT) {
			log_error("%s: command not found", s->opt.command[0]);
			return EXIT_NOT_FOUND;
		}
		if (e) {
			log_error("%s: cannot execute: %s", s->opt.command[0], strerror(-e));
			return EXIT_CANNOT_EXEC;
		}
	}
	if (kernel_check_privileges(err, sizeof(err))) {
		log_error("%s", err);
		return EXIT_ERROR;
	}
	if (s->opt.pid && procfs_pid_exists("/proc", s->opt.pid) != 1) {
		log_error("no process with pid %d", s->opt.pid);
		return EXIT_ERROR;
	}
	if (s->opt.pid && (e = procfs_read_tgid("/proc", s->opt.pid)) != s->opt.pid) {
		if (e > 0)
			log_error("%d is a thread of process %d: trace -p %d", s->opt.pid, e, e);
		else
			log_error("no process with pid %d", s->opt.pid);
		return EXIT_ERROR;
	}
	s->btf = kernel_btf_load(s->opt.btf_path, err, sizeof(err));
	if (!s->btf) {
		log_error("%s", err);
		return EXIT_ERROR;
	}
	if (detector_probe_process_tracking(s->btf, err, sizeof(err))) {
		log_error("%s", err);
		return EXIT_ERROR;
	}
	s->detector = detector_choose(s->btf, err, sizeof(err));
	if (!s->detector) {
		log_error("%s", err);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* The capture reads the written page through the kernel's direct map when it is found here
 * (about twice as cheap), else through the target's mapping; either way the same bytes. */
static void configure_capture(struct session *s)
{
	struct direct_map dm;
	unsigned long long t0 = monotonic_ns();
	char why[256];

	if (s->opt.no_direct_map) {
		log_info("capture: through the target's mappings (--no-direct-map)");
		return;
	}
	if (direct_map_find(s->opt.btf_path, &dm, why, sizeof(why))) {
		log_info("capture: through the target's mappings: %s", why);
		return;
	}
	s->skel->rodata->direct_map_base = dm.base;
	s->skel->rodata->page_table_levels = dm.levels;
	log_info("capture: through the kernel's direct map at 0x%llx (%u-level page tables, "
		 "checked against /proc/self/pagemap; %llu bases tried in %.1f ms)",
		 (unsigned long long)dm.base, dm.levels, (unsigned long long)dm.tried,
		 (monotonic_ns() - t0) / 1e6);
}

static int load_and_attach(struct session *s)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = s->opt.btf_path);
	long long zero_bit;
	int err;

	s->skel = cowtrace_bpf__open_opts(&open_opts);
	if (!s->skel) {
		log_error("cannot open BPF object: %s", strerror(errno));
		return EXIT_ERROR;
	}
	detector_select(s->skel, s->detector);
	s->skel->rodata->emit_copies = s->opt.trace || !s->opt.counts_only;
	s->skel->rodata->capture = !s->opt.counts_only;
	s->skel->rodata->walk_stacks = !s->opt.no_stacks;
	s->skel->rodata->native_stacks = s->opt.native;
	s->skel->rodata->event_times = s->opt.trace;
	/* counts alone need no event buffer: then don't pin its kernel memory */
	if (!s->opt.counts_only) {
		bpf_map__set_max_entries(s->skel->maps.copy_events, s->opt.buffer_mb << 20);
		/* Decoding reads the target's memory: the sooner, the likelier the writer (or its
		 * parent) still lives. 256 KiB is a wakeup per ~1000 copies, a few ns a copy. */
		s->skel->rodata->wakeup_bytes = 256 << 10;
		configure_capture(s);
	}
	else if (!s->opt.trace)
		bpf_map__set_max_entries(s->skel->maps.copy_events, getpagesize());
	/* __GFP_ZERO's bit is an enumerator since Linux 6.10; older kernels use 0x100 (8) */
	if (kernel_enum_value(s->btf, "___GFP_ZERO_BIT", &zero_bit) && zero_bit >= 0 &&
	    zero_bit < 32)
		s->skel->rodata->gfp_zero = 1u << zero_bit;

	err = cowtrace_bpf__load(s->skel);
	if (err) {
		log_error("cannot load BPF programs: %s%s", strerror(-err),
			  log_verbose() ? "" : " (run with -v for the verifier's log)");
		return EXIT_ERROR;
	}
	err = cowtrace_bpf__attach(s->skel);
	if (err) {
		log_error("cannot attach BPF programs: %s", strerror(-err));
		return EXIT_ERROR;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.proc_events), handle_proc_event, s,
				 NULL);
	if (!s->rb) {
		log_error("cannot set up the event buffer: %s", strerror(errno));
		return EXIT_ERROR;
	}
	/* a second reader of the process ring: both share the ring's consumer position */
	s->rb_proc = ring_buffer__new(bpf_map__fd(s->skel->maps.proc_events), handle_proc_event, s,
				      NULL);
	if (!s->rb_proc) {
		log_error("cannot set up the event buffer: %s", strerror(errno));
		return EXIT_ERROR;
	}
	if ((s->opt.trace || !s->opt.counts_only) &&
	    ring_buffer__add(s->rb, bpf_map__fd(s->skel->maps.copy_events), handle_copy_event, s)) {
		log_error("cannot set up the copy event buffer: %s", strerror(errno));
		return EXIT_ERROR;
	}
	s->pa = pyattach_new(s->skel);
	if (!s->pa || tracees_init(&s->tracees, s->skel, s->pa)) {
		log_error("out of memory");
		return EXIT_ERROR;
	}
	s->tracees.stacks = !s->opt.no_stacks;
	if (!s->opt.counts_only) {
		s->attrib = attrib_new(&s->tracees, !s->opt.no_stacks, s->opt.native);
		if (!s->attrib) {
			log_error("out of memory");
			return EXIT_ERROR;
		}
	}
	return EXIT_OK;
}

/* Attach the gc probes for COMMAND's interpreter before it runs a single collection. */
static void preattach_command(struct session *s, const char *path)
{
	char interp[4096];

	if (pyattach_file(s->pa, path))
		return;
	if (!spawn_script_interpreter(path, interp, sizeof(interp)))
		pyattach_file(s->pa, interp);
}

static int start_tracing(struct session *s, const char *cmd_path)
{
	int err;

	s->start_ns = monotonic_ns();
	if (!s->opt.command) {
		err = tracees_add_tree(&s->tracees, s->opt.pid);
		if (err) {
			log_error("cannot trace pid %d: %s", s->opt.pid,
				  err == -ESRCH ? "no such process" : strerror(-err));
			return EXIT_ERROR;
		}
		return EXIT_OK;
	}
	preattach_command(s, cmd_path);
	err = tracees_add(&s->tracees, s->child.pid, ROLE_ROOT, COWTRACE_NO_SLOT);
	if (err < 0) {
		log_error("cannot trace COMMAND (pid %d): %s", s->child.pid, strerror(-err));
		return EXIT_ERROR;
	}
	/* its /proc entry shows cowtrace's command line until the exec: use COMMAND's own, which
	 * stays right however soon COMMAND exits */
	tracees_set_cmdline(&s->tracees, err, s->opt.command);
	err = spawn_release(&s->child);
	if (err) {
		log_error("%s: %s", s->opt.command[0], strerror(-err));
		waitpid(s->child.pid, NULL, 0);
		s->child_reaped = true;
		return err == -ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
	}
	return EXIT_OK;
}

static void reap_child(struct session *s)
{
	int status;

	if (!s->opt.command || s->child_reaped || s->child.pid <= 0)
		return;
	if (waitpid(s->child.pid, &status, WNOHANG) == s->child.pid) {
		s->child_reaped = true;
		s->child_status = status;
	}
}

static void poll_loop(struct session *s)
{
	unsigned long long now, next_summary = 0, last_pages = 0;
	int err;

	if (s->opt.interval)
		next_summary = s->start_ns + s->opt.interval * 1e9;
	while (!exiting) {
		unsigned long long scan = tracees_next_scan(&s->tracees);
		int timeout = POLL_MS;

		/* sooner when an interpreter is being looked for (see tracees_tick) */
		now = monotonic_ns();
		if (scan && scan <= now)
			timeout = 0;
		else if (scan && scan - now < POLL_MS * 1000000ULL)
			timeout = (scan - now) / 1000000 + 1;
		err = ring_buffer__poll(s->rb, timeout);
		if (err < 0 && err != -EINTR) {
			log_error("polling the event buffers: %s", strerror(-err));
			break;
		}
		/* copy events are submitted without waking us for each: take what is there */
		ring_buffer__consume(s->rb);
		now = monotonic_ns();
		tracees_tick(&s->tracees, now);
		if (s->printer)
			trace_printer_flush(s->printer, now, TRACE_HOLD_NS);
		if (next_summary && now >= next_summary) {
			live_summary(s, now, &last_pages);
			next_summary += s->opt.interval * 1e9;
		}
		reap_child(s);
		if (s->opt.duration && now - s->start_ns >= s->opt.duration * 1e9)
			break;
		if (tracees_all_exited(&s->tracees)) {
			/* COMMAND has exited too (it was traced): its status is a moment away */
			if (s->opt.command && !s->child_reaped &&
			    waitpid(s->child.pid, &s->child_status, 0) == s->child.pid)
				s->child_reaped = true;
			break;
		}
	}
}

static int write_flame(FILE *f, const char *path, int (*write)(const struct flame *, FILE *,
								void *),
		       const struct flame *flame, void *arg)
{
	if (!f)
		return 0;
	if (write(flame, f, arg) || fflush(f)) {
		log_error("writing %s: %s", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

struct svg_arg {
	const char *title, *subtitle, *unit;
};

static int folded_fn(const struct flame *f, FILE *out, void *arg)
{
	return flame_write_folded(f, out);
}

static int svg_fn(const struct flame *f, FILE *out, void *arg)
{
	const struct svg_arg *a = arg;

	return flame_write_svg(f, out, a->title, a->subtitle, a->unit);
}

static int speedscope_fn(const struct flame *f, FILE *out, void *arg)
{
	const struct svg_arg *a = arg;

	return flame_write_speedscope(f, out, a->title, a->unit);
}

/* Flame graph files, from the copies aggregated by stack. */
static int write_stacks(struct session *s, const struct report *r)
{
	const struct attrib_stack_row *rows;
	struct svg_arg arg = { .unit = s->opt.unit_bytes ? "bytes" : "pages" };
	char subtitle[256];
	struct flame *flame;
	size_t n;
	int err = 0;

	if (!s->attrib || !(s->folded || s->svg || s->speedscope))
		return 0;
	rows = attrib_stack_rows(s->attrib, &n);
	flame = stackout_flame(rows, n, s->opt.unit_bytes);
	if (!flame) {
		log_error("out of memory");
		return -ENOMEM;
	}
	snprintf(subtitle, sizeof(subtitle),
		 "%llu pages copied in %zu processes, %.2f s, detector %s, kernel %s",
		 report_pages(&r->total), r->nprocs, r->duration_s, r->detector, r->kernel);
	arg.title = "cowtrace: copy-on-write copies by Python stack";
	arg.subtitle = subtitle;
	err |= write_flame(s->folded, s->opt.folded_path, folded_fn, flame, &arg);
	err |= write_flame(s->svg, s->opt.svg_path, svg_fn, flame, &arg);
	err |= write_flame(s->speedscope, s->opt.speedscope_path, speedscope_fn, flame, &arg);
	flame_free(flame);
	return err;
}

/* Writes the reports and evaluates the gate; returns the exit status. */
static int finish(struct session *s)
{
	FILE *text = stdout;
	struct report r;
	char why[1024];
	int status = EXIT_OK, err;

	ring_buffer__consume(s->rb);
	if (s->printer)
		trace_printer_flush(s->printer, 0, 0);
	if (build_report(s, &r, s->end_ns)) {
		log_error("out of memory");
		return EXIT_ERROR;
	}
	read_bpf_stats(s, &r); /* the final report only: live summaries don't show it */
	if (s->opt.json_path) {
		FILE *f = s->json ? s->json : stdout;

		err = report_json(f, &r);
		if (err) {
			log_error("writing %s: %s", s->opt.json_path, strerror(-err));
			status = EXIT_ERROR;
		}
		if (f == stdout)
			text = stderr;
	}
	if (s->opt.trace)
		text = stderr;
	if (!s->opt.quiet)
		report_text(text, &r);
	if (status == EXIT_OK && s->opt.command && s->child_reaped) {
		if (WIFEXITED(s->child_status))
			status = WEXITSTATUS(s->child_status);
		else if (WIFSIGNALED(s->child_status))
			status = 128 + WTERMSIG(s->child_status);
	}
	if (write_stacks(s, &r))
		status = EXIT_ERROR;
	if (s->gate && gate_eval(s->gate, gate_value, &r, why, sizeof(why))) {
		log_error("gate failed (--fail-on '%s'): %s", s->opt.fail_on, why);
		status = EXIT_GATE;
	}
	free(r.procs);
	return status;
}

static void cleanup(struct session *s)
{
	trace_printer_free(s->printer);
	ring_buffer__free(s->rb);
	ring_buffer__free(s->rb_proc);
	attrib_free(s->attrib);
	pyattach_free(s->pa);
	tracees_free(&s->tracees);
	cowtrace_bpf__destroy(s->skel);
	btf__free(s->btf);
	gate_free(s->gate);
	if (s->json)
		fclose(s->json);
	if (s->folded && s->folded != stdout)
		fclose(s->folded);
	if (s->svg && s->svg != stdout)
		fclose(s->svg);
	if (s->speedscope && s->speedscope != stdout)
		fclose(s->speedscope);
	if (s->child.go_fd >= 0 || s->child.err_fd >= 0)
		spawn_abort(&s->child);
}

int main(int argc, char **argv)
{
	struct session s = { .child = { .pid = -1, .go_fd = -1, .err_fd = -1 } };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512], cmd_path[4096];
	int status;

	if (options_parse(argc, argv, &s.opt, err, sizeof(err))) {
		log_error("%s (see cowtrace --help)", err);
		return EXIT_USAGE;
	}
	if (s.opt.help) {
		options_usage(stdout);
		return EXIT_OK;
	}
	if (s.opt.version) {
		printf("cowtrace %s\n", COWTRACE_VERSION);
		return EXIT_OK;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_verbose(s.opt.verbose);
	libbpf_set_print(log_libbpf);
	uname(&s.uts);

	status = preflight(&s, cmd_path, sizeof(cmd_path));
	if (status)
		goto cleanup;
	/* COMMAND is forked before any BPF object exists, so it never inherits one */
	if (s.opt.command && spawn_prepare(s.opt.command, &s.child)) {
		log_error("cannot start %s: %s", s.opt.command[0], strerror(errno));
		status = EXIT_ERROR;
		goto cleanup;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	status = load_and_attach(&s);
	if (status)
		goto cleanup;
	status = start_tracing(&s, cmd_path);
	if (status)
		goto cleanup;
	/* events wait in the ring buffer until the first poll, which comes after this */
	if (s.opt.trace) {
		s.printer = trace_printer_new(stdout, s.start_ns);
		if (!s.printer) {
			log_error("out of memory");
			status = EXIT_ERROR;
			goto cleanup;
		}
	}
	fprintf(stderr, "cowtrace: attached (detector %s); tracing %s %d and its descendants%s\n",
		s.detector->name, s.opt.command ? "COMMAND, pid" : "pid",
		s.opt.command ? s.child.pid : s.opt.pid,
		s.opt.duration ? "" : "; Ctrl-C to stop");

	poll_loop(&s);
	s.end_ns = monotonic_ns();
	status = finish(&s);
cleanup:
	cleanup(&s);
	return status;
}
