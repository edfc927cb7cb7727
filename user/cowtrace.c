// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cowtrace: count every copy-on-write page copy in a process tree, and the ones CPython's
 * garbage collector caused.
 *
 * open -> configure rodata -> load -> attach -> mark the tree traced -> poll -> report; every
 * failure goes to the one cleanup path with its exit status set.
 *
 * Over 1000 lines, on purpose: this is the session (struct session) from main() to its cleanup,
 * every step of which owns something the cleanup must release; split across files, the steps
 * would share the struct and the cleanup would no longer be read in one place. What each step
 * calls lives in user/trace, user/python, user/attrib and user/output (docs/architecture.md).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
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
#include "diff.h"
#include "direct_map.h"
#include "gate.h"
#include "kernel.h"
#include "log.h"
#include "options.h"
#include "outfile.h"
#include "procfs.h"
#include "prometheus.h"
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

/*
 * How often the memory of the traced processes is sampled (smaps_rollup walks every mapping:
 * a few ms for a large heap), and once more at the end: a process that exits is reported as
 * last seen, at most this long before its exit.
 */
#define MEMORY_SAMPLE_NS 1000000000ULL

/* How often processes BPF has as alive are looked for in /proc (tracees_check_exits). */
#define EXIT_CHECK_NS 500000000ULL

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
	/* created before tracing (a bad path fails early), in place only when complete */
	struct outfile json, folded, svg, speedscope;
	bool command_stopped; /* --stop ended COMMAND at -d */
	struct prom_file prom; /* --prometheus: rewritten at every -i tick too */
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
	struct direct_map dm; /* the kernel's direct map, when found (have_dm) */
	unsigned long long zero_pfn; /* the kernel's zero page, 0 when it maps none */
	bool have_dm;
	bool preempt_refused; /* the kernel refused the hooks with preemption off */
};

static bool duration_over(const struct session *s, unsigned long long now)
{
	return s->opt.duration && now - s->start_ns >= s->opt.duration * 1e9;
}

/* Ctrl-C, SIGTERM or -d: for the work done on the target's behalf between polls (pyattach) */
static bool run_ending(void *arg)
{
	const struct session *s = arg;

	return exiting || (s->start_ns && duration_over(s, monotonic_ns()));
}

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
	struct cow_proc_counts c = tracees_counts(&s->tracees, slot);
	int i;

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

/* The runs the kernel skipped of each of our programs, and their run time when the kernel
 * keeps it. */
static void read_bpf_stats(struct session *s, struct report *r)
{
	struct bpf_program *prog;

	r->bpf_stats = bpf_stats_enabled();
	bpf_object__for_each_program(prog, s->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		r->missed_runs += info.recursion_misses;
		if (info.recursion_misses)
			log_info("BPF program %s: %llu runs skipped by the kernel",
				 bpf_program__name(prog), (unsigned long long)info.recursion_misses);
		if (!r->bpf_stats || !info.run_cnt)
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
/*
 * The report so far. with_rows: also the rows by object and by stack, which are sorted here
 * (every row, every time): the final report needs them, the -i summary and the Prometheus file
 * do not.
 */
static int build_report_with(struct session *s, struct report *r, unsigned long long now_ns,
			     bool with_rows)
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

		p->info = tracees_proc_info(&s->tracees, slot);
		if (!p->info.pid)
			continue;
		p->info.role = tracees_role(&s->tracees, slot);
		p->info.comm[COWTRACE_COMM_LEN - 1] = '\0';
		read_counts(s, slot, &p->counts);
		p->cmdline = te->cmdline;
		p->ns_pid = te->ns_pid;
		p->cgroup = te->cgroup;
		p->mem = te->mem;
		p->mem_s = te->mem_ns ? (te->mem_ns - s->start_ns) / 1e9 : -1;
		if (te->python) {
			p->py_version = te->python->version;
			p->gc_source = te->python->gc_source;
		}
		causes = attrib_slot_causes(s->attrib, slot);
		for (i = 0; causes && i < CAUSE_COUNT; i++) {
			p->causes[i] = causes[i];
			r->causes[i] += causes[i];
		}
		p->gc_header = attrib_slot_gc_headers(s->attrib, slot);
		r->gc_header += p->gc_header;
		report_add(&r->total, &p->counts);
		r->nprocs++;
	}
	if (s->attrib) {
		r->attribution = true;
		if (with_rows) {
			r->rows = attrib_rows(s->attrib, &r->nrows);
			r->srows = attrib_stack_rows(s->attrib, &r->nsrows);
		}
		r->by = s->opt.by;
	}
	return 0;
}

