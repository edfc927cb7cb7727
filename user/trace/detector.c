// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "cowtrace.skel.h"
#include "detector.h"
#include "kernel.h"
#include "log.h"

static const char *missing_tracepoint(const struct btf *btf, const char *const *names, char *buf,
				      size_t len)
{
	for (; *names; names++) {
		if (!kernel_has_tracepoint(btf, *names)) {
			snprintf(buf, len, "%s lacks tracepoint %s", kernel_btf_label(), *names);
			return buf;
		}
	}
	return NULL;
}

const char *detector_probe_process_tracking(const struct btf *btf, char *buf, size_t len)
{
	static const char *const tps[] = { "sched_process_fork", "sched_process_exec",
					   "sched_process_exit", NULL };

	return missing_tracepoint(btf, tps, buf, len);
}

/* fault-alloc-tp: exceptions:page_fault_user/page_fault_kernel exist on x86 only (arm64 has no
 * such tracepoints); rss_stat tells file copies from anonymous ones. */
static const char *fault_alloc_probe(const struct detector *d, const struct btf *btf, char *buf,
				     size_t len)
{
	static const char *const tps[] = { "page_fault_user", "page_fault_kernel", "mm_page_alloc",
					   "rss_stat", NULL };

#if !defined(__x86_64__)
	return "needs x86-64 (exceptions:page_fault_user)";
#endif
	return missing_tracepoint(btf, tps, buf, len);
}

static const char *fentry_probe(const struct detector *d, const struct btf *btf, char *buf,
				size_t len)
{
	return kernel_fentry_works(d->function, buf, len);
}

static const char *kprobe_probe(const struct detector *d, const struct btf *btf, char *buf,
				size_t len)
{
	return kernel_kprobe_works(d->function, buf, len);
}

static const char *const fault_alloc_progs[] = { "fault_user", "fault_kernel", "page_alloc",
						 "rss_stat", NULL };
static const char *const wpc_fentry_progs[] = { "wpc_fentry", "wpc_fexit", NULL };
static const char *const wpc_kprobe_progs[] = { "wpc_kprobe", "wpc_kretprobe", NULL };
static const char *const dwp_fentry_progs[] = { "dwp_fentry", "dwp_fexit", NULL };
static const char *const dwp_kprobe_progs[] = { "dwp_kprobe", "dwp_kretprobe", NULL };

#define WP_SEES "anon file zero kernel-mode gup"

static const struct detector detectors[] = {
	{
		.name = "wp-page-copy-fentry",
		.description = "fentry/fexit on wp_page_copy()",
		.sees = WP_SEES,
		.probe = fentry_probe,
		.function = "wp_page_copy",
		.progs = wpc_fentry_progs,
	},
	{
		.name = "wp-page-copy-kprobe",
		.description = "kprobe/kretprobe on wp_page_copy()",
		.sees = WP_SEES,
		.probe = kprobe_probe,
		.function = "wp_page_copy",
		.progs = wpc_kprobe_progs,
	},
	{
		.name = "do-wp-page-fentry",
		.description = "fentry/fexit on do_wp_page() (which inlines wp_page_copy())",
		.sees = WP_SEES,
		.probe = fentry_probe,
		.function = "do_wp_page",
		.progs = dwp_fentry_progs,
	},
	{
		.name = "do-wp-page-kprobe",
		.description = "kprobe/kretprobe on do_wp_page() (which inlines wp_page_copy())",
		.sees = WP_SEES,
		.probe = kprobe_probe,
		.function = "do_wp_page",
		.progs = dwp_kprobe_progs,
	},
	{
		.name = "fault-alloc-tp",
		.description = "exceptions:page_fault_user/page_fault_kernel + kmem:mm_page_alloc in "
			       "the same fault",
		.sees = "anon file zero kernel-mode",
		.probe = fault_alloc_probe,
		.progs = fault_alloc_progs,
	},
};

#define NR_DETECTORS (sizeof(detectors) / sizeof(detectors[0]))
_Static_assert(NR_DETECTORS <= DETECTORS_MAX, "DETECTORS_MAX too small");


const struct detector *detector_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < NR_DETECTORS; i++)
		if (!strcmp(detectors[i].name, name))
			return &detectors[i];
	return NULL;
}

const char *detector_probe(const struct detector *d, const struct btf *btf, char *buf,
			   size_t len)
{
	return d->probe(d, btf, buf, len);
}

/*
 * On a kernel that preempts anywhere, a tracing program (fentry/fexit, raw tracepoints) can be
 * preempted, and the kernel then skips it on that CPU for every other task until the first one
 * runs again (its recursion check is per CPU): 7.2 skipped a third of two Python workers' copies
 * under fexit. kprobes run with preemption off and lose nothing: there they go first.
 */
static bool kprobe_first(const struct detector *d, const struct detector *next, bool preemptible)
{
	return preemptible && next->function && d->function && !strcmp(d->function, next->function) &&
	       strstr(next->name, "kprobe") && strstr(d->name, "fentry");
}

size_t detector_order(const struct detector **order)
{
	char mode[64];
	const struct detector *d;
	bool preemptible = kernel_fully_preemptible(mode, sizeof(mode));
	size_t i;

	for (i = 0; i < NR_DETECTORS; i++)
		order[i] = &detectors[i];
	for (i = 0; i + 1 < NR_DETECTORS; i++) {
		if (kprobe_first(order[i], order[i + 1], preemptible)) {
			d = order[i];
			order[i] = order[i + 1];
			order[i + 1] = d;
			log_info("detector %s before %s: the kernel preempts anywhere (%s)",
				 order[i]->name, d->name, mode);
			i++;
		}
	}
	return NR_DETECTORS;
}

const struct detector *detector_choose(const struct btf *btf, const char *force, char *err,
				       size_t errlen)
{
	const struct detector *order[NR_DETECTORS], *d;
	char buf[256];
	const char *why;
	size_t i, n, off = 0;

	err[0] = '\0';
	if (force) {
		d = detector_by_name(force);
		if (!d) {
			snprintf(err, errlen, "no detector called '%s' (cowtrace --list-detectors)",
				 force);
			return NULL;
		}
		why = detector_probe(d, btf, buf, sizeof(buf));
		if (why) {
			snprintf(err, errlen, "detector %s cannot run here: %s", d->name, why);
			return NULL;
		}
		return d;
	}
	n = detector_order(order);
	for (i = 0; i < n; i++) {
		why = detector_probe(order[i], btf, buf, sizeof(buf));
		if (!why) {
			log_info("detector %s: chosen (%s)", order[i]->name, order[i]->description);
			return order[i];
		}
		log_info("detector %s: not chosen: %s", order[i]->name, why);
		off += snprintf(err + off, off < errlen ? errlen - off : 0, "%s%s: %s",
				off ? "; " : "no copy-on-write detector works here: ", order[i]->name,
				why);
	}
	return NULL;
}

void detector_select(struct cowtrace_bpf *skel, const struct detector *d)
{
	struct bpf_program *prog;
	const char *const *p;
	size_t i;

	/* every detector's programs off, then d's on (page_alloc is shared) */
	for (i = 0; i < NR_DETECTORS; i++)
		for (p = detectors[i].progs; *p; p++) {
			prog = bpf_object__find_program_by_name(skel->obj, *p);
			if (prog)
				bpf_program__set_autoload(prog, false);
		}
	for (p = d->progs; *p; p++) {
		prog = bpf_object__find_program_by_name(skel->obj, *p);
		if (prog)
			bpf_program__set_autoload(prog, true);
	}
}
