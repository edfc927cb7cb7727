/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel's direct map, through which the capture reads a faulting page (see
 * bpf/direct_map.bpf.h for why): its base found and the page-table walk checked, at start-up.
 */
#ifndef COWTRACE_DIRECT_MAP_H
#define COWTRACE_DIRECT_MAP_H

#include <stddef.h>
#include <stdint.h>

struct direct_map {
	uint64_t base;	   /* page_offset_base */
	unsigned levels;   /* page-table levels, 4 or 5 */
	uint64_t tried;	   /* candidate bases read to find it */
	/* the walk's large-page branch: checked on a transparent huge page of ours (1), not
	 * checked because the kernel gave none (0: THP off, or none free) */
	int huge_checked;
};

/* The x86-64 range KASLR places the direct map in (arch/x86/mm/kaslr.c: from the unrandomised
 * base up to the cpu_entry_area, in 1 GiB steps), and how many of its bases are tried. */
#define DM_BASE_L4	  0xffff888000000000ULL
#define DM_BASE_L5	  0xff11000000000000ULL
#define DM_END		  0xfffffe0000000000ULL
#define DM_STEP		  (1ULL << 30)
#define DM_MAX_CANDIDATES (1ULL << 17)

/* Candidate bases for a kernel with levels page-table levels: first and count. */
void direct_map_candidates(unsigned levels, uint64_t *first, uint64_t *count);


/* Finds the direct map and checks the walk on two pages of this process (needs x86-64 and
 * root). 0 on success; else -errno with a one-line reason in why: the capture then reads
 * through the target's own mappings. btf_path as --btf (NULL: the kernel's). */
int direct_map_find(const char *btf_path, struct direct_map *dm, char *why, size_t whylen);

#endif