static int build_report(struct session *s, struct report *r, unsigned long long now_ns)
{
	return build_report_with(s, r, now_ns, true);
}

static void live_summary(struct session *s, unsigned long long now_ns,
			 unsigned long long *last_pages)
{
	struct report r;
	unsigned long long pages, gc;
	size_t i, alive = 0;

	if (build_report_with(s, &r, now_ns, false))
		return;
	pages = report_pages(&r.total);
	gc = report_gc(&r.total);
	for (i = 0; i < r.nprocs; i++)
		alive += !(r.procs[i].info.flags & PROC_EXITED);
	fprintf(stderr,
		"[%8.1fs] processes %zu (%zu alive)  pages %llu (+%llu)  %.1f MiB  gc %.1f%%  "
		"zero %llu  lost %llu\n",
		r.duration_s, r.nprocs, alive, pages, pages - *last_pages,
		pages * (double)COW_PAGE_SIZE / (1024 * 1024), pages ? 100.0 * gc / pages : 0.0,
		r.total.kind[COW_ZERO], r.lost_events);
	*last_pages = pages;
	free(r.procs);
}

/* --prometheus at an -i tick: the figures so far, put in place whole. A failure is told once
 * and tried again at the next tick; the final write decides the exit status. */
static void prometheus_tick(struct session *s, unsigned long long now_ns)
{
	int before = s->prom.last_err, err;
	struct report r;

	if (!s->opt.prometheus_path || build_report_with(s, &r, now_ns, false))
		return;
	read_bpf_stats(s, &r);
	err = prom_file_update(&s->prom, &r);
	if (err && !before)
		log_warn("writing %s: %s (trying again every -i interval)",
			 s->opt.prometheus_path, strerror(-err));
	free(r.procs);
}

static double gate_value(const char *name, void *ctx)
{
	return report_figure_value(ctx, name);
}

static int open_output(struct outfile *o, const char *what, const char *path)
{
	int err = outfile_open(o, path);

	if (err)
		log_error("cannot write %s file %s: %s", what, path, strerror(-err));
	return err;
}

