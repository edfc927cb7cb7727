// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "cowtrace.skel.h"
#include "detector.h"
#include "kernel.h"

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

/* fault-alloc-tp: exceptions:page_fault_user exists on x86 only (arm64 has no such tracepoint);
 * rss_stat tells file copies from anonymous ones. */
static const char *fault_alloc_probe(const struct btf *btf, char *buf, size_t len)
{
	static const char *const tps[] = { "page_fault_user", "mm_page_alloc", "rss_stat", NULL };

#if !defined(__x86_64__)
	return "detector fault-alloc-tp needs x86-64 (exceptions:page_fault_user)";
#endif
	return missing_tracepoint(btf, tps, buf, len);
}

static void fault_alloc_enable(struct cowtrace_bpf *skel, bool on)
{
	bpf_program__set_autoload(skel->progs.fault_user, on);
	bpf_program__set_autoload(skel->progs.page_alloc, on);
	bpf_program__set_autoload(skel->progs.rss_stat, on);
}

static const struct detector detectors[] = {
	{
		.name = "fault-alloc-tp",
		.description = "exceptions:page_fault_user + kmem:mm_page_alloc in the same fault",
		.probe = fault_alloc_probe,
		.enable = fault_alloc_enable,
	},
};

#define NR_DETECTORS (sizeof(detectors) / sizeof(detectors[0]))

const struct detector *detector_choose(const struct btf *btf, char *err, size_t errlen)
{
	char buf[160];
	size_t i, off = 0;

	err[0] = '\0';
	for (i = 0; i < NR_DETECTORS; i++) {
		const char *why = detectors[i].probe(btf, buf, sizeof(buf));

		if (!why)
			return &detectors[i];
		off += snprintf(err + off, off < errlen ? errlen - off : 0, "%s%s",
				off ? "; " : "no copy-on-write detector works here: ", why);
	}
	return NULL;
}

void detector_select(struct cowtrace_bpf *skel, const struct detector *d)
{
	size_t i;

	for (i = 0; i < NR_DETECTORS; i++)
		detectors[i].enable(skel, &detectors[i] == d);
}
