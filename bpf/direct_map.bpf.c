// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Where the kernel's direct map starts (page_offset_base, randomised by KASLR and in no symbol
 * table user space can read), found by looking: user space fills pages with bytes only it has
 * seen and tells us their physical addresses (/proc/self/pagemap); the base is the candidate
 * at which both pages' bytes are found. Then the page-table walk of direct_map.bpf.h must find
 * both pages, from this process's pgd, at exactly base + their physical address, and the loads
 * the capture makes must read the first page's bytes there.
 * Run once with BPF_PROG_RUN, in the calling process (user/trace/direct_map.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "cowtrace.h"
#include "direct_map.bpf.h"
#include "direct_map_probe.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct dm_probe probe;

static bool page_matches(__u64 kaddr, int page)
{
	__u64 buf[DM_PATTERN_WORDS];
	int i;

	if (bpf_probe_read_kernel(buf, sizeof(buf), (void *)kaddr))
		return false;
#pragma unroll
	for (i = 0; i < DM_PATTERN_WORDS; i++)
		if (buf[i] != probe.pattern[page & 1][i])
			return false;
	return true;
}

static long try_base(__u64 i, void *unused)
{
	__u64 base = probe.first + i * probe.step;

	probe.tried++;
	if (!page_matches(base + probe.phys[0], 0) || !page_matches(base + probe.phys[1], 1))
		return 0;
	probe.base = base;
	return 1;
}

SEC("syscall")
int find_direct_map(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pgd = (__u64)BPF_CORE_READ(task, mm, pgd), table;
	__u64 got[DM_PATTERN_WORDS];
	bool large;
	int i;

	bpf_loop(probe.count, try_base, NULL, 0);
	if (!probe.base)
		return 0;
	/* unrolled, like every loop here: the 6.1 verifier refuses a loop whose back-edge is a
	 * fall-through ("back-edge from insn 35 to 36"; fixed in 6.7, 10e14e9652bf) */
#pragma unroll
	for (i = 0; i < 2; i++) {
		table = dm_pte_table(probe.base, probe.levels, pgd, probe.uaddr[i], &large);
		probe.walked[i] = dm_addr_in(probe.base, table, large, probe.uaddr[i],
					     probe.uaddr[i]);
	}
	if (!probe.walked[0])
		return 0;
	dm_copy(got, probe.walked[0], sizeof(got));
	probe.loaded = 1;
#pragma unroll
	for (i = 0; i < DM_PATTERN_WORDS; i++)
		if (got[i] != probe.pattern[0][i])
			probe.loaded = 0;
	if (!probe.huge_uaddr)
		return 0;
	/* the large-page branch, on a transparent huge page */
	table = dm_pte_table(probe.base, probe.levels, pgd, probe.huge_uaddr, &large);
	probe.huge_large = large;
	probe.huge_walked = dm_addr_in(probe.base, table, large, probe.huge_uaddr, probe.huge_uaddr);
	if (!probe.huge_walked)
		return 0;
	dm_copy(got, probe.huge_walked, sizeof(got));
	probe.huge_loaded = 1;
#pragma unroll
	for (i = 0; i < DM_PATTERN_WORDS; i++)
		if (got[i] != probe.huge_pattern[i])
			probe.huge_loaded = 0;
	return 0;
}
