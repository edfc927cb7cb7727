// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The copy-on-write decoder: from the bytes BPF captured just before a write that copied a
 * shared page, tell which Python object was written, which field of it, and why.
 *
 * Where objects can be:
 *  - in a pymalloc pool (objects up to 512 bytes): the pool header gives the block size, hence
 *    the block; the object starts at the block, 16 bytes in (PyGC_Head first) or 32 bytes in
 *    (3.11+ pre-header, then PyGC_Head). Exactly one of these must be consistent with the type
 *    found at its ob_type;
 *  - anywhere else (bigger objects in malloc, static objects in the interpreter's .data,
 *    type objects): no grid to align to, so the 80-byte window around the address is searched
 *    for the few headers a write at that address can belong to, and only an unambiguous one
 *    is taken.
 * Whatever does not validate stays "unknown" (or "native" where the memory is not pymalloc's
 * and no object was found): a wrong type or field is worse than none.
 *
 * What it cannot see: buffers allocated apart from their object (list items, dict tables,
 * bytearray data, 3.11/3.12 instance values) carry no header, so writes there are unknown in
 * a pool and native in malloc; pre-header writes outside pools (ob_type would lie beyond the
 * window); types whose names are longer than 63 bytes or not ASCII. In an interpreter that is
 * not position independent (Debian's python3.11), a pymalloc block holding the pointer array
 * [static object, non-GC type] looks exactly like an object of that type; [type, type] is
 * caught (refcnt_is_type).
 *
 * Little-endian x86-64 only, like the tracer that fills the events.
 */
#include <stdint.h>
#include <string.h>
#include "pyobj.h"

#define PAGE_SHIFT 12
/* no CPython object type is bigger; a larger tp_basicsize is garbage */
#define MAX_BASICSIZE (1UL << 20)

static const char *const cause_names[CAUSE_COUNT] = {
    [CAUSE_GC] = "gc",
    [CAUSE_REFCOUNT] = "refcount",
    [CAUSE_GC_LIST] = "gc_list",
    [CAUSE_ALLOC_INTO_SHARED] = "alloc_into_shared",
    [CAUSE_MUTATION] = "mutation",
    [CAUSE_ALLOCATOR] = "allocator",
    [CAUSE_NATIVE] = "native",
    [CAUSE_UNKNOWN] = "unknown",
};

static const char *const field_names[FIELD_COUNT] = {
    [FIELD_GC_HEADER] = "gc_header",   [FIELD_PRE_HEADER] = "pre_header",
    [FIELD_REFCNT] = "ob_refcnt",      [FIELD_TYPE] = "ob_type",
    [FIELD_PAYLOAD] = "payload",       [FIELD_POOL_HEADER] = "pool_header",
    [FIELD_FREE_BLOCK] = "free_block", [FIELD_UNKNOWN] = "unknown",
};

static const char *const region_names[REGION_COUNT] = {
    [REGION_PYMALLOC] = "pymalloc",
    [REGION_MALLOC] = "malloc",
    [REGION_INTERP_DATA] = "interp_data",
    [REGION_STACK] = "stack",
    [REGION_OTHER] = "other",
    [REGION_UNKNOWN] = "unknown",
};

const char *cow_cause_name(enum cow_cause c)
{
	return (unsigned int)c < CAUSE_COUNT ? cause_names[c] : "unknown";
}

const char *cow_field_name(enum cow_field f)
{
	return (unsigned int)f < FIELD_COUNT ? field_names[f] : "unknown";
}

const char *cow_region_name(enum cow_region r)
{
	return (unsigned int)r < REGION_COUNT ? region_names[r] : "unknown";
}

/* ---- the captured bytes ----------------------------------------------------------------- */

/* The event's buffers whose addresses check out; nothing else of the target is read here. */
struct seg {
	uint64_t addr;
	const uint8_t *p;
	size_t len;
};

struct snap {
	struct seg seg[3];
	int n;
};

static void snap_add(struct snap *s, uint64_t addr, const uint8_t *p, size_t len)
{
	if (s->n < 3 && py_user_ptr(addr) && py_user_ptr(addr + len - 1))
		s->seg[s->n++] = (struct seg){.addr = addr, .p = p, .len = len};
}

/* len bytes at addr, only when one captured buffer holds all of them */
static bool snap_read(const struct snap *s, uint64_t addr, void *buf, size_t len)
{
	int i;

	for (i = 0; i < s->n; i++) {
		const struct seg *g = &s->seg[i];

		if (addr >= g->addr && addr - g->addr <= g->len &&
		    len <= g->len - (addr - g->addr)) {
			memcpy(buf, g->p + (addr - g->addr), len);
			return true;
		}
	}
	return false;
}

static bool snap_u64(const struct snap *s, uint64_t addr, uint64_t *v)
{
	return snap_read(s, addr, v, sizeof(*v));
}

struct dctx {
	const struct py_layout *L;
	const struct cow_copy_event *e;
	py_type_lookup_fn lookup;
	void *lctx;
	struct snap snap;
};

/* ---- types and header fields ------------------------------------------------------------ */

/* tp: a type object, per the caller's validator; its answer is checked again, cheaply */
static bool type_of(const struct dctx *c, uint64_t tp, struct py_type_info *ti)
{
	memset(ti, 0, sizeof(*ti));
	if (!c->lookup || !py_user_ptr(tp) || (tp & 7))
		return false;
	if (!c->lookup(tp, ti, c->lctx) || !ti->valid)
		return false;
	ti->name[sizeof(ti->name) - 1] = '\0';
	return ti->name[0] && ti->basicsize >= PY_OBJECT_HEAD && ti->basicsize <= MAX_BASICSIZE;
}

/*
 * _gc_next of a PyGC_Head: 0 when the object is untracked (_PyObject_GC_UNTRACK clears it,
 * and new objects start untracked), else the next PyGC_Head (objects' heads are 16-byte
 * aligned, the list heads in the interpreter state 8-byte aligned) with flags in the low bits:
 * NEXT_MASK_UNREACHABLE (1 in 3.8-3.13, 2 in 3.14) during a collection, the old-space bit (1)
 * in 3.14.
 */
static bool gc_next_ok(uint64_t v)
{
	uint64_t p = v & ~3ULL;

	return v == 0 || (py_user_ptr(p) && !(p & 7));
}

/*
 * A "reference count" that is the address of a type object: an array of pointers (a list's
 * items, instance values) holding [x, SomeType], not an object. Matters where the executable
 * is not position independent (Debian's python3.11): its static objects sit below 2^32 and
 * their addresses pass for reference counts.
 */
static bool refcnt_is_type(const struct dctx *c, uint64_t rc)
{
	struct py_type_info ti;

	return rc >= 0x10000 && !(rc & 7) && type_of(c, rc, &ti);
}

/*
 * Smallest allocation an instance of this type can have: tp_basicsize, except for str, whose
 * compact objects hold a PyASCIIObject (or the slightly larger PyCompactUnicodeObject) and the
 * characters with their NUL, less than sizeof(PyUnicodeObject) for short strings.
 */
static unsigned long min_size(const struct py_layout *L, const struct py_type_info *ti)
{
	unsigned long ascii = L->str_ascii_size + 1;

	if ((ti->flags & PY_TPFLAGS_UNICODE_SUBCLASS) && ascii < ti->basicsize)
		return ascii;
	return ti->basicsize;
}

static enum cow_field field_in_object(const struct py_layout *L, unsigned long flags, uint64_t obj,
				      uint64_t addr)
{
	int64_t rel = (int64_t)(addr - obj);
	int64_t gc = (flags & PY_TPFLAGS_HAVE_GC) ? L->gc_head : 0;
	int64_t all = py_preheader_size(L, flags);

	if (rel < -all)
		return FIELD_UNKNOWN;
	if (rel < -gc)
		return FIELD_PRE_HEADER;
	if (rel < 0)
		return FIELD_GC_HEADER;
	if (rel < 8)
		return FIELD_REFCNT;
	if (rel < 16)
		return FIELD_TYPE;
	return FIELD_PAYLOAD;
}

static void set_object(struct py_decoded *out, uint64_t obj, uint64_t tp,
		       const struct py_type_info *ti)
{
	out->object = obj;
	out->type_ptr = tp;
	memcpy(out->type, ti->name, sizeof(out->type));
	out->type[sizeof(out->type) - 1] = '\0';
}

/* ---- pymalloc --------------------------------------------------------------------------- */

struct pool {
	uint64_t addr;
	uint32_t count;	     /* ref.count: blocks allocated */
	uint64_t freeblock;  /* head of the pool's free list, NULL when full */
	uint32_t size;	     /* block size */
	uint32_t nextoffset; /* first never-used block */
};

/*
 * struct pool_header (64-bit): ref.count u32 at 0 (in a union with a pointer), freeblock 8,
 * nextpool 16, prevpool 24, arenaindex u32 32, szidx u32 36, nextoffset u32 40,
 * maxnextoffset u32 44. What pymalloc guarantees of a pool in use or cached as empty
 * (init_pool, pymalloc_pool_extend, pymalloc_free in every version 3.8-3.14):
 *  - szidx < SMALL_REQUEST_THRESHOLD / ALIGNMENT, block size (szidx + 1) * ALIGNMENT;
 *  - maxnextoffset == POOL_SIZE - size (set with szidx, never changed);
 *  - nextoffset starts at POOL_OVERHEAD + 2 * size (block 0 handed out, block 1 on the free
 *    list) and grows by size while it is <= maxnextoffset: a block boundary, <= POOL_SIZE;
 *  - freeblock is NULL or a block below nextoffset;
 *  - count <= the blocks carved so far.
 * Verified on every pool of live pyenv 3.8-3.13 and Debian 3.11 interpreters.
 */
static bool pool_parse(const struct py_layout *L, const uint8_t *b, uint64_t addr, struct pool *p)
{
	uint32_t szidx, maxnext;

	memcpy(&p->count, b + 0, 4);
	memcpy(&p->freeblock, b + 8, 8);
	memcpy(&szidx, b + COW_POOL_SZIDX, 4);
	memcpy(&p->nextoffset, b + 40, 4);
	memcpy(&maxnext, b + COW_POOL_MAXNEXT, 4);
	p->addr = addr;
	if (szidx >= L->small_max / L->alignment)
		return false;
	p->size = (szidx + 1) * L->alignment;
	if (maxnext != L->pool_size - p->size)
		return false;
	if (p->nextoffset < L->pool_header + 2 * p->size || p->nextoffset > L->pool_size ||
	    (p->nextoffset - L->pool_header) % p->size)
		return false;
	if (p->count > (p->nextoffset - L->pool_header) / p->size)
		return false;
	if (p->freeblock &&
	    (p->freeblock < addr + L->pool_header || p->freeblock >= addr + p->nextoffset ||
	     (p->freeblock - addr - L->pool_header) % p->size))
		return false;
	return true;
}

/* v is a link of the pool's free list: another block of the same pool, carved already */
static bool free_link(const struct py_layout *L, const struct pool *p, uint64_t block, uint64_t v)
{
	return v != block && v >= p->addr + L->pool_header && v < p->addr + p->nextoffset &&
	       (v - p->addr - L->pool_header) % p->size == 0;
}

struct cand {
	uint64_t obj, tp;
	struct py_type_info ti;
	bool dead;
	enum cow_field field; /* for window candidates */
};

/*
 * The object in a block, if exactly one start is consistent. A start o (0, 16 or 32 bytes in)
 * qualifies when the pointer at o + 8 is a type, the type's flags put exactly o bytes of GC
 * head and pre-header before its objects (_PyType_PreHeaderSize), the object fits in the
 * block, a GC head looks like one, and the reference count is that of a live object or a dead
 * one:
 *  - 0: the object died (its last DECREF), and the block is on a type's free list (dict, list,
 *    tuple keep whole objects in 3.8-3.13) or back in pymalloc: pymalloc_free writes its link
 *    over the first 8 bytes only, i.e. over the GC head of a GC object, whose stale ob_refcnt
 *    0 stays;
 *  - for a plain object at the block start, a link to another block of the pool: that is
 *    pymalloc's free-list link over ob_refcnt (the block start is never a pointer otherwise:
 *    live counts are far below heap addresses, or checked against types).
 * Floats on 3.8-3.13's free list link through ob_type and 3.14's free lists through
 * ob_refcnt to anywhere: those stay unknown.
 */
static int block_candidates(const struct dctx *c, const struct pool *p, uint64_t block,
			    struct cand *k)
{
	const struct py_layout *L = c->L;
	unsigned int o, most = L->gc_head + L->preheader;
	int n = 0;

	for (o = 0; o <= most && o + PY_OBJECT_HEAD <= p->size; o += 16) {
		uint64_t obj = block + o, rc, tp, next;
		struct cand x = {.obj = obj};

		if (!snap_u64(&c->snap, obj, &rc) || !snap_u64(&c->snap, obj + 8, &tp))
			continue;
		if (!type_of(c, tp, &x.ti) || py_preheader_size(L, x.ti.flags) != o)
			continue;
		/* an instance of a metatype is a type object: hundreds of bytes, never here */
		if (o + min_size(L, &x.ti) > p->size)
			continue;
		if ((x.ti.flags & PY_TPFLAGS_HAVE_GC) &&
		    snap_u64(&c->snap, obj - L->gc_head, &next) && !gc_next_ok(next))
			continue;
		if (py_refcnt_live(L, rc)) {
			if (refcnt_is_type(c, rc))
				continue;
		} else if (rc == 0 || (o == 0 && free_link(L, p, block, rc))) {
			x.dead = true;
		} else {
			continue;
		}
		x.tp = tp;
		if (n < 3)
			k[n] = x;
		n++;
	}
	return n;
}

/*
 * Returns true when the write is an allocation placing a new object into this shared page: the
 * caller makes the cause alloc_into_shared whatever the field.
 */
static bool decode_pool(const struct dctx *c, const struct pool *p, struct py_decoded *out)
{
	const struct py_layout *L = c->L;
	uint64_t addr = c->e->addr, off = addr - p->addr, boff, block, link;
	struct cand k[3];
	int n;

	/* ref.count and the free-list head change on every allocation and free in the pool */
	if (off < L->pool_header) {
		out->field = FIELD_POOL_HEADER;
		/*
		 * pymalloc_free writes the freed block (its free-list link) before the header, so
		 * on the header's page a first write to the count, free-list head or pool links
		 * (offsets 0-31) comes from pymalloc_alloc: ++ref.count and the head it pops, or
		 * linking an emptied pool back into usedpools (the compiler orders these stores
		 * as it likes; 3.8 writes prevpool first). When the free-list head, the block it
		 * hands out, is on this page, the page was copied to put a new object into it:
		 * always so for 3.8/3.9's one-page pools, which is the page of the new object.
		 */
		return off < 32 && p->freeblock &&
		       (p->freeblock >> PAGE_SHIFT) == (addr >> PAGE_SHIFT);
	}
	boff = L->pool_header + (off - L->pool_header) / p->size * p->size;
	if (boff + p->size > L->pool_size)
		return false; /* the unused tail after the last block: nobody writes there */
	/*
	 * Never handed out since the pool was set up for this size class: the first write is
	 * pymalloc carving it (its free-list link) or the new object. An empty pool (count 0,
	 * cached on its arena's free list) has no live block at all, whatever was in it.
	 */
	if (boff >= p->nextoffset || p->count == 0) {
		out->field = FIELD_FREE_BLOCK;
		return false;
	}
	block = p->addr + boff;
	/*
	 * pymalloc_alloc pops a block by pool->freeblock = *(block **)bp, before the new object
	 * is written: a block whose free-list link equals the pool's head was just handed out,
	 * and this is the new object's first write. The link is read where the block starts,
	 * which may be the page before (16 KiB pools): no ob_refcnt is needed for this answer.
	 */
	if (p->freeblock && snap_u64(&c->snap, block, &link) && link == p->freeblock) {
		out->field = FIELD_FREE_BLOCK;
		return false;
	}
	n = block_candidates(c, p, block, k);
	if (n != 1)
		return false;
	if (k[0].dead) {
		/*
		 * A dead object in a page that was shared: it died before the fork, or the DECREF
		 * that killed it would have written its ob_refcnt, copying this page then, and the
		 * deallocation's writes would not fault any more. So this write puts a new object
		 * into a block the parent had freed: the fragmentation gc.freeze() warns about.
		 * Unless the block straddles pages (16 KiB pools) and ob_refcnt is on another page:
		 * then this can as well be the deallocation of an object that just died here.
		 */
		if ((addr >> PAGE_SHIFT) != (k[0].obj >> PAGE_SHIFT))
			return false;
		out->field = FIELD_FREE_BLOCK;
		return false;
	}
	out->field = field_in_object(L, k[0].ti.flags, k[0].obj, addr);
	set_object(out, k[0].obj, k[0].tp, &k[0].ti);
	return false;
}

/* ---- outside pymalloc ------------------------------------------------------------------- */

/*
 * Headers a write at A8 = addr & ~7 can belong to, all readable in the window
 * [A8 - 32, A8 + 48): ob_refcnt (object at A8), ob_type (A8 - 8), _gc_next (object at
 * A8 + 16), _gc_prev (A8 + 8). Pre-header writes (ob_type at A8 + 40 or beyond, in 3.11+
 * objects bigger than a pool's blocks) are not looked for: those stay unknown.
 */
static const struct {
	int delta;
	enum cow_field field;
} window_cands[] = {
    {0, FIELD_REFCNT},
    {-8, FIELD_TYPE},
    {16, FIELD_GC_HEADER},
    {8, FIELD_GC_HEADER},
};

static bool window_candidate(const struct dctx *c, enum cow_region region, uint64_t obj,
			     enum cow_field field, struct cand *x)
{
	const struct py_layout *L = c->L;
	bool is_gc, is_type;
	uint64_t rc, tp, next;

	if (!snap_u64(&c->snap, obj, &rc) || !snap_u64(&c->snap, obj + 8, &tp))
		return false;
	if (!type_of(c, tp, &x->ti) || !py_refcnt_live(L, rc) || refcnt_is_type(c, rc))
		return false;
	is_gc = x->ti.flags & PY_TPFLAGS_HAVE_GC;
	is_type = x->ti.flags & PY_TPFLAGS_TYPE_SUBCLASS;
	if (field == FIELD_GC_HEADER) {
		struct py_type_info self;

		if (!is_gc || !snap_u64(&c->snap, obj - L->gc_head, &next) || !gc_next_ok(next))
			return false;
		/* type objects are GC objects only when heap types (type_is_gc()) */
		if (is_type && (!type_of(c, obj, &self) || !(self.flags & PY_TPFLAGS_HEAPTYPE)))
			return false;
	} else if (is_gc && !is_type && region != REGION_INTERP_DATA) {
		/*
		 * Allocated GC objects have a PyGC_Head; only static objects (in the interpreter's
		 * data, or static type objects, whose type says GC but tp_is_gc says no) do not.
		 */
		if (snap_u64(&c->snap, obj - L->gc_head, &next) && !gc_next_ok(next))
			return false;
	}
	x->obj = obj;
	x->tp = tp;
	x->field = field;
	return true;
}

static void decode_window(const struct dctx *c, enum cow_region region, struct py_decoded *out)
{
	uint64_t a8 = c->e->addr & ~7ULL;
	struct cand k[1], x;
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(window_cands) / sizeof(window_cands[0]); i++) {
		if (!window_candidate(c, region, a8 + (uint64_t)(int64_t)window_cands[i].delta,
				      window_cands[i].field, &x))
			continue;
		if (n++ == 0)
			k[0] = x;
	}
	if (n != 1)
		return;
	out->field = k[0].field;
	set_object(out, k[0].obj, k[0].tp, &k[0].ti);
}

