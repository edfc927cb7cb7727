// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cowtrace kernel side: the hooks. Which processes are traced (fork/exec/exit), which thread
 * is inside a CPython collection (USDT or uprobes), and the copy-on-write detectors that count
 * every page copied in a traced process; each concern's code is in its own .bpf.h.
 *
 * Detectors (user space loads one, user/trace/detector.c): a hook on wp_page_copy() or do_wp_page()
 * (fentry/fexit or kprobe/kretprobe, bpf/wp_copy.bpf.h), or "fault-alloc-tp" (x86-64
 * tracepoints, built there only): a write fault on a present page followed, inside that same
 * fault, by the order-0 movable page allocation that receives the copy. All feed the same
 * counters and events (count_copy()). What differs between x86-64 and arm64 is in arch.bpf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "cowtrace.h"
#include "direct_map.bpf.h"

#include "globals.bpf.h"
#include "state.bpf.h"
#include "proc_events.bpf.h"
#include "gc_probes.bpf.h"
#include "target_mem.bpf.h"
#include "pystack.bpf.h"
#include "capture.bpf.h"
#include "copies.bpf.h"
#include "page_kind.bpf.h"
#include "wp_copy.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- process tree ---------------------------------------------------------------------- */

static __always_inline void process_fork(struct task_struct *parent, struct task_struct *child)
{
	struct cow_stack_cfg *pcfg, *cfg;
	struct cow_proc_info *info;
	__u32 *pslot, slot, tgid = child->tgid, ptgid = parent->tgid;
	__u64 *pshift, *shift;

	if (child->pid != child->tgid) /* a new thread, not a new process */
		return;
	pslot = traced_slot(ptgid);
	if (!pslot)
		return;

	slot = __sync_fetch_and_add(&next_slot, 1);
	if (slot >= COWTRACE_MAX_SLOTS) {
		__sync_fetch_and_add(&slots_exhausted, 1);
		return;
	}
	info = bpf_map_lookup_elem(&procs, &slot);
	if (!info)
		return;
	info->pid = tgid;
	info->ppid = BPF_CORE_READ(child, real_parent, tgid);
	info->parent_slot = *pslot;
	info->role = ROLE_WORKER;
	info->start_ns = bpf_ktime_get_ns();
	info->exit_ns = 0;
	info->exit_code = 0;
	info->flags = 0;
	/* a forked child runs its parent's interpreter */
	pshift = bpf_map_lookup_elem(&pool_shifts, pslot);
	shift = bpf_map_lookup_elem(&pool_shifts, &slot);
	if (shift)
		*shift = pshift ? *pshift : 0;
	pcfg = bpf_map_lookup_elem(&py_stack_cfgs, pslot);
	cfg = bpf_map_lookup_elem(&py_stack_cfgs, &slot);
	if (cfg && pcfg)
		*cfg = *pcfg;
	bpf_probe_read_kernel_str(info->comm, sizeof(info->comm), child->comm);
	/* The child has not run yet: from here on, none of its copies is missed. */
	bpf_map_update_elem(&traced, &tgid, &slot, BPF_ANY);
	emit_proc_event(EV_FORK, slot, tgid, info->ppid, child->comm);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	HOOK_BEGIN();
	process_fork(parent, child);
	HOOK_END();
	return 0;
}

static __always_inline void process_exec(struct task_struct *p)
{
	struct cow_stack_cfg *cfg;
	struct cow_proc_info *info;
	__u32 *slot, tgid = p->tgid;
	__u64 *shift;

	slot = traced_slot(tgid);
	if (!slot)
		return;
	/* a new program: its interpreter is not known until user space has looked */
	shift = bpf_map_lookup_elem(&pool_shifts, slot);
	if (shift)
		*shift = COW_POOL_SHIFT_PENDING;
	cfg = bpf_map_lookup_elem(&py_stack_cfgs, slot);
	if (cfg)
		cfg->kind = PYF_NONE;
	info = bpf_map_lookup_elem(&procs, slot);
	if (info) {
		info->flags |= PROC_EXECED;
		bpf_probe_read_kernel_str(info->comm, sizeof(info->comm), p->comm);
	}
	emit_proc_event(EV_EXEC, *slot, tgid, 0, p->comm);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	HOOK_BEGIN();
	process_exec(p);
	HOOK_END();
	return 0;
}

