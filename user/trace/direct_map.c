// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "cowtrace.h"
#include "direct_map.h"
#include "direct_map_probe.h"
#include "direct_map.skel.h"
#include "procfs.h"


void direct_map_candidates(unsigned levels, uint64_t *first, uint64_t *count)
{
	uint64_t n;

	*first = levels == 5 ? DM_BASE_L5 : DM_BASE_L4;
	n = (DM_END - *first) / DM_STEP;
	*count = n < DM_MAX_CANDIDATES ? n : DM_MAX_CANDIDATES;
}

#if defined(__x86_64__)

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 5-level paging lets a process map above 47 bits when it asks to (a hint that high); with 4
 * levels the hint is ignored. */
static unsigned page_table_levels(void)
{
	void *p = mmap((void *)(1ULL << 52), COW_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned levels = 4;

	if (p == MAP_FAILED)
		return 4;
	if ((uintptr_t)p >= (1ULL << 47))
		levels = 5;
	munmap(p, COW_PAGE_SIZE);
	return levels;
}

static int pagemap_phys(int fd, const void *addr, uint64_t *phys)
{
	uint64_t entry;

	if (pread(fd, &entry, sizeof(entry), ((uintptr_t)addr / COW_PAGE_SIZE) * sizeof(entry)) !=
	    sizeof(entry))
		return -EIO;
	*phys = procfs_pagemap_phys(entry);
	return *phys ? 0 : -EPERM;
}

#define HUGE_SIZE (2UL << 20)
#define KPF_THP	  22 /* /proc/kpageflags (include/uapi/linux/kernel-page-flags.h) */

/*
 * A transparent huge page of ours, locked, for the walk's large-page branch: a 2 MiB-aligned
 * range asked for with MADV_HUGEPAGE (THP "always" or "madvise"), its frame's flags saying THP.
 * *area is what to unmap (HUGE_SIZE * 2 bytes); NULL when the kernel gave no huge page.
 */
static uint64_t *huge_page(int pagemap, void **area)
{
	uint64_t *p, phys;
	char *m;

	*area = NULL;
	m = mmap(NULL, HUGE_SIZE * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	*area = m;
	p = (uint64_t *)(((uintptr_t)m + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	if (madvise(p, HUGE_SIZE, MADV_HUGEPAGE) || mlock(p, HUGE_SIZE))
		return NULL;
	/* a word well inside the huge page (5 pages and 24 bytes in): its offset in the large
	 * page is what the walk must get right */
	p += 5 * 512 + 3;
	if (pagemap_phys(pagemap, p, &phys))
		return NULL;
	return procfs_kpageflags(phys) & (1ULL << KPF_THP) ? p : NULL;
}

int direct_map_find(const char *btf_path, struct direct_map *dm, char *why, size_t whylen)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = btf_path);
	LIBBPF_OPTS(bpf_test_run_opts, run);
	struct direct_map_bpf *skel = NULL;
	struct dm_probe *p;
	uint64_t seed, *pages, *huge = NULL, phys[2], again, first, count, huge_phys = 0;
	void *huge_area = NULL;
	int fd = -1, err, i, w;

	memset(dm, 0, sizeof(*dm));
	/* two locked pages: they must keep their frames while we look for them */
	pages = mmap(NULL, 2 * COW_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
	if (pages == MAP_FAILED) {
		err = -errno;
		snprintf(why, whylen, "cannot map locked pages: %s", strerror(errno));
		return err;
	}
	/* The patterns are computed here from a random seed, so that the kernel never held these
	 * bytes (getrandom's own buffers would otherwise be a second place to find them). */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
		err = -errno;
		snprintf(why, whylen, "getrandom: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < 2; i++)
		for (w = 0; w < DM_PATTERN_WORDS; w++)
			pages[i * 512 + w] = splitmix64(&seed);

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "cannot open /proc/self/pagemap: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < 2; i++) {
		err = pagemap_phys(fd, pages + i * 512, &phys[i]);
		if (err) {
			snprintf(why, whylen, "/proc/self/pagemap shows no frame numbers (%s)",
				 err == -EPERM ? "needs CAP_SYS_ADMIN" : "short read");
			goto out;
		}
	}

	huge = huge_page(fd, &huge_area);
	if (huge) {
		for (w = 0; w < DM_PATTERN_WORDS; w++)
			huge[w] = splitmix64(&seed);
		if (pagemap_phys(fd, huge, &huge_phys))
			huge = NULL;
	}

	skel = direct_map_bpf__open_opts(&open_opts);
	if (!skel || (err = direct_map_bpf__load(skel))) {
		err = -errno;
		snprintf(why, whylen, "cannot load the direct-map probe: %s", strerror(errno));
		goto out;
	}
	p = &skel->bss->probe;
	memcpy(p->pattern[0], pages, sizeof(p->pattern[0]));
	memcpy(p->pattern[1], pages + 512, sizeof(p->pattern[1]));
	for (i = 0; i < 2; i++) {
		p->phys[i] = phys[i];
		p->uaddr[i] = (uintptr_t)(pages + i * 512);
	}
	if (huge) {
		p->huge_uaddr = (uintptr_t)huge;
		memcpy(p->huge_pattern, huge, sizeof(p->huge_pattern));
	}
	p->levels = page_table_levels();
	p->step = DM_STEP;
	direct_map_candidates(p->levels, &first, &count);
	p->first = first;
	p->count = count;
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.find_direct_map), &run);
	if (err) {
		err = -errno;
		snprintf(why, whylen, "cannot run the direct-map probe: %s", strerror(errno));
		goto out;
	}
	dm->tried = p->tried;
	err = -ENOENT;
	if (!p->base) {
		snprintf(why, whylen, "direct map not found (%llu bases tried, %u-level paging)",
			 (unsigned long long)p->tried, p->levels);
		goto out;
	}
	for (i = 0; i < 2; i++) {
		/* still the same frames (not migrated while we looked), and the walk agrees */
		if (pagemap_phys(fd, pages + i * 512, &again) || again != phys[i]) {
			snprintf(why, whylen, "a probe page moved while the direct map was looked for");
			goto out;
		}
		if (p->walked[i] != p->base + phys[i]) {
			snprintf(why, whylen,
				 "the page-table walk does not agree with /proc/self/pagemap "
				 "(%u-level paging)", p->levels);
			goto out;
		}
	}
	if (!p->loaded) {
		snprintf(why, whylen, "loads through the direct map do not read what pagemap says");
		goto out;
	}
	if (huge && (!p->huge_large ||
		     p->huge_walked != p->base + huge_phys + ((uintptr_t)huge & (COW_PAGE_SIZE - 1)) ||
		     !p->huge_loaded)) {
		snprintf(why, whylen, "the page-table walk of a huge page does not agree with "
				      "/proc/self/pagemap");
		goto out;
	}
	dm->base = p->base;
	dm->levels = p->levels;
	dm->huge_checked = huge != NULL;
	err = 0;
out:
	direct_map_bpf__destroy(skel);
	if (fd >= 0)
		close(fd);
	munmap(pages, 2 * COW_PAGE_SIZE);
	if (huge_area)
		munmap(huge_area, HUGE_SIZE * 2);
	return err;
}

#else

int direct_map_find(const char *btf_path, struct direct_map *dm, char *why, size_t whylen)
{
	memset(dm, 0, sizeof(*dm));
	snprintf(why, whylen, "the direct-map capture is for x86-64");
	return -EOPNOTSUPP;
}

#endif