/* ---- the verdict ------------------------------------------------------------------------ */

static bool region_is_native(enum cow_region r)
{
	return r == REGION_MALLOC || r == REGION_STACK || r == REGION_OTHER ||
	       r == REGION_INTERP_DATA;
}

/*
 * A collection writes GC headers (update_refs, moving between lists), reference counts
 * (finalizers, tp_clear) and frees objects: whatever it wrote is its doing. Outside one the
 * field says it; what is not a Python object is native where the mapping is not pymalloc's.
 */
static enum cow_cause cause_of(const struct py_decoded *d, bool gc)
{
	if (gc)
		return CAUSE_GC;
	switch (d->field) {
	case FIELD_REFCNT:
		return CAUSE_REFCOUNT;
	case FIELD_GC_HEADER:
		return CAUSE_GC_LIST;
	case FIELD_PRE_HEADER:
	case FIELD_TYPE:
	case FIELD_PAYLOAD:
		return CAUSE_MUTATION;
	case FIELD_POOL_HEADER:
		return CAUSE_ALLOCATOR;
	case FIELD_FREE_BLOCK:
		return CAUSE_ALLOC_INTO_SHARED;
	default:
		return region_is_native(d->region) ? CAUSE_NATIVE : CAUSE_UNKNOWN;
	}
}

