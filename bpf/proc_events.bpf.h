/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Process events (fork, exec, exit) for user space.
 */
#ifndef COWTRACE_PROC_EVENTS_BPF_H
#define COWTRACE_PROC_EVENTS_BPF_H

/*
 * Only an exec wakes the consumer, and always (a fork record before it may still be unread,
 * and then no wakeup on demand comes): it must find the new program's interpreter before the
 * program runs far. Forks and exits wait for the next poll (20 ms at most): a wakeup costs more
 * than everything else these programs do (25-40 us in this VM, with kernel.bpf_stats_enabled),
 * at every fork and exit in the traced tree.
 */
static __always_inline void emit_proc_event(__u32 type, __u32 slot, __u32 pid, __u32 ppid,
					    const char *comm)
{
	struct cow_proc_event *e;

	e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost_proc_events, 1);
		return;
	}
	e->type = type;
	e->slot = slot;
	e->pid = pid;
	e->ppid = ppid;
	e->ts = bpf_ktime_get_ns();
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), comm);
	bpf_ringbuf_submit(e, type == EV_EXEC ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

#endif /* COWTRACE_PROC_EVENTS_BPF_H */
