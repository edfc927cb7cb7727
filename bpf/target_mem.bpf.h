/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading the traced process's memory: through the kernel's direct map when user space found
 * it (bpf/direct_map.bpf.h), else through the process's own mapping. Every reader of the target
 * goes through here, so that the choice of path is made in one place.
 */
#ifndef COWTRACE_TARGET_MEM_BPF_H
#define COWTRACE_TARGET_MEM_BPF_H

/*
 * The current process's memory as the stack walk reads it: through the direct map when there
 * is one (a load per field; the page last looked up is remembered, as the fields of one
 * structure share a page), else through the process's mapping (a helper call per read, ~70 ns
 * here whatever the size: then the walk reads whole spans at once).
 */
struct user_view {
	__u64 pgd;
	__u64 upage; /* page number (addr >> COW_PAGE_SHIFT) of kpage, 0 when none */
	__u64 kpage; /* its direct-map address */
};

static __always_inline void user_view_init(struct user_view *v)
{
	v->pgd = direct_map_base ? (__u64)bpf_get_current_task_btf()->mm->pgd : 0;
	v->upage = 0;
	v->kpage = 0;
}

/* The u64 at addr (the target's pointer: anything), 0 when it cannot be read. A function of its
 * own, verified once: inlined at each of the walk's reads, its branches multiply past the
 * verifier's limit. */
__noinline __u64 user_u64(struct user_view *v, __u64 addr)
{
	__u64 val = 0, table, k;
	bool large;

	if (!v)
		return 0;
	if (!direct_map_base || (addr & 7)) {
		if (bpf_probe_read_user(&val, sizeof(val), (void *)addr))
			return 0;
		return val;
	}
	if ((addr >> COW_PAGE_SHIFT) != v->upage) {
		table = dm_pte_table(direct_map_base, page_table_levels, v->pgd, addr, &large);
		k = dm_addr_in(direct_map_base, table, large, addr, addr & ~(COW_PAGE_SIZE - 1));
		if (!k)
			return 0;
		v->upage = addr >> COW_PAGE_SHIFT;
		v->kpage = k;
	}
	return dm_load(v->kpage + (addr & (COW_PAGE_SIZE - 1)));
}

/* Where the capture reads the target: the faulting address, its alias in the direct map, and the
 * page table that maps it (when there is a direct map). */
struct target_view {
	__u64 addr;
	__u64 kaddr;
	__u64 table;
	bool large;
};

/* The direct-map alias of other, an address in the same pymalloc pool as the faulting one (so in
 * the same 2 MiB: the same page table), 0 when it is not mapped. */
static __always_inline __u64 target_alias(const struct target_view *v, __u64 other)
{
	if ((other >> COW_PAGE_SHIFT) == (v->addr >> COW_PAGE_SHIFT))
		return v->kaddr - v->addr + other;
	return dm_addr_in(direct_map_base, v->table, v->large, v->addr, other);
}

/* len bytes (8, 16, ... 80) of the target at addr (8-aligned), through the direct map when there
 * is one. Nonzero when they could not be read. */
static __always_inline long read_target(const struct target_view *v, void *dst, __u32 len,
					__u64 addr)
{
	__u64 k, k2, last = addr + len - 1;

	if (!direct_map_base)
		return bpf_probe_read_user(dst, len, (void *)addr);
	k = target_alias(v, addr);
	if (!k)
		return -1;
	if ((last >> COW_PAGE_SHIFT) == (addr >> COW_PAGE_SHIFT)) {
		dm_copy(dst, k, len);
		return 0;
	}
	/* the head of a block that starts near the end of the page before */
	k2 = target_alias(v, last & ~(COW_PAGE_SIZE - 1));
	if (!k2)
		return -1;
	dm_copy2(dst, k, COW_PAGE_SIZE - (addr & (COW_PAGE_SIZE - 1)), k2, len);
	return 0;
}

#endif /* COWTRACE_TARGET_MEM_BPF_H */