/* A -p pid cowtrace can trace: a live process (not a thread, a zombie or a kernel thread). */
static int check_pid(int pid)
{
	struct proc_stat st;
	int e;

	if (procfs_pid_exists("/proc", pid) != 1) {
		log_error("no process with pid %d", pid);
		return EXIT_ERROR;
	}
	if ((e = procfs_read_tgid("/proc", pid)) != pid) {
		if (e > 0)
			log_error("%d is a thread of process %d: trace -p %d", pid, e, e);
		else
			log_error("no process with pid %d", pid);
		return EXIT_ERROR;
	}
	if (!procfs_read_stat("/proc", pid, &st)) {
		/* neither ever copies a page: a trace of it would wait for nothing */
		if (st.flags & PROCFS_PF_KTHREAD) {
			log_error("%d is a kernel thread (%s): it has no user memory to trace", pid,
				  st.comm);
			return EXIT_ERROR;
		}
		if (st.state == 'Z' || st.state == 'X') {
			log_error("process %d has exited (a zombie its parent has not reaped)", pid);
			return EXIT_ERROR;
		}
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

	if (s->opt.detector && !detector_by_name(s->opt.detector)) {
		log_error("--detector: no detector called '%s' (cowtrace --list-detectors)",
			  s->opt.detector);
		return EXIT_USAGE;
	}
	if (s->opt.fail_on) {
		for (i = 0; report_figures[i].name && i < 63; i++)
			names[i] = report_figures[i].name;
		s->gate = gate_parse(s->opt.fail_on, names, err, sizeof(err));
		if (!s->gate) {
			log_error("--fail-on: %s", err);
			return EXIT_USAGE;
		}
	}
	if (open_output(&s->json, "--json", s->opt.json_path) ||
	    open_output(&s->folded, "--folded", s->opt.folded_path) ||
	    open_output(&s->svg, "--svg", s->opt.svg_path) ||
	    open_output(&s->speedscope, "--speedscope", s->opt.speedscope_path))
		return EXIT_USAGE;
	e = prom_file_open(&s->prom, s->opt.prometheus_path, s->opt.prometheus_pids);
	if (e) {
		log_error("cannot write --prometheus file %s: %s", s->opt.prometheus_path,
			  strerror(-e));
		return EXIT_USAGE;
	}
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
	for (i = 0; i < (size_t)s->opt.npids; i++) {
		e = check_pid(s->opt.pids[i]);
		if (e)
			return e;
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
	s->detector = detector_choose(s->btf, s->opt.detector, err, sizeof(err));
	if (!s->detector) {
		log_error("%s", err);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* The capture reads the written page through the kernel's direct map when it is found here
 * (about twice as cheap), else through the target's mapping; either way the same bytes. Looked
 * for once: a retry with less (load_and_attach) does not look again. */
static void find_direct_map(struct session *s)
{
	unsigned long long t0 = monotonic_ns();
	char why[256];

	if (s->opt.no_direct_map) {
		log_info("capture: through the target's mappings (--no-direct-map)");
		return;
	}
	if (direct_map_find(s->opt.btf_path, &s->dm, why, sizeof(why))) {
		log_info("capture: through the target's mappings: %s", why);
		return;
	}
	s->have_dm = true;
	log_info("capture: through the kernel's direct map at 0x%llx (%u-level page tables, "
		 "checked against /proc/self/pagemap%s; %llu bases tried in %.1f ms)",
		 (unsigned long long)s->dm.base, s->dm.levels,
		 s->dm.huge_checked ? ", huge pages too" : "; no huge page to check the walk on",
		 (unsigned long long)s->dm.tried, (monotonic_ns() - t0) / 1e6);
}

/* fault-alloc-tp tells a kernel-mode fault's copy by do_wp_page() or wp_page_copy() on the
 * allocation's stack. */
static void configure_kernel_faults(struct session *s)
{
	static const char *const fns[2] = { "do_wp_page", "wp_page_copy" };
	unsigned long long lo[2], hi[2];
	int i;

	if (strcmp(s->detector->name, "fault-alloc-tp"))
		return;
	kernel_ksym_ranges(fns, 2, lo, hi);
	for (i = 0; i < 2; i++) {
		if (!lo[i])
			continue;
		s->skel->rodata->wp_text_lo[i] = lo[i];
		s->skel->rodata->wp_text_hi[i] = hi[i];
		log_info("kernel-mode faults: %s at 0x%llx-0x%llx", fns[i], lo[i], hi[i]);
	}
	if (!s->skel->rodata->wp_text_lo[0])
		log_warn("do_wp_page is not in /proc/kallsyms: copies made in kernel-mode faults "
			 "(read() into a shared page) are not counted");
}

/* Opens the BPF object and configures it for s->opt (rodata, map sizes) before load. */
static int open_configured(struct session *s)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = s->opt.btf_path);
	long long zero_bit;
	bool group_dead;

	s->skel = cowtrace_bpf__open_opts(&open_opts);
	if (!s->skel)
		return -errno;
	detector_select(s->skel, s->detector);
	/* preemption off in the hooks, where the kernel has the kfunc (bpf/globals.bpf.h) */
	s->skel->rodata->preempt_off =
		!s->preempt_refused &&
		btf__find_by_name_kind(s->btf, "bpf_preempt_disable", BTF_KIND_FUNC) > 0;
	/* the exit hook that the kernel's sched_process_exit can feed (see bpf/cowtrace.bpf.c) */
	group_dead = kernel_tracepoint_nargs(s->btf, "sched_process_exit") >= 2;
	bpf_program__set_autoload(s->skel->progs.handle_exit_group, group_dead);
	bpf_program__set_autoload(s->skel->progs.handle_exit, !group_dead);
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
		if (s->have_dm) {
			s->skel->rodata->direct_map_base = s->dm.base;
			s->skel->rodata->page_table_levels = s->dm.levels;
		}
	} else if (!s->opt.trace) {
		bpf_map__set_max_entries(s->skel->maps.copy_events, getpagesize());
	}
	/* __GFP_ZERO's bit is an enumerator since Linux 6.10; older kernels use 0x100 (8) */
	if (kernel_enum_value(s->btf, "___GFP_ZERO_BIT", &zero_bit) && zero_bit >= 0 &&
	    zero_bit < 32)
		s->skel->rodata->gfp_zero = 1u << zero_bit;
	configure_kernel_faults(s);
	s->skel->rodata->zero_page_pfn = s->zero_pfn;
	return 0;
}

/*
 * What to give up when the kernel refuses the programs (a verifier's limits differ from one
 * kernel to the next: stack size, complexity, loop shapes): the direct map, then Python stacks,
 * then attribution; counting stays. False when nothing is left to give up.
 */
static bool load_with_less(struct session *s, int err)
{
	const char *part;

	if (s->skel->rodata->preempt_off) {
		/* not a loss of any part: only more runs may be skipped (and are reported) */
		s->preempt_refused = true;
		log_info("this kernel refused the BPF programs with preemption off (%s); loading "
			 "them without", strerror(-err));
		return true;
	}
	if (s->have_dm && !s->opt.counts_only) {
		s->have_dm = false;
		part = "the direct map (reading the target through its mappings)";
	} else if (!s->opt.no_stacks) {
		s->opt.no_stacks = true;
		part = "Python stacks";
	} else if (!s->opt.counts_only) {
		s->opt.counts_only = true;
		s->opt.native = false;
		part = "attribution (counting only)";
	} else {
		return false;
	}
	log_warn("this kernel refused the BPF programs (%s); tracing without %s", strerror(-err),
		 part);
	return true;
}

static int load_and_attach(struct session *s)
{
	bool less;
	int err;

	if (!s->opt.counts_only)
		find_direct_map(s);
	/* once: the BPF object may be opened again with less (load_with_less()) */
	s->zero_pfn = kernel_zero_pfn();
	log_info("the zero page: %s", s->zero_pfn ? "found" : "not mapped here");
	for (;;) {
		err = open_configured(s);
		if (err) {
			log_error("cannot open BPF object: %s", strerror(-err));
			return EXIT_ERROR;
		}
		err = cowtrace_bpf__load(s->skel);
		if (!err)
			break;
		less = load_with_less(s, err);
		cowtrace_bpf__destroy(s->skel);
		s->skel = NULL;
		if (!less) {
			log_error("cannot load BPF programs: %s%s", strerror(-err),
				  log_verbose() ? "" : " (run with -v for the verifier's log)");
			return EXIT_ERROR;
		}
	}
	err = cowtrace_bpf__attach(s->skel);
	if (err) {
		log_error("cannot attach BPF programs (detector %s): %s", s->detector->name,
			  strerror(-err));
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
	pyattach_set_stop(s->pa, run_ending, s);
	s->tracees.stacks = !s->opt.no_stacks;
	if (!s->opt.counts_only) {
		s->attrib = attrib_new(&s->tracees, !s->opt.no_stacks, s->opt.native);
		if (!s->attrib) {
			log_error("out of memory");
			return EXIT_ERROR;
		}
		if (s->opt.per_process)
			attrib_stacks_per_process(s->attrib);
	}
	return EXIT_OK;
}

/* --list-detectors: each detector, and whether it works on this kernel. */
static int list_detectors(struct session *s)
{
	const struct detector *order[DETECTORS_MAX];
	char err[512], buf[256];
	const char *why;
	size_t i, n;

	s->btf = kernel_btf_load(s->opt.btf_path, err, sizeof(err));
	if (!s->btf) {
		log_error("%s", err);
		return EXIT_ERROR;
	}
	/* in order of preference here: the first available one is the default */
	n = detector_order(order);
	for (i = 0; i < n; i++) {
		why = detector_probe(order[i], s->btf, buf, sizeof(buf));
		if (why)
			printf("%-20s unavailable: %s\n", order[i]->name, why);
		else
			printf("%-20s available (sees: %s)\n", order[i]->name, order[i]->sees);
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
	int err, i;

	s->start_ns = monotonic_ns();
	if (!s->opt.command) {
		for (i = 0; i < s->opt.npids; i++) {
			err = tracees_add_tree(&s->tracees, s->opt.pids[i]);
			if (err) {
				log_error("cannot trace pid %d: %s", s->opt.pids[i],
					  err == -ESRCH ? "no such process" : strerror(-err));
				return EXIT_ERROR;
			}
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

/* -d has elapsed while COMMAND runs: say what becomes of it, and stop it with --stop. */
static void end_command(struct session *s)
{
	int i;

	if (!s->opt.command || s->child_reaped || s->child.pid <= 0)
		return;
	if (!s->opt.stop_command) {
		log_warn("-d elapsed: COMMAND (pid %d) keeps running, no longer traced (--stop "
			 "stops it at -d)", s->child.pid);
		return;
	}
	log_warn("-d elapsed: stopping COMMAND (pid %d): SIGTERM", s->child.pid);
	s->command_stopped = true;
	kill(s->child.pid, SIGTERM);
	for (i = 0; i < 1000 && !s->child_reaped; i++) {
		reap_child(s);
		if (!s->child_reaped)
			usleep(10000);
	}
	if (!s->child_reaped) {
		log_warn("COMMAND (pid %d) still running 10 s after SIGTERM: SIGKILL", s->child.pid);
		kill(s->child.pid, SIGKILL);
		if (waitpid(s->child.pid, &s->child_status, 0) == s->child.pid)
			s->child_reaped = true;
	}
}

static void poll_loop(struct session *s)
{
	unsigned long long now, next_summary = 0, last_pages = 0, next_exit_check = 0, next_memory = 0;
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
		if (now >= next_exit_check) {
			tracees_check_exits(&s->tracees, now);
			next_exit_check = now + EXIT_CHECK_NS;
		}
		if (now >= next_memory) {
			tracees_sample_memory(&s->tracees, now);
			next_memory = now + MEMORY_SAMPLE_NS;
		}
		if (s->printer)
			trace_printer_flush(s->printer, now, TRACE_HOLD_NS);
		if (next_summary && now >= next_summary) {
			live_summary(s, now, &last_pages);
			prometheus_tick(s, now);
			next_summary += s->opt.interval * 1e9;
		}
		reap_child(s);
		if (duration_over(s, now)) {
			end_command(s);
			break;
		}
		if (tracees_all_exited(&s->tracees)) {
			/* COMMAND has exited too (it was traced): its status is a moment away */
			if (s->opt.command && !s->child_reaped &&
			    waitpid(s->child.pid, &s->child_status, 0) == s->child.pid)
				s->child_reaped = true;
			break;
		}
	}
}

static int write_flame(struct outfile *o, int (*write)(const struct flame *, FILE *, void *),
		       const struct flame *flame, void *arg)
{
	if (!o->f)
		return 0;
	if (write(flame, o->f, arg)) {
		log_error("writing %s: %s", o->path, strerror(errno));
		outfile_discard(o); /* the previous file stays as it was */
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

	if (!s->attrib || !(s->folded.f || s->svg.f || s->speedscope.f))
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
	err |= write_flame(&s->folded, folded_fn, flame, &arg);
	err |= write_flame(&s->svg, svg_fn, flame, &arg);
	err |= write_flame(&s->speedscope, speedscope_fn, flame, &arg);
	flame_free(flame);
	return err;
}

/* Puts every report file in place, and makes sure stdout took what was written to it. */
static int commit_outputs(struct session *s)
{
	struct outfile *o[] = { &s->json, &s->folded, &s->svg, &s->speedscope };
	int err, ret = 0;
	size_t i;

	for (i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		err = outfile_commit(o[i]);
		if (err) {
			log_error("writing %s: %s", o[i]->path, strerror(-err));
			ret = err;
		}
	}
	/* stdio keeps no errno of the write that failed */
	if (fflush(stdout) || ferror(stdout)) {
		log_error("writing to stdout: a write failed, the output is incomplete");
		ret = -EIO;
	}
	return ret;
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
	tracees_sample_memory(&s->tracees, monotonic_ns());
	if (build_report(s, &r, s->end_ns)) {
		log_error("out of memory");
		return EXIT_ERROR;
	}
	read_bpf_stats(s, &r); /* the final report only: live summaries don't show it */
	if (s->json.f) {
		err = report_json(s->json.f, &r);
		if (err) {
			log_error("writing %s: %s", s->opt.json_path, strerror(-err));
			outfile_discard(&s->json);
			status = EXIT_ERROR;
		}
		if (s->json.f == stdout)
			text = stderr;
	}
	err = prom_file_update(&s->prom, &r);
	if (err) {
		log_error("writing %s: %s", s->opt.prometheus_path, strerror(-err));
		status = EXIT_ERROR;
	}
	if (s->opt.trace)
		text = stderr;
	if (!s->opt.quiet)
		report_text(text, &r);
	/* COMMAND's status, unless cowtrace stopped it itself (--stop) */
	if (status == EXIT_OK && s->opt.command && s->child_reaped && !s->command_stopped) {
		if (WIFEXITED(s->child_status))
			status = WEXITSTATUS(s->child_status);
		else if (WIFSIGNALED(s->child_status))
			status = 128 + WTERMSIG(s->child_status);
	}
	if (write_stacks(s, &r) || commit_outputs(s))
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
	/* reports not put in place (a failed run) leave the previous files as they were */
	outfile_discard(&s->json);
	outfile_discard(&s->folded);
	outfile_discard(&s->svg);
	outfile_discard(&s->speedscope);
	prom_file_close(&s->prom);
	if (s->child.go_fd >= 0 || s->child.err_fd >= 0)
		spawn_abort(&s->child);
}

int main(int argc, char **argv)
{
	struct session s = { .child = { .pid = -1, .go_fd = -1, .err_fd = -1 } };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512], cmd_path[4096];
	int status;

	/* cowtrace diff A.json B.json: compares two reports, traces nothing (user/output/diff_main.c) */
	if (argc > 1 && !strcmp(argv[1], "diff"))
		return diff_main(argc - 1, argv + 1);
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
	if (s.opt.list_detectors) {
		log_set_verbose(s.opt.verbose);
		libbpf_set_print(log_libbpf);
		status = list_detectors(&s);
		btf__free(s.btf);
		return status;
	}
	/* Installed setuid or setgid, every user would run COMMAND and write reports as root. */
	if (getuid() != geteuid() || getgid() != getegid() || getauxval(AT_SECURE)) {
		log_error("refusing to run setuid or setgid: run it as root, or give it "
			  "CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE (see README, Limits)");
		return EXIT_ERROR;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_verbose(s.opt.verbose);
	libbpf_set_print(log_libbpf);
	uname(&s.uts);

	status = preflight(&s, cmd_path, sizeof(cmd_path));
	if (status)
		goto cleanup;
	/* COMMAND is forked before any BPF object exists, so it never inherits one */
	/* stdout is the JSON report alone: COMMAND's own output goes to stderr */
	s.child.stdout_to_stderr = s.opt.json_path && !strcmp(s.opt.json_path, "-");
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
	fprintf(stderr, "cowtrace: attached (detector %s); tracing %s %d%s and %s descendants%s\n",
		s.detector->name, s.opt.command ? "COMMAND, pid" : s.opt.npids > 1 ? "pids" : "pid",
		s.opt.command ? s.child.pid : s.opt.pid, s.opt.npids > 1 ? ",..." : "",
		s.opt.npids > 1 ? "their" : "its", s.opt.duration ? "" : "; Ctrl-C to stop");

	poll_loop(&s);
	s.end_ns = monotonic_ns();
	status = finish(&s);
cleanup:
	cleanup(&s);
	return status;
}
