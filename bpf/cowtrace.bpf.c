// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cowtrace kernel side: which processes are traced (fork/exec/exit), which thread is inside a
 * CPython collection (USDT or uprobes), and the copy-on-write detector that counts every page
 * copied in a traced process.
 *
 * Detector "fault-alloc-tp" (x86-64): a copy-on-write break is a user write fault on a present
 * page (exceptions:page_fault_user, error code PRESENT|WRITE) followed, inside that same fault,
 * by the order-0 movable page allocation that receives the copy (kmem:mm_page_alloc). Where a
 * kernel has wp_page_copy as a function, a later detector attaches there instead; both feed the
 * same counters and events (count_copy()).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "cowtrace.h"
#include "direct_map.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

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
/* The kernel's direct map (found and checked by user/direct_map.c): the capture reads the faulting
 * page through it; 0: through the target's own mapping. */
const volatile __u64 direct_map_base = 0;
const volatile __u32 page_table_levels = 4;
/* __GFP_ZERO as this kernel numbers it (read from its BTF by user space) */
const volatile __u32 gfp_zero = 0x100;

/* Kept in .bss so that user space reads them through the mmapped skeleton, even after overflow. */
__u32 next_slot;
__u64 lost_copy_events;
__u64 lost_proc_events;
__u64 slots_exhausted;
__u64 lost_stacks; /* stacks walked but not stored: map stacks full */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* slot */
} traced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct cow_proc_info);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct cow_proc_counts);
} counts SEC(".maps");

/* Per slot: log2 of the pymalloc pool size of the process's CPython (12 for 3.8/3.9, 14 from
 * 3.10), 0 when it runs none. Written by user space when it finds the interpreter (a map of its
 * own, so that it never races with BPF's updates of procs), inherited at fork, reset at exec. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} pool_shifts SEC(".maps");

/* Per slot: how to walk its CPython's stacks (user space fills it; inherited at fork). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COWTRACE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct cow_stack_cfg);
} py_stack_cfgs SEC(".maps");

/* Distinct stacks by a hash of their frames; copy events carry the key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct cow_stack);
} stacks SEC(".maps");

/* Native user stacks (--native), deduplicated by the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
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
	PHASE_FAULT = 1,  /* inside a write fault on a present page; copy not seen yet */
	PHASE_COPIED = 2, /* the fault's copy was counted as anon; a file copy corrects it */
};

/* Per thread, in task storage: cheaper than a hash keyed by tid and freed with the task. */
struct cow_thread_state {
	__u64 fault_ip; /* user registers at the fault, to recognise the same fault later */
	__u64 fault_sp;
	__u64 fault_addr;
	__u32 slot;
	__u8 phase;
	__u8 gc_state; /* GC_STATE_NONE, or 1 + generation */
	/* collector entries not yet returned: 3.13's gc_collect_main is re-entered (and returns
	 * at once) when a finalizer calls gc.collect() during a collection */
	__u8 gc_depth;
	__u8 pad[5];
	/* the last pool-sized chunk whose header was not a pool header, and when (jiffies):
	 * sequential writes to a large buffer then cost one read of that chunk's start, not one
	 * per page */
	__u64 nonpool_chunk;
	__u64 nonpool_jiffies;
	/* the thread's PyThreadState, and the fs base it was found for */
	__u64 tstate;
	__u64 tstate_fsbase;
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

/* ---- process tree ---------------------------------------------------------------------- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	struct cow_stack_cfg *pcfg, *cfg;
	struct cow_proc_info *info;
	__u32 *pslot, *pshift, *shift, slot, tgid = child->tgid, ptgid = parent->tgid;

	if (child->pid != child->tgid) /* a new thread, not a new process */
		return 0;
	pslot = traced_slot(ptgid);
	if (!pslot)
		return 0;

	slot = __sync_fetch_and_add(&next_slot, 1);
	if (slot >= COWTRACE_MAX_SLOTS) {
		__sync_fetch_and_add(&slots_exhausted, 1);
		return 0;
	}
	info = bpf_map_lookup_elem(&procs, &slot);
	if (!info)
		return 0;
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
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct cow_stack_cfg *cfg;
	struct cow_proc_info *info;
	__u32 *slot, *shift, tgid = p->tgid;