void py_decode(const struct py_layout *L, const struct cow_copy_event *e,
	       enum cow_region map_region, py_type_lookup_fn lookup, void *ctx,
	       struct py_decoded *out)
{
	struct dctx c = {.L = L, .e = e, .lookup = lookup, .lctx = ctx};
	bool in_pool = false, may_pool, allocation = false;
	struct pool p;
	uint64_t addr;

	memset(out, 0, sizeof(*out));
	out->region = (unsigned int)map_region < REGION_COUNT ? map_region : REGION_UNKNOWN;
	out->field = FIELD_UNKNOWN;
	/*
	 * Arenas are anonymous mmaps (or malloc'd, without mmap): never the interpreter's data
	 * or a stack, where a pool-looking header would be a coincidence. And pymalloc is what a
	 * pool header says, never what the caller guessed.
	 */
	may_pool = out->region == REGION_MALLOC || out->region == REGION_OTHER ||
		   out->region == REGION_UNKNOWN || out->region == REGION_PYMALLOC;
	if (out->region == REGION_PYMALLOC)
		out->region = REGION_UNKNOWN;
	if (!e || !L || e->type != EV_COPY || !L->pool_size ||
	    (L->pool_size & (L->pool_size - 1)) || !L->alignment) {
		/* not a Python process (or nothing to decode): memory is named by mapping only;
		 * a copy BPF saw inside a collection is gc whatever it was (counted so, exactly) */
		if (e && e->type == EV_COPY && e->gc_state != GC_STATE_NONE)
			out->cause = CAUSE_GC;
		else
			out->cause = region_is_native(out->region) ? CAUSE_NATIVE : CAUSE_UNKNOWN;
		return;
	}
	addr = e->addr;

