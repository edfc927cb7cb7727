/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What user space sets before load (rodata) and reads while tracing (.bss counters).
 */
#ifndef COWTRACE_GLOBALS_BPF_H
#define COWTRACE_GLOBALS_BPF_H

/* Set by user space before load. */
const volatile bool emit_copies = false; /* stream one event per copy (--trace, attribution) */
const volatile bool capture = false;	  /* read the target's memory at each copy (attribution) */
const volatile bool walk_stacks = false; /* walk the Python stack at each copy */
const volatile bool native_stacks = false; /* and the native one, by frame pointers (--native) */
/* Time-stamp copy events (--trace prints and orders by them). Only then: reading the clock costs
 * ~60 ns a copy on a VM (the TSC read is ordered after the fault's outstanding loads). */
const volatile bool event_times = false;
/* Wake the consumer once per this many bytes of copy events (a power of two): a wakeup per copy
 * would cost more than the copy itself. User space also drains the buffer every poll interval. */
const volatile __u64 wakeup_bytes = 1 << 20;
/* The kernel's direct map (found and checked by user/trace/direct_map.c): the capture reads the
 * faulting page through it; 0: through the target's own mapping. */
const volatile __u64 direct_map_base = 0;
const volatile __u32 page_table_levels = 4;
/* The kernel's zero page as a frame number, 0 when it maps none (user/trace/kernel.c) */
const volatile __u64 zero_page_pfn = 0;
/* __GFP_ZERO as this kernel numbers it (read from its BTF by user space) */
const volatile __u32 gfp_zero = 0x100;
/* The text [lo, hi) of do_wp_page() and, where it is a function, of wp_page_copy() (which
 * do_wp_page() tail-calls there), from /proc/kallsyms, for fault-alloc-tp's kernel-mode faults;
 * 0 when not known (then those are not counted) */
const volatile __u64 wp_text_lo[2] = {};
const volatile __u64 wp_text_hi[2] = {};

/*
 * Every hook runs with preemption off (bpf_preempt_disable(), 6.10+), where the kernel lets it:
 * the kernel does not run a program on a CPU where it is already running, and on a preemptible
 * kernel (7.2's "full (lazy)") a task preempted inside one left it "running" for every other
 * task on that CPU: 7.2 skipped a third of the copies of two Python workers on one CPU. User
 * space turns this on where the kfunc exists, and off again if the kernel then refuses the
 * programs (before 6.15 or so, no global function may be called with preemption off). What is
 * still skipped (a preemption before the first instruction) is counted and reported
 * (missed_bpf_runs).
 */
const volatile bool preempt_off = false;

extern void bpf_preempt_disable(void) __ksym __weak;
extern void bpf_preempt_enable(void) __ksym __weak;

#define HOOK_BEGIN()                                                                             \
	do {                                                                                     \
		if (preempt_off)                                                                 \
			bpf_preempt_disable();                                                   \
	} while (0)
#define HOOK_END()                                                                               \
	do {                                                                                     \
		if (preempt_off)                                                                 \
			bpf_preempt_enable();                                                    \
	} while (0)

/* Kept in .bss so that user space reads them through the mmapped skeleton, even after overflow. */
__u32 next_slot;
__u64 lost_copy_events;
__u64 lost_proc_events;
__u64 slots_exhausted;
__u64 lost_stacks; /* stacks walked but not stored: map stacks full */

#endif /* COWTRACE_GLOBALS_BPF_H */