	slot = traced_slot(tgid);
	if (!slot)
		return 0;
	/* a new program: no interpreter known until user space has looked */
	shift = bpf_map_lookup_elem(&pool_shifts, slot);
	if (shift)
		*shift = 0;
	cfg = bpf_map_lookup_elem(&py_stack_cfgs, slot);
	if (cfg)
		cfg->kind = PYF_NONE;
	info = bpf_map_lookup_elem(&procs, slot);
	if (info) {
		info->flags |= PROC_EXECED;
		bpf_probe_read_kernel_str(info->comm, sizeof(info->comm), p->comm);
	}
	emit_proc_event(EV_EXEC, *slot, tgid, 0, p->comm);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	struct cow_proc_info *info;
	__u32 *slotp, slot, tgid = p->tgid;

	slotp = traced_slot(tgid);
	if (!slotp)
		return 0;
	/* Each thread passes here; the process is gone when the last one does. (6.18 passes
	 * group_dead as a second argument; signal->live works on every kernel.) */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	slot = *slotp;
	info = bpf_map_lookup_elem(&procs, &slot);
	if (info) {
		info->exit_ns = bpf_ktime_get_ns();
		info->exit_code = p->exit_code;
		info->flags |= PROC_EXITED;
	}
	bpf_map_delete_elem(&traced, &tgid);
	emit_proc_event(EV_EXIT, slot, tgid, 0, p->comm);
	return 0;
}

/* ---- CPython collections ------------------------------------------------------------------ */

static __always_inline void gc_enter(long generation)
{
	struct cow_thread_state *ts;

	ts = traced_thread();
	if (!ts)
		return;
	if (ts->gc_depth++ == 0)
		ts->gc_state = 1 + (generation >= 0 && generation < GC_GENS ? generation
									  : GC_GEN_UNKNOWN);
}

static __always_inline void gc_leave(void)
{
	struct cow_thread_state *ts;

	ts = thread_state_get(false);
	if (!ts)
		return;
	/* a return without an entry: cowtrace attached in the middle of a collection */
	if (ts->gc_depth)
		ts->gc_depth--;
	if (!ts->gc_depth)
		ts->gc_state = GC_STATE_NONE;
}

/* python:gc__start(int generation) and python:gc__done(long collected) */
SEC("usdt")
int BPF_USDT(usdt_gc_start, int generation)
{
	gc_enter(generation);
	return 0;
}

SEC("usdt")
int BPF_USDT(usdt_gc_done, long collected)
{
	gc_leave();
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

	if (cookie & GC_COOKIE_FIXED_GEN) {
		gc_enter(cookie & GC_COOKIE_VALUE);
		return 0;
	}
	/* _CORE reads: clang would otherwise fold the cases into one load at a computed ctx
	 * offset, which the verifier refuses */
	switch (cookie & GC_COOKIE_VALUE) {
	case 1: gen = (int)PT_REGS_PARM1_CORE(ctx); break;
	case 2: gen = (int)PT_REGS_PARM2_CORE(ctx); break;
	case 3: gen = (int)PT_REGS_PARM3_CORE(ctx); break;
	case 4: gen = (int)PT_REGS_PARM4_CORE(ctx); break;
	case 5: gen = (int)PT_REGS_PARM5_CORE(ctx); break;
	}
	gc_enter(gen);
	return 0;
}

SEC("uretprobe")
int uprobe_gc_return(struct pt_regs *ctx)
{
	gc_leave();
	return 0;
}

/* ---- Python stacks ------------------------------------------------------------------------ */

/*
 * The current process's memory as the stack walk reads it: through the direct map when there
 * is one (a load per field; the page last looked up is remembered, as the fields of one
 * structure share a page), else through the process's mapping (a helper call per read, ~70 ns
 * here whatever the size: then the walk reads whole spans at once).
 */
struct user_view {
	__u64 pgd;
	__u64 upage; /* page number (addr >> 12) of kpage, 0 when none */
	__u64 kpage; /* its direct-map address */
};

