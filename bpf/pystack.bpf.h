/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Python stacks, walked at a copy from the interpreter's own structures (see cowtrace.h).
 */
#ifndef COWTRACE_PYSTACK_BPF_H
#define COWTRACE_PYSTACK_BPF_H

/* The writing thread's PyThreadState: its thread_id is pthread_self() (arch_thread_pointer()). */
static __always_inline __u64 find_tstate(struct cow_thread_state *ts, struct user_view *v,
					 const struct cow_stack_cfg *cfg, __u64 self)
{
	__u64 t, interp;
	int i;

	interp = user_u64(v, cfg->runtime + cfg->interp_head);
	if (!interp)
		return 0;
	t = user_u64(v, interp + cfg->threads_head);
	for (i = 0; i < COW_THREADS_MAX && t; i++) {
		if (user_u64(v, t + cfg->tstate_thread_id) == self) {
			ts->tstate = t;
			ts->tstate_self = self;
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
						const struct cow_stack_cfg *cfg, __u64 self,
						__u64 *frame)
{
	__u32 lo, hi, span, zero = 0;
	struct cow_stack *st;
	__u8 *buf;

	if (!ts->tstate || ts->tstate_self != self)
		return false;
	if (direct_map_base) {
		if (user_u64(v, ts->tstate + cfg->tstate_thread_id) != self)
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
	    *(__u64 *)(buf + ((cfg->tstate_thread_id - lo) & 0xf8)) != self)
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
	__u32 zero = 0;
	__u8 *buf;
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
		/* in a map, not on the stack: the walk's call chain (program, loop callback, this,
		 * user_u64) must fit 512 bytes of stack on kernels without private BPF stacks
		 * (6.12 refused 528) */
		buf = bpf_map_lookup_elem(&frame_scratch, &zero);
		if (!buf || bpf_probe_read_user(buf, COW_FRAME_READ, (void *)frame))
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
	bool check;  /* only visit the frames (and compute chain), record nothing */
};

static __always_inline __u64 fnv(__u64 h, __u64 v)
{
	return (h ^ v) * 1099511628211ULL;
}

/*
 * One frame: record it (unless it is a shim), then read the one it was called from. The depth
 * is counted in the scratch stack (st->depth), not on the BPF stack: a counter the verifier
 * knows exactly makes every step a new state to it, and a 7.2 verifier then walked all 72 steps
 * of every path to its 1M instruction limit; a value read from a map is unknown to it, and the
 * loop's states converge after a step or two.
 */
static int walk_step(__u32 i, struct walk *w)
{
	struct cow_stack *st;
	__u32 zero = 0, d;

	if (!w->frame)
		return 1;
	st = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!st)
		return 1;
	if (!w->f.skip && w->f.code) {
		d = st->depth;
		if (d >= COW_STACK_MAX) {
			st->flags |= COW_STACK_TRUNCATED;
			return 1;
		}
		if (!w->check) {
			st->code[d & (COW_STACK_MAX - 1)] = w->f.code;
			st->instr[d & (COW_STACK_MAX - 1)] = w->f.instr;
			__builtin_memcpy(st->name[d & (COW_STACK_MAX - 1)], w->f.name,
					 COW_NAME_CHARS);
			w->h = fnv(w->h, w->f.code);
			w->h = fnv(w->h, w->f.instr);
			w->h = fnv(w->h, w->f.name[0]);
			w->h = fnv(w->h, w->f.name[1]);
		}
		st->depth = d + 1;
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
 * stack_scratch (its depth and flags too); with check, only visits them for w->chain. False
 * when there is no scratch stack. */
static __always_inline bool walk_frames(struct walk *w, const struct frame_fields *top,
					__u64 frame, bool check)
{
	struct cow_stack *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!st)
		return false;
	st->depth = 0;
	st->flags = 0;
	w->frame = frame;
	w->f = *top;
	w->h = 14695981039346656037ULL;
	w->chain = 14695981039346656037ULL;
	w->check = check;
	/* bpf_loop: the verifier checks one step instead of every unrolled path; a few more
	 * steps than frames recorded, for the C-stack shims that are skipped */
	bpf_loop(COW_STACK_MAX + 8, walk_step, w, 0);
	if (w->frame && st->depth >= COW_STACK_MAX)
		st->flags |= COW_STACK_TRUNCATED;
	return true;
}

/*
 * Walks the Python stack of the current thread into map stacks and returns its key, 0 when
 * there is none (not CPython, no thread state: a thread CPython does not know, or a read
 * failed). Innermost frame first; a stack deeper than COW_STACK_MAX loses its outermost frames
 * and is marked truncated.
 */
static __always_inline __u64 python_stack(struct cow_thread_state *ts, __u32 slot)
{
	struct cow_stack_cfg *cfg;
	struct cow_stack *st;
	struct frame_fields f;
	struct walk w;
	__u64 tstate, frame, top, id, self;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&py_stack_cfgs, &slot);
	if (!cfg || cfg->kind == PYF_NONE)
		return 0;
	self = arch_thread_pointer() - cfg->thread_ptr_bias;
	user_view_init(&w.view);
	if (!cached_tstate_frame(ts, &w.view, cfg, self, &frame)) {
		tstate = find_tstate(ts, &w.view, cfg, self);
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
	    ts->top_name == f.name[0] && walk_frames(&w, &f, frame, true) &&
	    w.chain == ts->chain)
		return ts->stack_id;
	top = frame;
	if (!walk_frames(&w, &f, frame, false))
		return 0;
	st = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!st)
		return 0;
	id = (w.h ^ st->flags) | 1;
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

#endif /* COWTRACE_PYSTACK_BPF_H */
