/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A user page seen through the kernel's direct map (x86-64): its page table walked by hand,
 * from the process's pgd down to the entry that maps the address, and the page's frame read at
 * direct_map_base + its physical address.
 *
 * Why: reading a page that a fault has just found write-protected through the user mapping
 * makes the CPU walk the page table again and set the entry's accessed bit, which costs more
 * than everything else a capture does (~400 ns here, in a VM). The direct map is mapped with
 * large pages that stay in the TLB, and the page-table entries were just read by the hardware.
 *
 * Everything read here may change under us (the fault has not taken the mm's locks yet): loads
 * cannot fault (below), and a stale entry can at worst point at another page of memory, which
 * user space decodes as the untrusted bytes they are.
 * user/trace/direct_map.c finds the base and checks this walk against /proc/self/pagemap before
 * anything relies on it.
 */
#ifndef COWTRACE_DIRECT_MAP_BPF_H
#define COWTRACE_DIRECT_MAP_BPF_H

#include "arch.bpf.h"

/* The walk is x86-64's (user space finds no direct map elsewhere, and this code then never
 * runs); its entry format is the architecture's. */
#define DM_PRESENT   ARCH_PTE_VALID
#define DM_LARGE     0x80ULL /* _PAGE_PSE: a 1 GiB (pud) or 2 MiB (pmd) page */
/* _PAGE_PWT | _PAGE_PCD: uncached or write-combining, how device memory (a BAR, a frame buffer)
 * is mapped into a process. Such a page is never read here: through the direct map's cached
 * alias a read of device memory is wrong at best. RAM a process maps is cached. */
#define DM_UNCACHED  0x18ULL
#define DM_PHYS_MASK ARCH_PTE_PHYS_MASK
#define DM_PUD_SHIFT 30
#define DM_PMD_SHIFT 21

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/*
 * The 8 bytes of kernel memory at addr (8-aligned); 0 when they are not mapped. With
 * bpf_rdonly_cast (Linux 6.2+; the verifier turns the call into a move) this is one load that
 * the JIT protects against faults, like every load through an untrusted kernel pointer: the
 * target is cast to a type made of 8-byte fields (pt_regs) only to have a field to load. Older kernels make a helper call, ~20-70 ns each here.
 */
static __always_inline __u64 dm_load(__u64 addr)
{
	__u64 v = 0;

	if (bpf_rdonly_cast) {
		const struct pt_regs *r =
			bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct pt_regs));

		return ARCH_PT_REGS_FIRST(r);
	}
	bpf_probe_read_kernel(&v, sizeof(v), (void *)addr);
	return v;
}

/* len bytes (a multiple of 8, at most 80) of memory that is contiguous for its owner, at the
 * direct-map addresses k (the first `first` bytes, 8-aligned) and k2 (the rest): two pages that
 * are neighbours in a process are rarely neighbours in the direct map. */
static __always_inline void dm_copy2(void *dst, __u64 k, __u32 first, __u64 k2, __u32 len)
{
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		if (i * 8 < len)
			((__u64 *)dst)[i] = dm_load(i * 8 < first ? k + i * 8 : k2 + (i * 8 - first));
}

/* len bytes within one page at k (8-aligned) */
static __always_inline void dm_copy(void *dst, __u64 k, __u32 len)
{
	dm_copy2(dst, k, len, 0, len);
}

static __always_inline __u64 dm_entry(__u64 table, __u64 addr, int shift)
{
	return dm_load(table + ((addr >> shift) & 511) * 8);
}

/* The direct-map address of addr inside the large page that entry e maps (1 << shift bytes). */
static __always_inline __u64 dm_in_large(__u64 base, __u64 e, int shift, __u64 addr)
{
	__u64 mask = (1ULL << shift) - 1;

	return base + (e & DM_PHYS_MASK & ~mask) + (addr & mask);
}

/*
 * The direct-map address of the page table that maps addr (4 KiB pages), or of the byte at
 * addr itself when a large page maps it (then *large is set). 0 when a level is not present.
 * levels is 4 or 5 (LA57).
 */
static __always_inline __u64 dm_pte_table(__u64 base, __u32 levels, __u64 pgd, __u64 addr,
					  bool *large)
{
	__u64 e, table = pgd;

	*large = false;
	/* user addresses only: a pointer read from the target may point anywhere, and the
	 * kernel's half of the page table must not be walked on its say-so */
	if (addr >> (levels == 5 ? 56 : 47))
		return 0;
	if (levels == 5) {
		e = dm_entry(table, addr, 48);
		if (!(e & DM_PRESENT))
			return 0;
		table = base + (e & DM_PHYS_MASK);
	}
	e = dm_entry(table, addr, 39);
	if (!(e & DM_PRESENT))
		return 0;
	e = dm_entry(base + (e & DM_PHYS_MASK), addr, DM_PUD_SHIFT);
	if (!(e & DM_PRESENT))
		return 0;
	if (e & DM_LARGE) {
		*large = true;
		return e & DM_UNCACHED ? 0 : dm_in_large(base, e, DM_PUD_SHIFT, addr);
	}
	e = dm_entry(base + (e & DM_PHYS_MASK), addr, DM_PMD_SHIFT);
	if (!(e & DM_PRESENT))
		return 0;
	if (e & DM_LARGE) {
		*large = true;
		return e & DM_UNCACHED ? 0 : dm_in_large(base, e, DM_PMD_SHIFT, addr);
	}
	return base + (e & DM_PHYS_MASK);
}

/* The direct-map address of addr, given what dm_pte_table() returned for an address in the same
 * 2 MiB (4 KiB pages: one entry read) or 1 GiB/2 MiB page (large: offset). 0 when not present
 * or not cached. */
static __always_inline __u64 dm_addr_in(__u64 base, __u64 table, bool large, __u64 table_addr,
					__u64 addr)
{
	__u64 e;

	if (!table)
		return 0;
	if (large)
		return table + (addr - table_addr);
	e = dm_entry(table, addr, 12);
	if (!(e & DM_PRESENT) || (e & DM_UNCACHED))
		return 0;
	return base + (e & DM_PHYS_MASK) + (addr & (COW_PAGE_SIZE - 1));
}

#endif /* COWTRACE_DIRECT_MAP_BPF_H */
