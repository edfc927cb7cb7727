/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The wp detectors: a hook on the kernel function that breaks copy-on-write, wp_page_copy()
 * where the kernel has it as a function (Debian's 6.1), else its only caller do_wp_page(), which
 * inlines it (6.12, 7.2). Every copy goes through it, whoever faults: the process writing (a user
 * fault), the kernel writing into the process's memory for it (read() into a buffer: a
 * kernel-mode fault), or get_user_pages() with write (O_DIRECT reads into private memory,
 * process_vm_writev(), ptrace), which breaks copy-on-write with no fault at all.
 *
 *   entry     the page table entry the fault found (vmf->orig_pte) names the page that may be
 *             copied: its kind is read from its struct page now, while it is surely mapped (the
 *             zero page is a reserved page; an anonymous page has PAGE_MAPPING_ANON in
 *             ->mapping; anything else is a page-cache page). Where the struct page of a frame
 *             cannot be found (arm64), at return, from the page do_wp_page() kept in vmf.
 *   return    without an error, if the entry now maps another page, the page was copied
 *             (do_wp_page() also runs for a page it can reuse, and then the entry keeps its
 *             page). The copy
 *             is counted, captured (the new page holds the old bytes; the write that faulted
 *             lands after the return) and its stacks walked. Capturing here and not at entry
 *             matters without the direct map: reading the old page through the target's
 *             mapping while the fault runs would set the entry's accessed bit and make the
 *             kernel throw its copy away (capture.bpf.h).
 *
 * Nothing else is hooked: on a fully preemptible kernel (7.2) the kernel skips a tracing
 * program on a CPU where a preempted task is inside it (bpf/globals.bpf.h), and the kprobe
 * variants, which run with preemption off, then lose nothing.
 *
 * A copy the kernel throws away because another thread copied the page first (two threads
 * racing on one page) still finds the entry changed: counted once too many, as by
 * fault-alloc-tp.
 */
#ifndef COWTRACE_WP_COPY_BPF_H
#define COWTRACE_WP_COPY_BPF_H

#define VM_FAULT_ERROR_BITS                                                                      \
	(VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON |                  \
	 VM_FAULT_HWPOISON_LARGE | VM_FAULT_FALLBACK)

/* ts->kind between entry and return when the page's kind is told at return (vmf_page_kind()) */
#define KIND_AT_RETURN COW_KINDS

/* The exact address written: vmf->address is page-aligned; real_address (5.18+) is not. */
static __always_inline __u64 vmf_fault_address(struct vm_fault *vmf)
{
	if (bpf_core_field_exists(vmf->real_address))
		return BPF_CORE_READ(vmf, real_address);
	return BPF_CORE_READ(vmf, address);
}

static __always_inline void wp_enter(struct vm_fault *vmf)
{
	struct cow_thread_state *ts = traced_thread();
	__u64 pfn;

	if (!ts)
		return;
	ts->vmf = (__u64)vmf;
	pfn = pte_pfn(BPF_CORE_READ(vmf, orig_pte.pte));
	ts->orig_pfn = pfn;
	ts->kind = !pfn ? COW_ANON : frames_known() ? frame_kind(pfn) : KIND_AT_RETURN;
	ts->phase = PHASE_WP;
}

static __always_inline void wp_exit(void *ctx, vm_fault_t ret)
{
	struct cow_thread_state *ts = thread_state_get(false);
	struct vm_fault *vmf;
	struct pt_regs *regs;
	__u64 addr, pte = 0;
	pte_t *ptep;

	if (!ts || ts->phase != PHASE_WP)
		return;
	ts->phase = PHASE_IDLE;
	if (ret & VM_FAULT_ERROR_BITS)
		return;
	vmf = (struct vm_fault *)ts->vmf;
	/* the entry now: the fault has dropped its lock, the table is still there (the mmap or
	 * VMA lock is held) */
	ptep = BPF_CORE_READ(vmf, pte);
	if (!ptep || bpf_probe_read_kernel(&pte, sizeof(pte), ptep) || !pte_pfn(pte) ||
	    pte_pfn(pte) == ts->orig_pfn)
		return;
	if (ts->kind == KIND_AT_RETURN)
		ts->kind = vmf_page_kind(vmf, ts->orig_pfn);
	addr = vmf_fault_address(vmf);
	/* the user registers: where the process wrote, or made the system call that did */
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	prepare_copy(ctx, ts, addr);
	count_copy(ts, ts->kind, addr, PT_REGS_IP_CORE(regs), PT_REGS_SP_CORE(regs));
}

#endif /* COWTRACE_WP_COPY_BPF_H */