static __always_inline void user_view_init(struct user_view *v)
{
	v->pgd = direct_map_base ? (__u64)bpf_get_current_task_btf()->mm->pgd : 0;
	v->upage = 0;
	v->kpage = 0;
}

/* The u64 at addr (the target's pointer: anything), 0 when it cannot be read. A function of its
 * own, verified once: inlined at each of the walk's reads, its branches multiply past the
 * verifier's limit. */
__noinline __u64 user_u64(struct user_view *v, __u64 addr)
{
	__u64 val = 0, table, k;
	bool large;

	if (!v)
		return 0;
	if (!direct_map_base || (addr & 7)) {
		if (bpf_probe_read_user(&val, sizeof(val), (void *)addr))
			return 0;
		return val;
	}
	if ((addr >> 12) != v->upage) {
		table = dm_pte_table(direct_map_base, page_table_levels, v->pgd, addr, &large);
		k = dm_addr_in(direct_map_base, table, large, addr, addr & ~4095ULL);
		if (!k)
			return 0;
		v->upage = addr >> 12;
		v->kpage = k;
	}
	return dm_load(v->kpage + (addr & 4095));
}

/* The writing thread's PyThreadState: its thread_id is pthread_self(), the thread's fs base. */
static __always_inline __u64 find_tstate(struct cow_thread_state *ts, struct user_view *v,
					 const struct cow_stack_cfg *cfg, __u64 fsbase)
{
	__u64 t, interp;
	int i;

	interp = user_u64(v, cfg->runtime + cfg->interp_head);
	if (!interp)
		return 0;
	t = user_u64(v, interp + cfg->threads_head);
	for (i = 0; i < COW_THREADS_MAX && t; i++) {
		if (user_u64(v, t + cfg->tstate_thread_id) == fsbase) {
			ts->tstate = t;
			ts->tstate_fsbase = fsbase;
			return t;
		}
		t = user_u64(v, t + cfg->tstate_next);
	}
	return 0;
}

/* Bytes of a thread state read at once on the cached path: its thread_id and frame (or cframe)
 * pointer lie within this span in every supported version (at most 160 bytes apart). */
#define COW_TSTATE_SPAN 192

/*
 * The frame (cframe in 3.11/3.12) pointer of the thread state found for this thread before,
 * when it is still this thread's: both fields in one read (the scratch stack is the buffer;
 * the walk overwrites it later). False when there is none or it is no longer this thread's.
 */
static __always_inline bool cached_tstate_frame(const struct cow_thread_state *ts,
						struct user_view *v,
						const struct cow_stack_cfg *cfg, __u64 fsbase,
						__u64 *frame)
{
	__u32 lo, hi, span, zero = 0;
	struct cow_stack *st;
	__u8 *buf;

	if (!ts->tstate || ts->tstate_fsbase != fsbase)
		return false;
	if (direct_map_base) {
		if (user_u64(v, ts->tstate + cfg->tstate_thread_id) != fsbase)
			return false;
		*frame = user_u64(v, ts->tstate + cfg->tstate_frame);
		return true;
	}
	lo = cfg->tstate_thread_id < cfg->tstate_frame ? cfg->tstate_thread_id : cfg->tstate_frame;
	hi = cfg->tstate_thread_id > cfg->tstate_frame ? cfg->tstate_thread_id : cfg->tstate_frame;
	span = hi - lo + 8;
	if (span > COW_TSTATE_SPAN)
		return false;
	st = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!st)
		return false;
	buf = (__u8 *)st->code;
	if (bpf_probe_read_user(buf, span & 0xff, (void *)(ts->tstate + lo)) ||
	    *(__u64 *)(buf + ((cfg->tstate_thread_id - lo) & 0xf8)) != fsbase)
		return false;
	*frame = *(__u64 *)(buf + ((cfg->tstate_frame - lo) & 0xf8));
	return true;
}

/* The fields of one frame, read at once; offsets are masked into the buffer for the verifier. */
struct frame_fields {
	__u64 code;
	__u64 name[COW_NAME_CHARS / 8]; /* first characters of co_qualname/co_name */
	__u64 previous;
	__u64 instr;
	bool skip;
};