	/* each half of the window was read only when it lies in the faulting page */
	if (py_user_ptr(addr) && e->cap.window_addr == (addr & ~7ULL) - COW_WINDOW_BEFORE) {
		unsigned int half = e->cap.have & COW_HAVE_WINDOW;

		if (half == COW_HAVE_WINDOW)
			snap_add(&c.snap, e->cap.window_addr, e->cap.window, COW_WINDOW);
		else if (half == COW_HAVE_WINDOW_LO)
			snap_add(&c.snap, e->cap.window_addr, e->cap.window, COW_WINDOW_BEFORE);
		else if (half == COW_HAVE_WINDOW_HI)
			snap_add(&c.snap, e->cap.window_addr + COW_WINDOW_BEFORE,
				 e->cap.window + COW_WINDOW_BEFORE, COW_WINDOW - COW_WINDOW_BEFORE);
	}

	if (py_user_ptr(addr) && may_pool && (e->cap.have & COW_HAVE_POOL) &&
	    e->cap.pool_addr == (addr & ~(uint64_t)(L->pool_size - 1)) &&
	    pool_parse(L, e->cap.pool, e->cap.pool_addr, &p)) {
		uint64_t off = addr - p.addr;

		in_pool = true;
		out->region = REGION_PYMALLOC;
		snap_add(&c.snap, p.addr, e->cap.pool, COW_POOL_HEAD);
		/* BPF's block must be the one this header gives, else its bytes are not used */
		if ((e->cap.have & COW_HAVE_BLOCK) && off >= L->pool_header &&
		    e->cap.block_addr ==
			p.addr + L->pool_header + (off - L->pool_header) / p.size * p.size)
			snap_add(&c.snap, e->cap.block_addr, e->cap.block, COW_BLOCK_HEAD);
	}

	if (in_pool)
		allocation = decode_pool(&c, &p, out);
	else if (py_user_ptr(addr) && out->region != REGION_STACK)
		decode_window(&c, out->region, out);
	out->cause = cause_of(out, e->gc_state != GC_STATE_NONE);
	if (allocation && out->cause == CAUSE_ALLOCATOR)
		out->cause = CAUSE_ALLOC_INTO_SHARED;
}
