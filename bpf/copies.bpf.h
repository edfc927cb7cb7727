/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counting a copy and sending its event: shared by every detector.
 */
#ifndef COWTRACE_COPIES_BPF_H
#define COWTRACE_COPIES_BPF_H

/*
 * Wake the consumer once per wakeup_bytes of records written (a power of two): when the record
 * just reserved, len bytes with its header, ends the first past a multiple of it. The producer
 * position is this CPU's own cache line; the amount of unread data would need the consumer's
 * position, a line the consumer on another CPU keeps writing: a miss at every copy (~150 ns
 * measured). Concurrent producers may make a boundary wake twice or not at all: user space
 * drains the buffer every poll interval anyway.
 */
static __always_inline __u64 copy_wakeup(__u64 len)
{
	__u64 end = bpf_ringbuf_query(&copy_events, BPF_RB_PROD_POS);

	return (end & (wakeup_bytes - 1)) < ((len + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL)
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_copy_event(struct cow_copy_event *e, __u32 slot, __u32 kind,
					    __u8 gc_state, __u64 addr, __u64 ip, __u64 sp,
					    __u64 stack_id, __u32 native_id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	e->type = EV_COPY;
	e->slot = slot;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ts = event_times ? bpf_ktime_get_ns() : 0;
	e->addr = addr;
	e->ip = ip;
	e->sp = sp;
	e->kind = kind;
	e->gc_state = gc_state;
	e->stack_id = stack_id;
	e->native_id = native_id;
}

/* One copy event of len bytes (a constant at each call: the verifier must see every write
 * within the record, and the capture is copied with a fixed size). -1 when the ring is full. */
static __always_inline int submit_copy(const struct cow_thread_state *ts, const __u32 len,
				       __u32 kind, __u64 addr, __u64 ip, __u64 sp)
{
	struct cow_copy_event *e = bpf_ringbuf_reserve(&copy_events, len, 0);

	if (!e)
		return -1;
	fill_copy_event(e, ts->slot, kind, ts->gc_state, addr, ip, sp, ts->fault_stack,
			ts->fault_native);
	if (len > COPY_EVENT_BARE)
		__builtin_memcpy(&e->cap, &ts->cap, len - COPY_EVENT_BARE);
	bpf_ringbuf_submit(e, copy_wakeup(len));
	return 0;
}

static __always_inline void count_copy(struct cow_thread_state *ts, __u32 kind, __u64 addr,
				       __u64 ip, __u64 sp)
{
	struct cow_proc_counts *c;
	__u32 slot = ts->slot;
	__u8 gc_state = ts->gc_state;
	int err;

	c = bpf_map_lookup_elem(&counts, &slot);
	if (!c)
		return;
	if (kind < COW_KINDS)
		__sync_fetch_and_add(&c->kind[kind], 1);
	/* gc[] has 4 buckets (generations 0-2 and unknown): the mask bounds the index for the
	 * verifier and is exact for every valid gc_state */
	if (gc_state != GC_STATE_NONE && kind != COW_ZERO)
		__sync_fetch_and_add(&c->gc[(gc_state - 1) & 3], 1);

	if (!emit_copies)
		return;
	/* Records are as long as what was captured: most copies outside pymalloc need no pool
	 * header and block, a block head inside the window is not sent twice, and every byte
	 * written to the ring costs (it is cold memory). */
	if (capture && (ts->cap.have & COW_HAVE_BLOCK))
		err = submit_copy(ts, COPY_EVENT_FULL, kind, addr, ip, sp);
	else if (capture && (ts->cap.have & COW_HAVE_POOL))
		err = submit_copy(ts, COPY_EVENT_POOL, kind, addr, ip, sp);
	else if (capture && ts->cap.have)
		err = submit_copy(ts, COPY_EVENT_WINDOW, kind, addr, ip, sp);
	else
		err = submit_copy(ts, COPY_EVENT_BARE, kind, addr, ip, sp);
	if (err)
		__sync_fetch_and_add(&lost_copy_events, 1);
}

/* What a copy's event carries besides the counts, gathered before the write lands: the
 * target's memory around it (attribution), its Python stack and its native one. */
static __always_inline void prepare_copy(void *ctx, struct cow_thread_state *ts, __u64 addr)
{
	/* What is read here may fault (a user stack page bpf_get_stackid() finds not present):
	 * the fault tracepoints run nested inside this, and must leave the fault in progress
	 * alone (a kernel-mode read fault would otherwise end it, and its copy go uncounted). */
	ts->preparing = 1;
	if (capture)
		capture_memory(ts, addr, ts->slot);
	ts->fault_stack = walk_stacks ? python_stack(ts, ts->slot) : 0;
	ts->fault_native = 0;
	if (native_stacks) {
		long id = bpf_get_stackid(ctx, &native_stack_map, BPF_F_USER_STACK);

		ts->fault_native = id >= 0 ? id + 1 : 0;
	}
	ts->preparing = 0;
}

#endif /* COWTRACE_COPIES_BPF_H */