/* Bytes after a short name's NUL are whatever follows it in memory: not part of the key.
 * Word by word (little-endian), without a branch per character: the verifier would follow
 * each one. z marks the zero bytes (exact up to the first one); the first one's mark, shifted
 * down, is the mask of the bytes before it. */
static __always_inline __u64 keep_before_nul(__u64 w, bool *ended)
{
	__u64 z = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;

	if (*ended)
		return 0;
	if (!z)
		return w;
	*ended = true;
	return w & (((z & -z) >> 7) - 1);
}

static __always_inline void clear_after_nul(__u64 name[COW_NAME_CHARS / 8])
{
	bool ended = false;

	name[0] = keep_before_nul(name[0], &ended);
	name[1] = keep_before_nul(name[1], &ended);
}

/* A frame's fields from the 8-byte words that hold them: the instruction (an int before 3.11)
 * and the owner byte may sit inside their word. */
static __always_inline void frame_from_words(const struct cow_stack_cfg *cfg, __u64 code,
					     __u64 previous, __u64 instr_word, __u64 owner_word,
					     struct frame_fields *f)
{
	f->code = code & ~(__u64)cfg->code_tag_bits;
	f->previous = previous;
	if (cfg->kind == PYF_FRAMEOBJ)
		f->instr = (__u64)(__s64)(__s32)(instr_word >> ((cfg->frame_instr & 4) * 8));
	else
		f->instr = instr_word;
	f->skip = cfg->owner_skip &&
		  (__u8)(owner_word >> ((cfg->frame_owner & 7) * 8)) >= cfg->owner_skip;
}

/* Reads one frame into f, and the first characters of its code object's name when names is
 * set; 0 when it cannot be read. Through the direct map a load per word, else the frame's
 * first COW_FRAME_READ bytes at once (offsets masked into them for the verifier). A function of
 * its own for the verifier (see user_u64): the stack walk calls it up to 72 times in a loop. */
__noinline int read_frame(struct user_view *v, const struct cow_stack_cfg *cfg, __u64 frame,
			  struct frame_fields *f, int names)
{
	__u8 buf[COW_FRAME_READ];
	__u64 str;

	if (!v || !cfg || !f)
		return 0;

	if (direct_map_base) {
		frame_from_words(cfg, user_u64(v, frame + (cfg->frame_code & 0x78)),
				 user_u64(v, frame + (cfg->frame_previous & 0x78)),
				 user_u64(v, frame + (cfg->frame_instr & 0x78)),
				 cfg->owner_skip ? user_u64(v, frame + (cfg->frame_owner & 0x78)) : 0,
				 f);
		/* nothing readable there: the page is gone (a frame has a code object or a
		 * caller) */
		if (!f->code && !f->previous)
			return 0;
	} else {
		if (bpf_probe_read_user(buf, sizeof(buf), (void *)frame))
			return 0;
		frame_from_words(cfg, *(__u64 *)(buf + (cfg->frame_code & 0x78)),
				 *(__u64 *)(buf + (cfg->frame_previous & 0x78)),
				 *(__u64 *)(buf + (cfg->frame_instr & 0x78)),
				 *(__u64 *)(buf + (cfg->frame_owner & 0x78)), f);
	}
	f->name[0] = f->name[1] = 0;
	if (names && f->code && !f->skip) {
		str = user_u64(v, f->code + cfg->code_name);
		if (str && direct_map_base) {
			f->name[0] = user_u64(v, str + cfg->str_data);
			f->name[1] = user_u64(v, str + cfg->str_data + 8);
		} else if (str) {
			bpf_probe_read_user(f->name, sizeof(f->name), (void *)(str + cfg->str_data));
		}
		clear_after_nul(f->name);
	}
	return 1;
}

struct walk {
	struct cow_stack_cfg cfg;
	struct user_view view;
	struct frame_fields f; /* the frame at frame, already read */
	__u64 frame;
	__u64 h;     /* the stack's key: code, instruction and name of each frame recorded */
	__u64 chain; /* every frame visited: address, code and instruction */
	__u32 d;
	__u32 flags;
	bool check;  /* only visit the frames (and compute chain), record nothing */
};