static __always_inline void process_exit(struct task_struct *p)
{
	struct cow_proc_info *info;
	__u32 *slotp, slot, tgid = p->tgid;

	slotp = traced_slot(tgid);
	if (!slotp)
		return;
	slot = *slotp;
	info = bpf_map_lookup_elem(&procs, &slot);
	if (info) {
		info->exit_ns = bpf_ktime_get_ns();
		info->exit_code = p->exit_code;
		info->flags |= PROC_EXITED;
	}
	bpf_map_delete_elem(&traced, &tgid);
	emit_proc_event(EV_EXIT, slot, tgid, 0, p->comm);
}

/* Each thread passes here; the process is gone when the last one does. Kernels that pass
 * group_dead say so (6.18 and 7.2 do, 6.12 does not); before, signal->live tells. One of the
 * two programs is loaded (user space looks at the tracepoint's arguments in BTF). An exit the
 * kernel skipped the hook for is found in /proc by user space (tracees_check_exits()). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	HOOK_BEGIN();
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		process_exit(p);
	HOOK_END();
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit_group, struct task_struct *p, bool group_dead)
{
	HOOK_BEGIN();
	if (group_dead)
		process_exit(p);
	HOOK_END();
	return 0;
}

/* ---- CPython collections ------------------------------------------------------------------ */

/* python:gc__start(int generation) and python:gc__done(long collected) */
SEC("usdt")
int BPF_USDT(usdt_gc_start, int generation)
{
	HOOK_BEGIN();
	gc_enter(generation);
	HOOK_END();
	return 0;
}

SEC("usdt")
int BPF_USDT(usdt_gc_done, long collected)
{
	HOOK_BEGIN();
	gc_leave();
	HOOK_END();
	return 0;
}

/*
 * Uprobe fallback on the collector function of interpreters built without USDT. The attach
 * cookie (GC_COOKIE_* in cowtrace.h) says which System V argument carries the generation, or
 * which generation a specialised copy of the collector always collects.
 */
SEC("uprobe")
int uprobe_gc_entry(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	long gen = GC_GEN_UNKNOWN;

	/* _CORE reads: clang would otherwise fold the cases into one load at a computed ctx
	 * offset, which the verifier refuses */
	if (cookie & GC_COOKIE_FIXED_GEN)
		gen = cookie & GC_COOKIE_VALUE;
	else
		switch (cookie & GC_COOKIE_VALUE) {
		case 1: gen = (int)PT_REGS_PARM1_CORE(ctx); break;
		case 2: gen = (int)PT_REGS_PARM2_CORE(ctx); break;
		case 3: gen = (int)PT_REGS_PARM3_CORE(ctx); break;
		case 4: gen = (int)PT_REGS_PARM4_CORE(ctx); break;
		case 5: gen = (int)PT_REGS_PARM5_CORE(ctx); break;
		}
	HOOK_BEGIN();
	gc_enter(gen);
	HOOK_END();
	return 0;
}

SEC("uretprobe")
int uprobe_gc_return(struct pt_regs *ctx)
{
	HOOK_BEGIN();
	gc_leave();
	HOOK_END();
	return 0;
}

/* ---- the wp detectors (bpf/wp_copy.bpf.h) ------------------------------------------------- */

SEC("fentry/wp_page_copy")
int BPF_PROG(wpc_fentry, struct vm_fault *vmf)
{
	HOOK_BEGIN();
	wp_enter(vmf);
	HOOK_END();
	return 0;
}

SEC("fexit/wp_page_copy")
int BPF_PROG(wpc_fexit, struct vm_fault *vmf, vm_fault_t ret)
{
	HOOK_BEGIN();
	wp_exit(ctx, ret);
	HOOK_END();
	return 0;
}

SEC("kprobe/wp_page_copy")
int BPF_KPROBE(wpc_kprobe, struct vm_fault *vmf)
{
	HOOK_BEGIN();
	wp_enter(vmf);
	HOOK_END();
	return 0;
}

SEC("kretprobe/wp_page_copy")
int BPF_KRETPROBE(wpc_kretprobe, vm_fault_t ret)
{
	HOOK_BEGIN();
	wp_exit(ctx, ret);
	HOOK_END();
	return 0;
}

