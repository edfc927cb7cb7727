/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What differs between the architectures cowtrace's BPF code runs on (x86-64, arm64), in one
 * place: the page frame in a page table entry, the thread pointer CPython's thread states are
 * keyed by, and a plain 8-byte kernel load. Registers otherwise go through libbpf's PT_REGS_*()
 * (bpf_tracing.h, by __TARGET_ARCH_*); fault-alloc-tp, which reads x86 registers and
 * tracepoints, is built for x86-64 only (cowtrace.bpf.c).
 */
#ifndef COWTRACE_ARCH_BPF_H
#define COWTRACE_ARCH_BPF_H

#if defined(__TARGET_ARCH_x86)
/* physical address bits of an entry: 12..51 (bit 63 is NX; memory encryption puts its bit at
 * 47 or above, which user space's check of the direct map against pagemap would catch) */
#define ARCH_PTE_PHYS_MASK 0x000ffffffffff000ULL
#elif defined(__TARGET_ARCH_arm64)
/* Output address bits 12..49 of a 4 KiB-granule page descriptor, the same with and without
 * LPA2 (52-bit physical addresses, Debian's 6.12: bits 8 and 9 then hold address bits 50 and
 * 51, shareability without it). Bits 50 (GP), 51 (DBM: how arm64 marks a pte writable), 55
 * and up (dirty, special, ...) are flags: a write-protected entry and the one that replaces
 * it after a reuse differ there, not here. */
#define ARCH_PTE_PHYS_MASK 0x0003fffffffff000ULL
#else
#error "cowtrace's BPF code knows x86-64 and arm64 (build with -D__TARGET_ARCH_x86 or _arm64)"
#endif
#define ARCH_PTE_VALID 0x1ULL /* _PAGE_PRESENT (x86), PTE_VALID (arm64) */

/*
 * The current thread's thread pointer, as pthread_self() relates to it: x86-64 glibc's pthread_self()
 * is the fs base itself; on arm64 the thread pointer (tpidr_el0) points just past glibc's
 * struct pthread (the walk subtracts its size, cow_stack_cfg.thread_ptr_bias). arm64 saves tpidr_el0
 * into thread.uw.tp_value when the task is switched out and sets it at clone(CLONE_SETTLS)
 * and fork, so for a thread that has been scheduled since it set its TLS (every Python worker
 * and thread) the saved value is the live one.
 */
static __always_inline __u64 arch_thread_pointer(void)
{
	/* a trusted pointer (bpf_get_current_task_btf()): plain loads, no helper call */
#if defined(__TARGET_ARCH_x86)
	return bpf_get_current_task_btf()->thread.fsbase;
#else
	return bpf_get_current_task_btf()->thread.uw.tp_value;
#endif
}

/*
 * The first 8-byte field of struct pt_regs, for dm_load()'s one-load read through
 * bpf_rdonly_cast(): any type made of 8-byte fields would do.
 */
#if defined(__TARGET_ARCH_x86)
#define ARCH_PT_REGS_FIRST(r) ((r)->r15)
#else
#define ARCH_PT_REGS_FIRST(r) ((r)->regs[0])
#endif

#endif /* COWTRACE_ARCH_BPF_H */
