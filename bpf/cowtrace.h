/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Structures shared by the BPF programs (bpf/cowtrace.bpf.c) and user space (user/). */
#ifndef COWTRACE_H
#define COWTRACE_H

/*
 * Every traced process gets a slot for its whole life: a pid that is reused later gets a new
 * slot, so two processes' numbers are never mixed. Slots are never freed during a run, which is
 * what keeps an exited process's numbers for the final report.
 */
#define COWTRACE_MAX_SLOTS 16384
#define COWTRACE_NO_SLOT   0xffffffffu
#define COWTRACE_COMM_LEN  16

enum cow_kind {
	COW_ANON = 0, /* private anonymous page shared after fork */
	COW_FILE = 1, /* first write to a private file-backed page */
	COW_ZERO = 2, /* first write to the shared zero page */
	COW_KINDS = 3,
};

/* Generations CPython's collector knows (0..2); one more bucket when the probe can't tell. */
#define GC_GENS        3
#define GC_GEN_UNKNOWN GC_GENS
/* gc_state in the per-thread state: 0 = not collecting, else 1 + generation (or GC_GEN_UNKNOWN) */
#define GC_STATE_NONE 0

/* Attach cookie of the collector uprobe: the System V argument (1..5) holding the generation,
 * 0 when none does, or GC_COOKIE_FIXED_GEN | generation for a copy of the collector that the
 * compiler specialised to one generation (collect.constprop.0 in 3.6-3.8). */
#define GC_COOKIE_VALUE	    0xf
#define GC_COOKIE_FIXED_GEN 0x10

/* Per-slot counters, updated atomically by BPF; user space only reads them. */
struct cow_proc_counts {
	__u64 kind[COW_KINDS];
	/* anon+file copies made while the thread ran a collection, by generation */
	__u64 gc[GC_GENS + 1];
};

enum proc_role {
	ROLE_ROOT = 0,	 /* the traced PID, or COMMAND */
	ROLE_WORKER = 1, /* forked from a traced process */
};

#define PROC_EXECED 0x1 /* has called exec since it was forked or found */
#define PROC_EXITED 0x2

/* Per-slot identity, written by BPF at fork/exec/exit and by user space for processes found in /proc. */
struct cow_proc_info {
	__u32 pid;
	__u32 ppid;
	__u32 parent_slot; /* COWTRACE_NO_SLOT when the parent is not traced */
	__u32 role;
	__u64 start_ns; /* bpf_ktime_get_ns() at fork, or when found; CLOCK_MONOTONIC */
	__u64 exit_ns;	/* 0 while alive */
	__s32 exit_code; /* wait(2) status of the thread group's last thread */
	__u32 flags;
	char comm[COWTRACE_COMM_LEN];
};

enum event_type {
	EV_COPY = 1,	 /* one copied page */
	EV_COPY_FILE = 2, /* the thread's previous EV_COPY turned out to copy a file page */
	EV_FORK = 3,
	EV_EXEC = 4,
	EV_EXIT = 5,
};

struct cow_copy_event {
	__u32 type; /* EV_COPY or EV_COPY_FILE (then only tid and ts are meaningful) */
	__u32 slot;
	__u32 pid;
	__u32 tid;
	__u64 ts;
	__u64 addr; /* exact faulting address */
	__u64 ip;   /* user instruction that wrote */
	__u8 kind;
	__u8 gc_state;
	__u8 pad[6];
};

struct cow_proc_event {
	__u32 type; /* EV_FORK, EV_EXEC, EV_EXIT */
	__u32 slot;
	__u32 pid;
	__u32 ppid;
	__u64 ts;
	char comm[COWTRACE_COMM_LEN];
};

#endif /* COWTRACE_H */