SEC("fentry/do_wp_page")
int BPF_PROG(dwp_fentry, struct vm_fault *vmf)
{
	HOOK_BEGIN();
	wp_enter(vmf);
	HOOK_END();
	return 0;
}

SEC("fexit/do_wp_page")
int BPF_PROG(dwp_fexit, struct vm_fault *vmf, vm_fault_t ret)
{
	HOOK_BEGIN();
	wp_exit(ctx, ret);
	HOOK_END();
	return 0;
}

SEC("kprobe/do_wp_page")
int BPF_KPROBE(dwp_kprobe, struct vm_fault *vmf)
{
	HOOK_BEGIN();
	wp_enter(vmf);
	HOOK_END();
	return 0;
}

SEC("kretprobe/do_wp_page")
int BPF_KRETPROBE(dwp_kretprobe, vm_fault_t ret)
{
	HOOK_BEGIN();
	wp_exit(ctx, ret);
	HOOK_END();
	return 0;
}

/* ---- detector fault-alloc-tp (x86-64 tracepoints) ----------------------------------------- */

/* Its fault tracepoints (exceptions:*) and the registers it compares exist on x86-64 only:
 * elsewhere it is not built, and user space lists it as unavailable (user/trace/detector.c). */
#if defined(__TARGET_ARCH_x86)

/*
 * A copy-on-write break is a write fault on a present page (exceptions:page_fault_user, or
 * page_fault_kernel when the kernel writes into the process's memory for it, as read() does)
 * followed, inside that same fault, by the allocation of the one movable page that receives
 * the copy (kmem:mm_page_alloc). get_user_pages() writes break copy-on-write with no fault:
 * this detector cannot see them.
 */
#define X86_PF_PROT  0x1 /* the page was present */
#define X86_PF_WRITE 0x2

/* Is the current task still inside the fault recorded in ts? Its user registers are those the
 * fault saw: the instruction and stack pointer, and orig_ax, which the entry code sets to -1 for
 * an exception and to the call's number for a system call (a kernel-mode fault happens inside
 * one). A later system call or fault of the same thread fails at least one of the three. */
static __always_inline bool same_fault(const struct cow_thread_state *ts)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return regs && regs->ip == ts->fault_ip && regs->sp == ts->fault_sp &&
	       regs->orig_ax == ts->fault_orig_ax;
}

static __always_inline void fault_begin(void *ctx, unsigned long address,
					unsigned long error_code, struct pt_regs *user_regs,
					__u8 phase)
{
	struct cow_thread_state *ts;

	if ((error_code & (X86_PF_PROT | X86_PF_WRITE)) != (X86_PF_PROT | X86_PF_WRITE) ||
	    (long)address < 0) {
		ts = thread_state_get(false);
		if (ts && !ts->preparing)
			ts->phase = PHASE_IDLE;
		return;
	}
	ts = traced_thread();
	if (!ts || ts->preparing)
		return;
	ts->fault_ip = BPF_CORE_READ(user_regs, ip);
	ts->fault_sp = BPF_CORE_READ(user_regs, sp);
	ts->fault_orig_ax = BPF_CORE_READ(user_regs, orig_ax);
	ts->fault_addr = address;
	ts->phase = phase;
	/* here, before the fault handler snapshots the page table entry (see capture_memory()):
	 * a frame may live on the page being written */
	prepare_copy(ctx, ts, address);
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	/* no HOOK_BEGIN(): the fault tracepoints run with interrupts off, not preemptible */
	fault_begin(ctx, address, error_code, regs, PHASE_FAULT);
	return 0;
}

/* regs are the kernel's at the fault; the user registers are those of the system call */
SEC("tp_btf/page_fault_kernel")
int BPF_PROG(fault_kernel, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	fault_begin(ctx, address, error_code,
		    (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()), PHASE_KFAULT);
	return 0;
}

/*
 * Inside a kernel-mode fault, the user registers do not change until the system call returns:
 * the allocation that belongs to the fault is told from a later one of the same system call (the
 * page cache pages of a read(), say) by the kernel stack, which must pass through do_wp_page()
 * or wp_page_copy() (their text: kallsyms, from user space; 6.1 tail-calls wp_page_copy(), so
 * do_wp_page() is not on the stack there). One stack walk per kernel-mode write fault on a present
 * page, at its first movable page allocation.
 */
