/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The maps shared by every concern (traced processes, their counters and interpreter
 * configurations, stacks, event rings) and the per-thread state kept in task storage.
 */
#ifndef COWTRACE_STATE_BPF_H
#define COWTRACE_STATE_BPF_H

#define COW_KSTACK_DEPTH 24 /* frames from mm_page_alloc up to do_wp_page: about 8 */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* slot */
} traced SEC(".maps");

/* procs, counts, pool_shifts and py_stack_cfgs are mmapped by user space (user/trace/tracees.c):
 * it reads and writes them as memory, without a system call. A map system call holds a per-CPU
 * counter that makes the kernel skip every kprobe program on that CPU meanwhile, and on a
 * preemptible kernel a task preempted in one left the kprobe detectors blind on its CPU.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct cow_proc_info);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct cow_proc_counts);
} counts SEC(".maps");

/* Per slot: log2 of the pymalloc pool size of the process's CPython (12 for 3.8/3.9, 14 from
 * 3.10), 0 when it runs none. Written by user space when it finds the interpreter (a map of its
 * own, so that it never races with BPF's updates of procs), inherited at fork, reset at exec.
 * 64 bits: the elements of an mmapped array are 8 bytes apart anyway. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} pool_shifts SEC(".maps");

/* Per slot: how to walk its CPython's stacks (user space fills it; inherited at fork). User
 * space writes kind last, and BPF looks at kind first. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct cow_stack_cfg);
} py_stack_cfgs SEC(".maps");

/* Distinct stacks by a hash of their frames; copy events carry the key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, COW_STACKS_MAX);
	__type(key, __u64);
	__type(value, struct cow_stack);
} stacks SEC(".maps");

/* Native user stacks (--native), deduplicated by the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, COW_STACKS_MAX);
	__type(key, __u32);
	__uint(value_size, COW_NATIVE_MAX * sizeof(__u64));
} native_stack_map SEC(".maps");

/* A stack is built here (too large for the BPF stack) before it goes into stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cow_stack);
} stack_scratch SEC(".maps");

/* One frame's bytes, read at once when the target is read through its own mapping. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[COW_FRAME_READ]);
} frame_scratch SEC(".maps");

/* The kernel stack of an allocation inside a kernel-mode fault (see called_from_wp()). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[COW_KSTACK_DEPTH]);
} kstack_scratch SEC(".maps");

/* Sized by user space before load (--buffer-mb). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} copy_events SEC(".maps");

/* Separate from the copy stream so that a flood of copies can't drop a fork or exec. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} proc_events SEC(".maps");

enum fault_phase {
	PHASE_IDLE = 0,
	/* fault-alloc-tp */
	PHASE_FAULT = 1,  /* inside a user write fault on a present page; copy not seen yet */
	PHASE_COPIED = 2, /* the fault's copy was counted as anon; a file copy corrects it */
	PHASE_KFAULT = 3, /* inside a kernel-mode write fault on a present user page */
	/* the wp detectors (bpf/wp_copy.bpf.h) */
	PHASE_WP = 4, /* inside the hooked function */
};

/* Per thread, in task storage: cheaper than a hash keyed by tid and freed with the task. */
struct cow_thread_state {
	__u64 fault_ip; /* user registers at the fault, to recognise the same fault later */
	__u64 fault_sp;
	__u64 fault_addr;
	__u64 fault_orig_ax;
	__u32 slot;
	__u8 phase;
	__u8 gc_state; /* GC_STATE_NONE, or 1 + generation */
	/* collector entries not yet returned: 3.13's gc_collect_main is re-entered (and returns
	 * at once) when a finalizer calls gc.collect() during a collection */
	__u8 gc_depth;
	__u8 kind;	/* the copied page's enum cow_kind, found at entry (wp detectors) */
	__u8 preparing; /* in prepare_copy(): a fault now is one of ours, nested */
	__u8 pad[3];
	__u64 vmf; /* the struct vm_fault * the wp detectors' hooked function was called with */
	__u64 orig_pfn; /* the frame its entry mapped at entry */
	/* the last pool-sized chunk whose header was not a pool header, and when (jiffies):
	 * sequential writes to a large buffer then cost one read of that chunk's start, not one
	 * per page */
	__u64 nonpool_chunk;
	__u64 nonpool_jiffies;
	/* the thread's PyThreadState, and the fs base it was found for */
	__u64 tstate;
	__u64 tstate_self;
	/* the stack of this fault, and the innermost frame it was walked from: while that frame
	 * and its instruction stay the same (a collection, a tight loop) the walk is not repeated */
	__u64 stack_id;
	__u64 top_frame;
	__u64 top_instr;
	__u64 top_name;
	__u64 chain; /* of the frames of that stack: see python_stack() */
	__u64 fault_stack; /* the stack of the pending fault, 0 when none */
	__u32 fault_native; /* 1 + its native stack id, 0 when none */
	__u32 pad2;
	struct cow_capture cap; /* the target's memory at the fault, for attribution */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cow_thread_state);
} thread_states SEC(".maps");

static __always_inline __u32 *traced_slot(__u32 tgid)
{
	return bpf_map_lookup_elem(&traced, &tgid);
}

static __always_inline struct cow_thread_state *thread_state_get(bool create)
{
	return bpf_task_storage_get(&thread_states, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/*
 * The current thread's state when its process is traced, created on first use with the
 * process's slot. A thread belongs to one process life from creation to death (fork makes a
 * new task, exec keeps the slot), so the state is looked up per fault and the pid->slot hash
 * only once per thread: states exist only for threads of traced processes. (The one way out of
 * the traced set alive is user space taking back a pid it found reused between two reads of
 * /proc; a thread of that other process that faulted in between keeps counting into a slot
 * that is never reported.)
 */
static __always_inline struct cow_thread_state *traced_thread(void)
{
	struct cow_thread_state *ts;
	__u32 *slot;

	ts = thread_state_get(false);
	if (ts)
		return ts;
	slot = traced_slot(bpf_get_current_pid_tgid() >> 32);
	if (!slot)
		return NULL;
	ts = thread_state_get(true);
	if (ts)
		ts->slot = *slot;
	return ts;
}

#endif /* COWTRACE_STATE_BPF_H */
