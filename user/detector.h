/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Copy-on-write detectors. Each is a set of BPF programs that ends in count_copy(); the first one
 * this kernel supports is chosen by probing its BTF, and its name goes into every report.
 * Planned beside "fault-alloc-tp": fentry and kprobe on wp_page_copy, for kernels (most
 * distribution kernels) that have it as a function.
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
	/* NULL on success, else the reason this kernel cannot run it (a static string or buf) */
	const char *(*probe)(const struct btf *btf, char *buf, size_t len);
	/* turn this detector's programs on (before load); the others stay off */
	void (*enable)(struct cowtrace_bpf *skel, bool on);
};

/* The tracepoints every detector needs to follow the process tree. */
const char *detector_probe_process_tracking(const struct btf *btf, char *buf, size_t len);

/* The first supported detector; NULL with the reasons in err when none is. */
const struct detector *detector_choose(const struct btf *btf, char *err, size_t errlen);
/* Sets autoload so that only d's programs load. */
void detector_select(struct cowtrace_bpf *skel, const struct detector *d);

#endif