static __always_inline bool called_from_wp(void *ctx)
{
	__u32 zero = 0;
	__u64 *ips;
	long n;
	int i;

	if (!wp_text_lo[0])
		return false;
	ips = bpf_map_lookup_elem(&kstack_scratch, &zero);
	if (!ips)
		return false;
	n = bpf_get_stack(ctx, ips, COW_KSTACK_DEPTH * sizeof(__u64), 0);
#pragma unroll
	for (i = 0; i < COW_KSTACK_DEPTH; i++)
		if (i * (long)sizeof(__u64) < n &&
		    ((ips[i] >= wp_text_lo[0] && ips[i] < wp_text_hi[0]) ||
		     (ips[i] >= wp_text_lo[1] && ips[i] < wp_text_hi[1])))
			return true;
	return false;
}

/* ---- fault-alloc-tp: the page that receives the copy --------------------------------------- */

static __always_inline void page_allocated(void *ctx, struct cow_thread_state *ts,
					   gfp_t gfp_flags)
{
	__u8 kind;

	switch (ts->phase) {
	case PHASE_FAULT:
		if (!same_fault(ts))
			return;
		break;
	case PHASE_KFAULT:
		ts->phase = PHASE_IDLE; /* one walk per fault: see called_from_wp() */
		if (!called_from_wp(ctx))
			return;
		break;
	default:
		return;
	}
	ts->phase = PHASE_COPIED;
	if (gfp_flags & gfp_zero)
		kind = COW_ZERO;
	else if (rss_batched())
		kind = mapped_page_kind(ts->fault_addr);
	else
		kind = COW_ANON; /* until rss_stat says file */
	count_copy(ts, kind, ts->fault_addr, ts->fault_ip, ts->fault_sp);
}

SEC("tp_btf/mm_page_alloc")
int BPF_PROG(page_alloc, struct page *page, unsigned int order, gfp_t gfp_flags, int migratetype)
{
	struct cow_thread_state *ts;

	/* The copy is one movable page; this rejects most allocations before any lookup, and
	 * threads outside a fault of interest before any more work. */
	if (order != 0 || migratetype != MIGRATE_MOVABLE)
		return 0;
	ts = thread_state_get(false);
	if (!ts || ts->phase == PHASE_IDLE)
		return 0;
	HOOK_BEGIN();
	page_allocated(ctx, ts, gfp_flags);
	HOOK_END();
	return 0;
}

/*
 * wp_page_copy() moves one page from the file counter to the anon counter after copying a
 * page-cache page (mm/memory.c), and touches no counter when the old page was anonymous: this
 * is how a copy counted as anon above is recognised as a file copy.
 */
static __always_inline void rss_changed(struct mm_struct *mm, int member)
{
	struct cow_thread_state *ts;
	struct cow_proc_counts *c;
	struct cow_copy_event *e;
	__u32 slot;

	/* only the fields EV_COPY_FILE uses are written: the rest of the record is not read */
	if (member != MM_FILEPAGES && member != MM_SHMEMPAGES)
		return;
	ts = thread_state_get(false);
	if (!ts || ts->phase != PHASE_COPIED)
		return;
	if (mm != bpf_get_current_task_btf()->mm || !same_fault(ts))
		return;
	ts->phase = PHASE_IDLE;
	slot = ts->slot;
	c = bpf_map_lookup_elem(&counts, &slot);
	if (!c)
		return;
	__sync_fetch_and_add(&c->kind[COW_ANON], -1);
	__sync_fetch_and_add(&c->kind[COW_FILE], 1);

	if (!emit_copies)
		return;
	e = bpf_ringbuf_reserve(&copy_events, COPY_EVENT_BARE, 0);
	if (!e) {
		__sync_fetch_and_add(&lost_copy_events, 1);
		return;
	}
	e->type = EV_COPY_FILE;
	e->slot = slot;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->ts = event_times ? bpf_ktime_get_ns() : 0;
	bpf_ringbuf_submit(e, copy_wakeup(COPY_EVENT_BARE));
}

SEC("tp_btf/rss_stat")
int BPF_PROG(rss_stat, struct mm_struct *mm, int member)
{
	HOOK_BEGIN();
	rss_changed(mm, member);
	HOOK_END();
	return 0;
}

#endif /* __TARGET_ARCH_x86 */
