/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared by bpf/direct_map.bpf.c and user/trace/direct_map.c: the search for the direct map's
 * base. */
#ifndef COWTRACE_DIRECT_MAP_PROBE_H
#define COWTRACE_DIRECT_MAP_PROBE_H

#define DM_PATTERN_WORDS 8 /* 64 bytes at the start of each page: no other page holds them */

struct dm_probe {
	/* in */
	__u64 pattern[2][DM_PATTERN_WORDS];
	__u64 phys[2];	/* physical address of each page */
	__u64 uaddr[2]; /* its address in the calling process */
	__u64 first;	/* candidate bases: first + i * step, i < count */
	__u64 step;
	__u64 count;
	__u32 levels; /* page-table levels: 4, or 5 with LA57 */
	__u32 pad;
	/* a transparent huge page of the calling process (0: none could be had), with its own
	 * pattern at huge_uaddr: the walk's large-page branch is checked on it */
	__u64 huge_uaddr;
	__u64 huge_pattern[DM_PATTERN_WORDS];
	/* out */
	__u64 base;	  /* the candidate where page 0 was found (page 1 too, else 0) */
	__u64 tried;	  /* candidates read */
	__u64 walked[2];  /* direct-map address of each page by the page-table walk, 0: none */
	__u32 loaded;	  /* the capture's loads read page 0's pattern at walked[0] */
	__u32 huge_large; /* the walk found huge_uaddr in a large page */
	__u64 huge_walked; /* direct-map address of huge_uaddr by the walk, 0: none */
	__u32 huge_loaded; /* the loads read huge_pattern at huge_walked */
	__u32 pad2;
};

#endif /* COWTRACE_DIRECT_MAP_PROBE_H */