static __always_inline __u64 fnv(__u64 h, __u64 v)
{
	return (h ^ v) * 1099511628211ULL;
}

/* One frame: record it (unless it is a shim), then read the one it was called from. */
static int walk_step(__u32 i, struct walk *w)
{
	struct cow_stack *st;
	__u32 zero = 0;

	if (!w->frame)
		return 1;
	if (!w->f.skip && w->f.code) {
		if (w->d >= COW_STACK_MAX) {
			w->flags |= COW_STACK_TRUNCATED;
			return 1;
		}
		if (!w->check) {
			st = bpf_map_lookup_elem(&stack_scratch, &zero);
			if (!st)
				return 1;
			st->code[w->d & (COW_STACK_MAX - 1)] = w->f.code;
			st->instr[w->d & (COW_STACK_MAX - 1)] = w->f.instr;
			__builtin_memcpy(st->name[w->d & (COW_STACK_MAX - 1)], w->f.name,
					 COW_NAME_CHARS);
			w->h = fnv(w->h, w->f.code);
			w->h = fnv(w->h, w->f.instr);
			w->h = fnv(w->h, w->f.name[0]);
			w->h = fnv(w->h, w->f.name[1]);
		}
		w->d++;
	}
	w->chain = fnv(fnv(fnv(w->chain, w->frame), w->f.code), w->f.instr);
	w->frame = w->f.previous;
	if (!w->frame || !read_frame(&w->view, &w->cfg, w->frame, &w->f, !w->check)) {
		w->frame = 0;
		return 1;
	}
	return 0;
}

/* Walks the chain from frame (top: its fields, read), recording up to COW_STACK_MAX frames in
 * stack_scratch; with check, only visits them for w->chain. */
static __always_inline void walk_frames(struct walk *w, const struct frame_fields *top,
					__u64 frame, bool check)
{
	w->frame = frame;
	w->f = *top;
	w->h = 14695981039346656037ULL;
	w->chain = 14695981039346656037ULL;
	w->d = 0;
	w->flags = 0;
	w->check = check;
	/* bpf_loop: the verifier checks one step instead of every unrolled path; a few more
	 * steps than frames recorded, for the C-stack shims that are skipped */
	bpf_loop(COW_STACK_MAX + 8, walk_step, w, 0);
	if (w->frame && !(w->flags & COW_STACK_TRUNCATED) && w->d >= COW_STACK_MAX)
		w->flags |= COW_STACK_TRUNCATED;
}

/*
 * Walks the Python stack of the current thread into map stacks and returns its key, 0 when
 * there is none (not CPython, no thread state: a thread CPython does not know, or a read
 * failed). Innermost frame first; a stack deeper than COW_STACK_MAX loses its outermost frames
 * and is marked truncated.
 */
