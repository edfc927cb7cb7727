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
/* x86-64's base page: what a copy copies, and what BPF and user space count in */
#define COW_PAGE_SHIFT	   12
#define COW_PAGE_SIZE	   (1ULL << COW_PAGE_SHIFT)
/* distinct Python stacks and native stacks BPF keeps (maps stacks, native_stack_map) */
#define COW_STACKS_MAX	   16384
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

/*
 * BPF marks the traced PIDs (or COMMAND) root and every process forked below them worker;
 * user space refines the latter from what each process runs (tracees_role()): a worker runs
 * its parent's CPython without having exec'd, a master exec'd a CPython of its own (a server
 * started below a shell, unshare, a process manager), a helper is anything else (a shell, a
 * program a worker ran: uname, readlink, a pyenv shim's children).
 */
enum proc_role {
	ROLE_ROOT = 0,	 /* the traced PID, or COMMAND */
	ROLE_WORKER = 1, /* forked from a traced process (BPF); forked and running CPython */
	ROLE_MASTER = 2, /* below the root, exec'd a CPython */
	ROLE_HELPER = 3, /* below the root, runs no CPython, or another program than its parent */
	ROLE_COUNT
};

#define PROC_EXECED 0x1 /* has called exec since it was forked or found */
#define PROC_EXITED 0x2
/* its exit was found by user space, not seen by BPF (the kernel skipped the exit hook): no
 * exit code, and exit_ns is when it was found */
#define PROC_EXIT_UNSEEN 0x4

/* Per-slot identity, written by BPF at fork/exec/exit and by user space for processes found in
 * /proc. */
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

/*
 * What attribution needs of the target's memory, read in BPF at the fault, before the write
 * lands (the old page is still mapped): a window around the faulting address, and when the
 * address lies in a pymalloc pool (pool size known per process: map pool_shifts), the
 * pool header and the first bytes of the block that holds the address.
 */
/* window = [(addr & ~7) - 32, (addr & ~7) + 48): it holds the block head of an object whose
 * block starts up to 32 bytes before the write (a write to ob_refcnt or the GC header), so the
 * common case costs one read of the target, not two */
#define COW_WINDOW_BEFORE 32
#define COW_WINDOW	  80
#define COW_POOL_HEAD	  48 /* struct pool_header, 64-bit CPython 3.8-3.14 */
/* fields of struct pool_header read at a capture (BPF) and decoded (user/python/pyobj.c):
 * szidx and maxnextoffset, u32 each (Objects/obmalloc.c, 3.8-3.15) */
#define COW_POOL_SZIDX	  36
#define COW_POOL_MAXNEXT  44
#define COW_BLOCK_HEAD	  48 /* pre-header (16) + GC header (16) + ob_refcnt + ob_type */
/*
 * pool_shifts: 12 or 14 (4 or 16 KiB pools) in a known CPython, 0 in anything else, and
 * PENDING in a program just exec'd whose interpreter user space is still looking for (a few
 * hundred ms at most): captured as if pools were COW_POOL_SHIFT_GUESS (16 KiB, CPython 3.10+;
 * the pool header check rejects what is not one), so that workers forked in that time are
 * decoded, not taken for native memory.
 */
#define COW_POOL_SHIFT_PENDING 1
#define COW_POOL_SHIFT_GUESS   14

/* The window is read only within the faulting page (touching the neighbour page costs a TLB
 * walk, which in a VM is most of the cost of a capture): each half when it lies in that page. */
#define COW_HAVE_WINDOW_LO 0x1 /* window[0..32) was read */
#define COW_HAVE_POOL	   0x2 /* pool[] was read and looks like a pool header */
#define COW_HAVE_BLOCK	   0x4 /* block[] was read */
#define COW_HAVE_WINDOW_HI 0x8 /* window[32..80) was read */
#define COW_HAVE_WINDOW	   (COW_HAVE_WINDOW_LO | COW_HAVE_WINDOW_HI)

/* Read at the fault (see capture_memory() in bpf/cowtrace.bpf.c for why then). */
struct cow_capture {
	__u8 have; /* COW_HAVE_* */
	__u8 pad[7];
	__u64 window_addr; /* address of window[0] */
	__u64 pool_addr;   /* address of pool[0] */
	__u64 block_addr;  /* address of block[0] */
	__u8 window[COW_WINDOW];
	__u8 pool[COW_POOL_HEAD];
	__u8 block[COW_BLOCK_HEAD];
};

/*
 * A copy event. The record in the ring buffer is only as long as what it carries (every byte
 * written to the ring costs: it is memory no cache holds): without capture it ends before cap
 * (COPY_EVENT_BARE), outside a pymalloc pool after cap.window (COPY_EVENT_WINDOW), without a
 * block head (none read, or the window holds it) after cap.pool (COPY_EVENT_POOL); user space
 * reads it into a zeroed struct (user/trace/copy_event.c).
 */
