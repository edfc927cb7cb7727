/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Copy-on-write detectors. Each is a set of BPF programs (bpf/cowtrace.bpf.c) that ends in
 * count_copy(). The libbpf-tools way: each is probed on the running kernel, the first that works
 * is chosen (or the one --detector names), and its name goes into every report. In order of
 * preference: a hook on wp_page_copy() where the kernel has it as a function, on do_wp_page()
 * where it inlines wp_page_copy(), fentry/fexit before kprobe/kretprobe (a BPF trampoline costs
 * less than a breakpoint); the fault tracepoints where neither is available.
 */
#ifndef COWTRACE_DETECTOR_H
#define COWTRACE_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>

struct btf;
struct cowtrace_bpf;

struct detector {
	const char *name;
	const char *description;
	/* what it sees: "anon file zero kernel-mode gup" or a part of it */
	const char *sees;
	/* NULL on success, else the reason this kernel cannot run it (a static string or buf) */
	const char *(*probe)(const struct detector *d, const struct btf *btf, char *buf,
			     size_t len);
	const char *function;	   /* the kernel function it hooks, NULL for none */
	const char *const *progs; /* its BPF programs, NULL-terminated */
};

/* The tracepoints every detector needs to follow the process tree. */
const char *detector_probe_process_tracking(const struct btf *btf, char *buf, size_t len);

/* Every detector, in order of preference on this kernel (kprobe before fentry on one that
 * preempts anywhere); returns their number. */
size_t detector_order(const struct detector **order);
#define DETECTORS_MAX 8
/* The detector called name, NULL when there is none. */
const struct detector *detector_by_name(const char *name);
/* NULL when d works on this kernel, else why not (in buf or a static string). */
const char *detector_probe(const struct detector *d, const struct btf *btf, char *buf,
			   size_t len);
/* The first detector that works here, or the one named by force (NULL: none forced); the
 * others' reasons go to the verbose log. NULL with the reason(s) in err when none can run. */
const struct detector *detector_choose(const struct btf *btf, const char *force, char *err,
				       size_t errlen);
/* Sets autoload so that only d's programs load. */
void detector_select(struct cowtrace_bpf *skel, const struct detector *d);

#endif