static __always_inline __u64 python_stack(struct cow_thread_state *ts, __u32 slot)
{
	__u64 fsbase = bpf_get_current_task_btf()->thread.fsbase;
	struct cow_stack_cfg *cfg;
	struct cow_stack *st;
	struct frame_fields f;
	struct walk w;
	__u64 tstate, frame, top, h, id;
	__u32 zero = 0, d;

	cfg = bpf_map_lookup_elem(&py_stack_cfgs, &slot);
	if (!cfg || cfg->kind == PYF_NONE)
		return 0;
	user_view_init(&w.view);
	if (!cached_tstate_frame(ts, &w.view, cfg, fsbase, &frame)) {
		tstate = find_tstate(ts, &w.view, cfg, fsbase);
		if (!tstate)
			return 0;
		frame = user_u64(&w.view, tstate + cfg->tstate_frame);
	}
	if (cfg->kind == PYF_CFRAME && frame)
		frame = user_u64(&w.view, frame + cfg->cframe_current);
	if (!frame || !read_frame(&w.view, cfg, frame, &f, 1))
		return 0;
	w.cfg = *cfg;
	/*
	 * The thread's last stack again? Its innermost frame is the same one, at the same
	 * instruction, with code of the same name (a collection, a tight loop): then only the
	 * frames are visited, without reading their names, and the stack is the last one if every
	 * frame is where it was with the same code and instruction. The innermost frame alone
	 * does not tell: a function called again from another caller may get the same frame
	 * (a reused PyFrameObject before 3.11, the same data-stack slot since).
	 */
	if (ts->stack_id && ts->top_frame == frame && ts->top_instr == f.instr &&
	    ts->top_name == f.name[0]) {
		walk_frames(&w, &f, frame, true);
		if (w.chain == ts->chain)
			return ts->stack_id;
	}
	top = frame;
	walk_frames(&w, &f, frame, false);
	st = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!st)
		return 0;
	st->flags = w.flags;
	d = w.d;
	h = w.h;
	st->depth = d;
	id = (h ^ st->flags) | 1;
	if (!bpf_map_lookup_elem(&stacks, &id) &&
	    bpf_map_update_elem(&stacks, &id, st, BPF_NOEXIST) && !bpf_map_lookup_elem(&stacks, &id)) {
		__sync_fetch_and_add(&lost_stacks, 1);
		return 0;
	}
	ts->stack_id = id;
	ts->chain = w.chain;
	ts->top_frame = top;
	ts->top_instr = f.instr;
	ts->top_name = f.name[0];
	return id;
}

/* ---- counting (shared by every detector) -------------------------------------------------- */

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

/* Where the capture reads the target: the faulting address, its alias in the direct map, and the
 * page table that maps it (when there is a direct map). */
struct target_view {
	__u64 addr;
	__u64 kaddr;
	__u64 table;
	bool large;
};

/* The direct-map alias of other, an address in the same pymalloc pool as the faulting one (so in
 * the same 2 MiB: the same page table), 0 when it is not mapped. */
static __always_inline __u64 target_alias(const struct target_view *v, __u64 other)
{
	if ((other >> 12) == (v->addr >> 12))
		return v->kaddr - v->addr + other;
	return dm_addr_in(direct_map_base, v->table, v->large, v->addr, other);
}

/* len bytes (8, 16, ... 80) of the target at addr (8-aligned), through the direct map when there
 * is one. Nonzero when they could not be read. */
static __always_inline long read_target(const struct target_view *v, void *dst, __u32 len,
					__u64 addr)
{
	__u64 k, k2, last = addr + len - 1;

	if (!direct_map_base)
		return bpf_probe_read_user(dst, len, (void *)addr);
	k = target_alias(v, addr);
	if (!k)
		return -1;
	if ((last >> 12) == (addr >> 12)) {
		dm_copy(dst, k, len);
		return 0;
	}
	/* the head of a block that starts near the end of the page before */
	k2 = target_alias(v, last & ~4095ULL);
	if (!k2)
		return -1;
	dm_copy2(dst, k, 4096 - (addr & 4095), k2, len);
	return 0;
}

