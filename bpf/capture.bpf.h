/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The capture: what attribution needs of the target's memory at a copy.
 */
#ifndef COWTRACE_CAPTURE_BPF_H
#define COWTRACE_CAPTURE_BPF_H

/*
 * The target's memory around the write, for user space to decode object, field and cause:
 * read at page_fault_user, before the write lands. Through the kernel's direct map when user
 * space found it (bpf/direct_map.bpf.h: no page walk, no accessed bit to set), else through the
 * target's mapping, and then it must be here, before the fault handler takes its snapshot of
 * the page table entry: reading the faulting page later, inside the fault, would set the
 * entry's accessed bit, and wp_page_copy() would see the entry changed, throw its copy away and
 * fault again.
 * pymalloc pools are aligned to their size, so the pool header is found by masking; its size
 * class gives the block.
 */
/* How long a chunk stays known not to be a pymalloc pool (an arena mapped there since would need
 * the memory unmapped first): a dozen ticks, 12 to 120 ms as HZ goes. Jiffies, not the clock:
 * bpf_ktime_get_ns() costs more than the whole cached path. */
#define NONPOOL_TTL_JIFFIES 12

/* Whether the block head lies in the part of the window that was read: then it is neither read
 * again nor sent twice (user space decodes the window's bytes wherever they belong). */
static __always_inline bool block_in_window(const struct cow_capture *cap, __u64 block)
{
	__u64 lo = cap->window_addr, hi = cap->window_addr + COW_WINDOW;

	if (!(cap->have & COW_HAVE_WINDOW_LO))
		lo += COW_WINDOW_BEFORE;
	if (!(cap->have & COW_HAVE_WINDOW_HI))
		hi = cap->window_addr + COW_WINDOW_BEFORE;
	return block >= lo && block + COW_BLOCK_HEAD <= hi;
}


static __always_inline void capture_memory(struct cow_thread_state *ts, __u64 addr, __u32 slot)
{
	struct cow_capture *cap = &ts->cap;
	struct target_view v = { .addr = addr };
	__u64 now;
	__u64 pool, pool_size, size, block, in_page;
	__u32 szidx, maxnext, shift;
	__u64 *shiftp;

	cap->have = 0;
	cap->pool_addr = 0;
	cap->block_addr = 0;
	cap->window_addr = (addr & ~7ULL) - COW_WINDOW_BEFORE;
	/* Only CPython processes are decoded (anything else is native by its mapping): reading
	 * memory is most of a capture's cost, mostly cache misses, so don't for the others. */
	shiftp = bpf_map_lookup_elem(&pool_shifts, &slot);
	if (!shiftp)
		return;
	shift = *shiftp;
	if (shift == COW_POOL_SHIFT_PENDING)
		shift = COW_POOL_SHIFT_GUESS;
	if (shift != 12 && shift != 14)
		return;
	if (direct_map_base) {
		v.table = dm_pte_table(direct_map_base, page_table_levels,
				       (__u64)bpf_get_current_task_btf()->mm->pgd, addr, &v.large);
		v.kaddr = dm_addr_in(direct_map_base, v.table, v.large, addr, addr);
		if (!v.kaddr)
			return; /* unmapped since the fault was raised: nothing to read */
	}

	in_page = addr & (COW_PAGE_SIZE - 1) & ~7ULL;
	if (in_page >= COW_WINDOW_BEFORE && in_page + COW_WINDOW - COW_WINDOW_BEFORE <= COW_PAGE_SIZE) {
		/* the whole window is in the page: one read (each helper call costs) */
		if (!read_target(&v, cap->window, COW_WINDOW, cap->window_addr))
			cap->have |= COW_HAVE_WINDOW;
	} else if (in_page >= COW_WINDOW_BEFORE) {
		if (!read_target(&v, cap->window, COW_WINDOW_BEFORE, cap->window_addr))
			cap->have |= COW_HAVE_WINDOW_LO;
	} else if (!read_target(&v, cap->window + COW_WINDOW_BEFORE, COW_WINDOW - COW_WINDOW_BEFORE,
				cap->window_addr + COW_WINDOW_BEFORE)) {
		cap->have |= COW_HAVE_WINDOW_HI;
	}

	pool_size = 1ULL << shift;
	pool = addr & ~(pool_size - 1);
	now = bpf_jiffies64();
	if (ts->nonpool_chunk == pool && now - ts->nonpool_jiffies < NONPOOL_TTL_JIFFIES)
		return;
	cap->pool_addr = pool;
	if (read_target(&v, cap->pool, COW_POOL_HEAD, pool))
		goto not_pool;
	szidx = *(__u32 *)(cap->pool + COW_POOL_SZIDX);
	maxnext = *(__u32 *)(cap->pool + COW_POOL_MAXNEXT);
	size = ((__u64)szidx + 1) << 4;
	if (szidx >= 32 || maxnext != pool_size - size)
		goto not_pool;
	cap->have |= COW_HAVE_POOL;
	if (addr < pool + COW_POOL_HEAD)
		return;
	block = pool + COW_POOL_HEAD + (addr - pool - COW_POOL_HEAD) / size * size;
	cap->block_addr = block;
	if (!block_in_window(cap, block) && !read_target(&v, cap->block, COW_BLOCK_HEAD, block))
		cap->have |= COW_HAVE_BLOCK;
	return;
not_pool:
	ts->nonpool_chunk = pool;
	ts->nonpool_jiffies = now;
}

#endif /* COWTRACE_CAPTURE_BPF_H */
