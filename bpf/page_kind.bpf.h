/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Whether the page a copy was made from was anonymous memory or a page-cache page: from its
 * struct page, the way the kernel itself tells (PageAnon()).
 */
#ifndef COWTRACE_PAGE_KIND_BPF_H
#define COWTRACE_PAGE_KIND_BPF_H

#define PAGE_MAPPING_ANON 0x1 /* bit 0 of page->mapping (include/linux/page-flags.h) */

static __always_inline __u8 page_kind(struct page *page)
{
	unsigned long head, mapping;

	/* a page of a large folio: its head holds the mapping */
	if (bpf_core_field_exists(page->compound_head)) {
		head = BPF_CORE_READ(page, compound_head);
		if (head & 1)
			page = (struct page *)(head - 1);
	}
	mapping = (unsigned long)BPF_CORE_READ(page, mapping);
	return mapping & PAGE_MAPPING_ANON ? COW_ANON : COW_FILE;
}

/*
 * Before 6.2 (f1a7941243c1) the mm counters were cached per task and synced in batches, so
 * rss_stat does not fire inside the copying fault and cannot tell fault-alloc-tp a file copy
 * (its wp detectors read the page from vmf instead). This is how it can tell then: the page
 * table entry still maps the old page when the copy's page is allocated; the direct map gives
 * the entry, vmemmap_base its struct page.
 */
struct task_rss_stat___pre62 {
	int events;
	int count[4];
};

struct task_struct___pre62 {
	struct task_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

extern const void vmemmap_base __ksym __weak;

static __always_inline bool rss_batched(void)
{
	return bpf_core_field_exists(
		((struct task_struct___pre62 *)bpf_get_current_task_btf())->rss_stat);
}

/* The page frame a page table entry maps, 0 when it maps none. */
static __always_inline __u64 pte_pfn(__u64 pte)
{
	return pte & ARCH_PTE_VALID ? (pte & ARCH_PTE_PHYS_MASK) >> COW_PAGE_SHIFT : 0;
}

/* Whether frame_kind() can find a frame's struct page: the vmemmap's base is a variable on
 * x86-64 (randomised by KASLR) and none on arm64, whose vmemmap sits at an address the kernel's
 * configuration and version compute (then vmf_page_kind() tells instead). */
static __always_inline bool frames_known(void)
{
	return &vmemmap_base != NULL;
}

/* The kind of the page at frame pfn, through its struct page in the kernel's vmemmap
 * (vmemmap_base: an exported variable, found in kallsyms by libbpf). */
static __always_inline __u8 frame_kind(__u64 pfn)
{
	__u64 vmemmap, flags = 0;
	struct page *page;

	if (!&vmemmap_base ||
	    bpf_probe_read_kernel(&vmemmap, sizeof(vmemmap), &vmemmap_base))
		return COW_ANON; /* cannot tell: the common case */
	page = (struct page *)(vmemmap + pfn * bpf_core_type_size(struct page));
	/* the flags word, the first of struct page on every kernel: an unsigned long, a
	 * memdesc_flags_t since 6.18 (CO-RE will not relocate a field whose type changed kind) */
	bpf_probe_read_kernel(&flags, sizeof(flags), page);
	if (flags & (1ULL << bpf_core_enum_value(enum pageflags, PG_reserved)))
		return COW_ZERO;
	return page_kind(page);
}

/* The kind of the page mapped at addr in the current process; COW_ANON when it cannot be told
 * (no direct map, or a large page: not a copy this detector sees). */
static __always_inline __u8 mapped_page_kind(__u64 addr)
{
	__u64 table, pfn;
	bool large;

	if (!direct_map_base)
		return COW_ANON;
	table = dm_pte_table(direct_map_base, page_table_levels,
			     (__u64)bpf_get_current_task_btf()->mm->pgd, addr, &large);
	if (!table || large)
		return COW_ANON;
	pfn = pte_pfn(dm_entry(table, addr, 12));
	return pfn ? frame_kind(pfn) : COW_ANON;
}

/*
 * The kind of the page a wp fault copied, from the fault's own record: do_wp_page() keeps the
 * page it found in vmf->page (vm_normal_page(): NULL for the zero page and for memory without
 * struct pages). Read when the fault returns, where frame_kind() cannot be used: the copy's
 * source is still mapped by the process it is shared with, or in the page cache.
 */
static __always_inline __u8 vmf_page_kind(struct vm_fault *vmf, __u64 orig_pfn)
{
	struct page *page = BPF_CORE_READ(vmf, page);

	if (zero_page_pfn && orig_pfn == zero_page_pfn)
		return COW_ZERO;
	return page ? page_kind(page) : COW_ANON;
}

#endif /* COWTRACE_PAGE_KIND_BPF_H */