static __always_inline void capture_memory(struct cow_thread_state *ts, __u64 addr, __u32 slot)
{
	struct cow_capture *cap = &ts->cap;
	struct target_view v = { .addr = addr };
	__u64 now;
	__u64 pool, pool_size, size, block, in_page;
	__u32 szidx, maxnext, shift, *shiftp;

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
	if (shift != 12 && shift != 14)
		return;
	if (direct_map_base) {
		v.table = dm_pte_table(direct_map_base, page_table_levels,
				       (__u64)bpf_get_current_task_btf()->mm->pgd, addr, &v.large);
		v.kaddr = dm_addr_in(direct_map_base, v.table, v.large, addr, addr);
		if (!v.kaddr)
			return; /* unmapped since the fault was raised: nothing to read */
	}

	in_page = addr & 4095 & ~7ULL;
	if (in_page >= COW_WINDOW_BEFORE && in_page + COW_WINDOW - COW_WINDOW_BEFORE <= 4096) {
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
	/* struct pool_header: szidx at 36, maxnextoffset at 44 (Objects/obmalloc.c) */
	szidx = *(__u32 *)(cap->pool + 36);
	maxnext = *(__u32 *)(cap->pool + 44);
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

/* ---- detector fault-alloc-tp (x86-64 tracepoints) ----------------------------------------- */

#define X86_PF_PROT  0x1 /* the page was present */
#define X86_PF_WRITE 0x2

/* Is the current task still inside the fault recorded in ts? The entry code sets orig_ax to -1
 * for exceptions (a syscall leaves its number there), and the user ip and sp are those the
 * fault saw. A later syscall or fault of the same thread fails at least one of the three. */
static __always_inline bool same_fault(const struct cow_thread_state *ts)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return regs && regs->ip == ts->fault_ip && regs->sp == ts->fault_sp &&
	       (long)regs->orig_ax == -1;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	struct cow_thread_state *ts;

	if ((error_code & (X86_PF_PROT | X86_PF_WRITE)) != (X86_PF_PROT | X86_PF_WRITE)) {
		ts = thread_state_get(false);
		if (ts)
			ts->phase = PHASE_IDLE;
		return 0;
	}
	ts = traced_thread();
	if (!ts)
		return 0;
	ts->fault_ip = regs->ip;
	ts->fault_sp = regs->sp;
	ts->fault_addr = address;
	ts->phase = PHASE_FAULT;
	if (capture)
		capture_memory(ts, address, ts->slot);
	/* walked here, before the fault handler snapshots the page table entry (see
	 * capture_memory()): a frame may live on the page being written */
	ts->fault_stack = walk_stacks ? python_stack(ts, ts->slot) : 0;
	ts->fault_native = 0;
	if (native_stacks) {
		long id = bpf_get_stackid(ctx, &native_stack_map, BPF_F_USER_STACK);

		ts->fault_native = id >= 0 ? id + 1 : 0;
	}
	return 0;
}

SEC("tp_btf/mm_page_alloc")
int BPF_PROG(page_alloc, struct page *page, unsigned int order, gfp_t gfp_flags, int migratetype)
{
	struct cow_thread_state *ts;

	/* The copy is one movable page; this rejects most allocations before any lookup. */
	if (order != 0 || migratetype != MIGRATE_MOVABLE)
		return 0;
	ts = thread_state_get(false);
	if (!ts || ts->phase != PHASE_FAULT || !same_fault(ts))
		return 0;
	ts->phase = PHASE_COPIED;
	count_copy(ts, (gfp_flags & gfp_zero) ? COW_ZERO : COW_ANON, ts->fault_addr, ts->fault_ip,
		   ts->fault_sp);
	return 0;
}

/*
 * wp_page_copy() moves one page from the file counter to the anon counter after copying a
 * page-cache page (mm/memory.c), and touches no counter when the old page was anonymous: this
 * is how a copy counted as anon above is recognised as a file copy.
 */
SEC("tp_btf/rss_stat")
int BPF_PROG(rss_stat, struct mm_struct *mm, int member)
{
	struct cow_thread_state *ts;
	struct cow_proc_counts *c;
	struct cow_copy_event *e;
	__u32 slot;

	/* only the fields EV_COPY_FILE uses are written: the rest of the record is not read */
	if (member != MM_FILEPAGES && member != MM_SHMEMPAGES)
		return 0;
	ts = thread_state_get(false);
	if (!ts || ts->phase != PHASE_COPIED)
		return 0;
	if (mm != bpf_get_current_task_btf()->mm || !same_fault(ts))
		return 0;
	ts->phase = PHASE_IDLE;
	slot = ts->slot;
	c = bpf_map_lookup_elem(&counts, &slot);
	if (!c)
		return 0;
	__sync_fetch_and_add(&c->kind[COW_ANON], -1);
	__sync_fetch_and_add(&c->kind[COW_FILE], 1);

	if (!emit_copies)
		return 0;
	e = bpf_ringbuf_reserve(&copy_events, COPY_EVENT_BARE, 0);
	if (!e) {
		__sync_fetch_and_add(&lost_copy_events, 1);
		return 0;
	}
	e->type = EV_COPY_FILE;
	e->slot = slot;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->ts = event_times ? bpf_ktime_get_ns() : 0;
	bpf_ringbuf_submit(e, copy_wakeup(COPY_EVENT_BARE));
	return 0;
}