struct cow_copy_event {
	__u32 type; /* EV_COPY or EV_COPY_FILE (then only slot, tid and ts are meaningful) */
	__u32 slot;
	__u32 pid;
	__u32 tid;
	__u64 ts;   /* bpf_ktime_get_ns() with --trace, else 0 */
	__u64 addr; /* exact faulting address */
	__u64 ip;   /* user instruction that wrote */
	__u64 sp;   /* user stack pointer of the writing thread */
	__u8 kind;
	__u8 gc_state;
	__u8 pad[2];
	__u32 native_id; /* 1 + id of the native (user) stack in map native_stacks, 0 when none */
	__u64 stack_id;	 /* key of the Python stack in map stacks, 0 when none */
	struct cow_capture cap;
};

#define COPY_EVENT_BARE	    __builtin_offsetof(struct cow_copy_event, cap)
#define COPY_CAPTURE_WINDOW __builtin_offsetof(struct cow_capture, pool)
#define COPY_EVENT_WINDOW   (COPY_EVENT_BARE + COPY_CAPTURE_WINDOW)
#define COPY_CAPTURE_POOL   __builtin_offsetof(struct cow_capture, block)
#define COPY_EVENT_POOL	    (COPY_EVENT_BARE + COPY_CAPTURE_POOL)
#define COPY_EVENT_FULL	    sizeof(struct cow_copy_event)

/*
 * Python stacks, walked in BPF at the fault from the interpreter's own structures: the thread's
 * PyThreadState (found in the interpreter's thread list by thread_id, which is pthread_self():
 * the thread's fs base on x86-64 glibc, its thread pointer minus sizeof(struct pthread) on
 * arm64 glibc), then its frame chain. Offsets per version come
 * from user/python/pyframes.c; user space fills one configuration per process (map py_stack_cfgs).
 */
#define COW_STACK_MAX	     64 /* deeper stacks are truncated at the root end, and marked */
#define COW_STACK_TRUNCATED  0x1
#define COW_THREADS_MAX	     32 /* thread states looked at to find the writer's */
#define COW_FRAME_READ	     128 /* bytes of a frame read at once: every field needed fits */

enum cow_frame_kind {
	PYF_NONE = 0,	  /* no walk: not CPython, or a version without a table */
	PYF_FRAMEOBJ = 1, /* 3.8-3.10: tstate->frame, PyFrameObject.f_back, f_lasti (int) */
	PYF_CFRAME = 2,	  /* 3.11, 3.12: tstate->cframe->current_frame, _PyInterpreterFrame */
	PYF_CURRENT = 3,  /* 3.13+: tstate->current_frame */
};

struct cow_stack_cfg {
	__u64 runtime;	       /* address of _PyRuntime in the process */
	__u32 kind;	       /* enum cow_frame_kind */
	__u16 interp_head;     /* in _PyRuntime: PyInterpreterState *interpreters.head */
	__u16 threads_head;    /* in the interpreter: PyThreadState *threads.head */
	__u16 tstate_next;
	__u16 tstate_thread_id;
	__u16 tstate_frame;    /* frame (3.8-3.10), cframe (3.11, 3.12), current_frame (3.13+) */
	__u16 cframe_current;  /* current_frame in _PyCFrame (3.11, 3.12) */
	__u16 frame_previous;
	__u16 frame_code;
	__u16 frame_instr;     /* int f_lasti (PYF_FRAMEOBJ), else the instruction pointer */
	__u16 frame_owner;     /* 0 when frames have no owner byte */
	__u8 owner_skip;       /* skip frames whose owner is >= this (C-stack shims), 0: none */
	__u8 code_tag_bits;    /* low bits of the code pointer that are tags (3.14) */
	__u16 code_name;       /* in the code object: co_qualname (3.11+) or co_name */
	__u16 str_data;	       /* characters of a compact ASCII str (sizeof(PyASCIIObject)) */
	__u16 thread_ptr_bias; /* pthread_self() = thread pointer - this (0 on x86-64) */
};

#define COW_NAME_CHARS 16

/* Native (user) stacks, from frame pointers (--native): deeper ones are cut. */
#define COW_NATIVE_MAX 32 /* first characters of a frame's function name, kept with the frame */

struct cow_stack {
	__u32 depth; /* frames in code[]/instr[]/name[], innermost first */
	__u32 flags; /* COW_STACK_TRUNCATED */
	__u64 code[COW_STACK_MAX];
	__u64 instr[COW_STACK_MAX]; /* f_lasti (PYF_FRAMEOBJ) or the instruction pointer */
	/* the first characters of the code object's name: a code object freed and another
	 * allocated at the same address (functions made at run time, whose name strings reuse
	 * addresses too) shows here, so the two are never one stack, nor one name */
	char name[COW_STACK_MAX][COW_NAME_CHARS];
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
