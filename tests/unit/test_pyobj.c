// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests for the copy-on-write decoder (user/python/pyobj.c), the per-version layouts
 * (user/python/pylayout.c) and the type validator (user/python/pytypes.c).
 *
 * Each supported version gets a synthetic address space laid out like Debian's python3.11 (a
 * non-PIE executable: static objects and types near 0x900000, the [heap] near 0x1e000000,
 * pymalloc arenas near 0x7f0000000000), with type objects, pools and objects built from that
 * version's layout. Events are captured from it the way the BPF side does (window, pool header,
 * block head), then decoded. Expected answers are written by hand from the layout, never taken
 * from the decoder. Hostile images (garbage pool headers, wild type pointers, loops, names that
 * do not end) and a fuzz loop must come out unknown without crashing. One test reads real
 * interpreters' memory (root only; skipped visibly otherwise).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "procfs.h"
#include "pylayout.h"
#include "pyobj.h"
#include "attrib.h"
#include "pytypes.h"

/* ---- a fake address space --------------------------------------------------------------- */

#define MAX_REGIONS 32

struct region {
	uint64_t addr;
	size_t len;
	uint8_t *buf;
};

struct fake {
	struct region r[MAX_REGIONS];
	int n;
	unsigned long reads;
};

static uint8_t *fk_map(struct fake *f, uint64_t addr, size_t len)
{
	int i;

	for (i = 0; i < f->n; i++)
		assert_true(addr + len <= f->r[i].addr || addr >= f->r[i].addr + f->r[i].len);
	assert_true(f->n < MAX_REGIONS);
	f->r[f->n].addr = addr;
	f->r[f->n].len = len;
	f->r[f->n].buf = calloc(1, len);
	assert_non_null(f->r[f->n].buf);
	return f->r[f->n++].buf;
}

static void fk_free(struct fake *f)
{
	int i;

	for (i = 0; i < f->n; i++)
		free(f->r[i].buf);
	f->n = 0;
}

/* the bytes at [addr, addr + len) if one region holds them all */
static uint8_t *fk_at(struct fake *f, uint64_t addr, size_t len)
{
	int i;

	for (i = 0; i < f->n; i++) {
		struct region *r = &f->r[i];

		if (addr >= r->addr && addr - r->addr <= r->len && len <= r->len - (addr - r->addr))
			return r->buf + (addr - r->addr);
	}
	return NULL;
}

static void fk_put64(struct fake *f, uint64_t addr, uint64_t v)
{
	uint8_t *p = fk_at(f, addr, 8);

	assert_non_null(p);
	memcpy(p, &v, 8);
}

static void fk_put32(struct fake *f, uint64_t addr, uint32_t v)
{
	uint8_t *p = fk_at(f, addr, 4);

	assert_non_null(p);
	memcpy(p, &v, 4);
}

static void fk_putb(struct fake *f, uint64_t addr, const void *s, size_t len)
{
	uint8_t *p = fk_at(f, addr, len);

	assert_non_null(p);
	memcpy(p, s, len);
}

static int fk_read(void *ctx, unsigned long long addr, void *buf, size_t len)
{
	struct fake *f = ctx;
	uint8_t *p = fk_at(f, addr, len);

	f->reads++;
	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

/* ---- one interpreter's world ------------------------------------------------------------ */

#define NAMES	 0x00600000ULL /* .rodata: tp_name strings */
#define TYPES	 0x00900000ULL /* .data: static type objects */
#define STATICS	 0x00950000ULL /* .data: None, the GC list heads */
#define HEAP	 0x1e000000ULL /* [heap]: heap types, big objects */
#define ARENA	 0x7f0000000000ULL
#define STACK	 0x7ffff0000000ULL
#define UNMAPPED 0x7e0000000000ULL

struct world {
	const struct py_layout *L;
	struct fake mem;
	struct mem_reader reader;
	struct py_type_cache *cache;
	struct py_type_lookup_ctx lctx;
	uint64_t names_used;
	uint64_t t_type, t_float, t_dict, t_str, t_tuple, t_none, t_int, t_list;
	uint64_t t_meta, t_point, t_abstract, t_metameta, t_weird;
	uint64_t none, gc_list_head;
	char ver[8];
};

static const int versions[] = {8, 9, 10, 11, 12, 13, 14};
#define NVERSIONS (int)(sizeof(versions) / sizeof(versions[0]))

static uint64_t name_at(struct world *w, const char *s)
{
	uint64_t a = NAMES + w->names_used;

	fk_putb(&w->mem, a, s, strlen(s) + 1);
	w->names_used += (strlen(s) + 16) & ~7ULL;
	return a;
}

/* the reference count of static objects: mortal before 3.12, immortal after (PEP 683) */
static uint64_t static_refcnt(const struct py_layout *L)
{
	if (L->minor >= 14)
		return 0xC0000000ULL | (5ULL << 48); /* _Py_STATIC_IMMORTAL_INITIAL_REFCNT */
	if (L->minor >= 12)
		return 0xFFFFFFFFULL; /* _Py_IMMORTAL_REFCNT */
	return 4321;
}

#define F_BASE	(1UL << 10) /* Py_TPFLAGS_BASETYPE */
#define F_READY PY_TPFLAGS_READY

static uint64_t mk_type(struct world *w, uint64_t at, uint64_t refcnt, uint64_t metatype,
			const char *name, unsigned long flags, unsigned long basicsize)
{
	fk_put64(&w->mem, at + 0, refcnt);
	fk_put64(&w->mem, at + 8, metatype ? metatype : at);
	fk_put64(&w->mem, at + 16, 0);
	fk_put64(&w->mem, at + 24, name_at(w, name));
	fk_put64(&w->mem, at + 32, basicsize);
	fk_put64(&w->mem, at + 168, flags | F_READY);
	return at;
}

static unsigned long heap_class_flags(const struct py_layout *L)
{
	return PY_TPFLAGS_HEAPTYPE | F_BASE | PY_TPFLAGS_HAVE_GC | L->preheader_flags;
}

/* tp_basicsize of "class Point: pass" instances: dict and weakref slots until they moved out */
static unsigned long point_basicsize(const struct py_layout *L)
{
	return L->minor <= 10 ? 32 : L->minor == 11 ? 24 : 16;
}

static int world_setup(void **state)
{
	int minor = *(const int *)*state;
	struct world *w = calloc(1, sizeof(*w));
	const struct py_layout *L = py_layout_for(3, minor);
	unsigned long tflags = PY_TPFLAGS_TYPE_SUBCLASS | PY_TPFLAGS_HAVE_GC | F_BASE;

	if (!w || !L)
		return -1;
	w->L = L;
	snprintf(w->ver, sizeof(w->ver), "3.%d", minor);
	fk_map(&w->mem, NAMES, 0x1000);
	fk_map(&w->mem, TYPES, 0x10000);
	fk_map(&w->mem, STATICS, 0x1000);
	fk_map(&w->mem, HEAP, 0x100000);
	fk_map(&w->mem, ARENA, 0x100000);
	fk_map(&w->mem, STACK, 0x10000);

	/* static types: refcounts as the version keeps them */
	w->t_type = mk_type(w, TYPES + 0x0000, static_refcnt(L), 0, "type", tflags, 904);
	w->t_float = mk_type(w, TYPES + 0x0400, static_refcnt(L), w->t_type, "float", F_BASE, 24);
	w->t_dict = mk_type(w, TYPES + 0x0800, static_refcnt(L), w->t_type, "dict",
			    F_BASE | PY_TPFLAGS_HAVE_GC, 48);
	w->t_str = mk_type(w, TYPES + 0x0c00, static_refcnt(L), w->t_type, "str",
			   F_BASE | PY_TPFLAGS_UNICODE_SUBCLASS, L->minor >= 12 ? 64 : 80);
	w->t_tuple = mk_type(w, TYPES + 0x1000, static_refcnt(L), w->t_type, "tuple",
			     F_BASE | PY_TPFLAGS_HAVE_GC, 24);
	w->t_none = mk_type(w, TYPES + 0x1400, static_refcnt(L), w->t_type, "NoneType", 0, 16);
	w->t_int = mk_type(w, TYPES + 0x1800, static_refcnt(L), w->t_type, "int", F_BASE, 24);
	w->t_list = mk_type(w, TYPES + 0x1c00, static_refcnt(L), w->t_type, "list",
			    F_BASE | PY_TPFLAGS_HAVE_GC, 40);

	/* heap types, each after its PyGC_Head; mortal */
	w->t_meta =
	    mk_type(w, HEAP + 0x1010, 7, w->t_type, "ABCMeta", tflags | PY_TPFLAGS_HEAPTYPE, 904);
	w->t_point = mk_type(w, HEAP + 0x2010, 9, w->t_type, "Point", heap_class_flags(L),
			     point_basicsize(L));
	w->t_abstract = mk_type(w, HEAP + 0x3010, 4, w->t_meta, "Abstract", heap_class_flags(L),
				point_basicsize(L));
	/* a metatype whose type is a metatype, and a class of it: one step too many */
	w->t_metameta =
	    mk_type(w, HEAP + 0x4010, 3, w->t_meta, "MetaMeta", tflags | PY_TPFLAGS_HEAPTYPE, 904);
	w->t_weird = mk_type(w, HEAP + 0x5010, 3, w->t_metameta, "Weird", heap_class_flags(L),
			     point_basicsize(L));
	fk_put64(&w->mem, HEAP + 0x1000, HEAP + 0x2000); /* GC heads of the heap types */
	fk_put64(&w->mem, HEAP + 0x2000, HEAP + 0x3000);
	fk_put64(&w->mem, HEAP + 0x3000, STATICS + 0x200);

	w->gc_list_head = STATICS + 0x200;
	w->none = STATICS + 0x100;
	fk_put64(&w->mem, w->none, static_refcnt(L));
	fk_put64(&w->mem, w->none + 8, w->t_none);

	w->reader = (struct mem_reader){.read = fk_read, .ctx = &w->mem};
	w->cache = py_type_cache_new(L);
	if (!w->cache)
		return -1;
	w->lctx = (struct py_type_lookup_ctx){.cache = w->cache, .reader = &w->reader};
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;

	py_type_cache_free(w->cache);
	fk_free(&w->mem);
	free(w);
	return 0;
}

/* ---- events, captured the way the BPF side does ----------------------------------------- */

static void capture(const struct py_layout *L, const struct mem_reader *r, uint64_t addr,
		    uint8_t gc_state, struct cow_copy_event *e)
{
	memset(e, 0, sizeof(*e));
	e->type = EV_COPY;
	e->kind = COW_ANON;
	e->addr = addr;
	e->gc_state = gc_state;
	e->cap.window_addr = (addr & ~7ULL) - COW_WINDOW_BEFORE;
	if (!r->read(r->ctx, e->cap.window_addr, e->cap.window, COW_WINDOW))
		e->cap.have |= COW_HAVE_WINDOW;
	if (!L)
		return;
	e->cap.pool_addr = addr & ~(uint64_t)(L->pool_size - 1);
	if (!r->read(r->ctx, e->cap.pool_addr, e->cap.pool, COW_POOL_HEAD)) {
		uint32_t szidx, size;
		uint64_t off = addr - e->cap.pool_addr;

		memcpy(&szidx, e->cap.pool + 36, 4);
		/* BPF only checks what it needs to find the block */
		if (szidx >= 32)
			return;
		e->cap.have |= COW_HAVE_POOL;
		size = (szidx + 1) * 16;
		if (off < 48)
			return;
		e->cap.block_addr = e->cap.pool_addr + 48 + (off - 48) / size * size;
		if (!r->read(r->ctx, e->cap.block_addr, e->cap.block, COW_BLOCK_HEAD))
			e->cap.have |= COW_HAVE_BLOCK;
	}
}

static void decode_ev(struct world *w, const struct cow_copy_event *e, enum cow_region region,
		      struct py_decoded *d)
{
	py_decode(w->L, e, region, py_type_lookup_cb, &w->lctx, d);
}

static void decode(struct world *w, uint64_t addr, uint8_t gc, enum cow_region region,
		   struct py_decoded *d)
{
	struct cow_copy_event e;

	capture(w->L, &w->reader, addr, gc, &e);
	decode_ev(w, &e, region, d);
}

static void check_at(const char *ver, int line, const struct py_decoded *d, enum cow_region region,
		     enum cow_field field, enum cow_cause cause, uint64_t obj, const char *type)
{
	if (d->region == region && d->field == field && d->cause == cause && d->object == obj &&
	    !strcmp(d->type, type) && (obj != 0) == (d->type_ptr != 0))
		return;
	fail_msg("%s line %d: got %s/%s/%s object %#llx type '%s' (type_ptr %#llx); "
		 "want %s/%s/%s object %#llx type '%s'",
		 ver, line, cow_region_name(d->region), cow_field_name(d->field),
		 cow_cause_name(d->cause), d->object, d->type, d->type_ptr, cow_region_name(region),
		 cow_field_name(field), cow_cause_name(cause), (unsigned long long)obj, type);
}

#define CHECK(d, region, field, cause, obj, type)                                                  \
	check_at(w->ver, __LINE__, (d), (region), (field), (cause), (obj), (type))

/* ---- pools ------------------------------------------------------------------------------ */

static uint64_t pool_at(const struct world *w, int i)
{
	return ARENA + (uint64_t)i * w->L->pool_size;
}

static uint64_t blk(uint64_t pool, unsigned int size, unsigned int k)
{
	return pool + 48 + (uint64_t)k * size;
}

/* a pool header as init_pool() and later allocations leave it */
static void mk_pool(struct world *w, uint64_t pool, unsigned int szidx, unsigned int carved,
		    unsigned int count, uint64_t freeblock)
{
	unsigned int size = (szidx + 1) * 16;

	fk_put32(&w->mem, pool + 0, count);
	fk_put64(&w->mem, pool + 8, freeblock);
	fk_put64(&w->mem, pool + 16, pool); /* nextpool, prevpool: the usedpools list */
	fk_put64(&w->mem, pool + 24, pool);
	fk_put32(&w->mem, pool + 32, 0);
	fk_put32(&w->mem, pool + 36, szidx);
	fk_put32(&w->mem, pool + 40, 48 + carved * size);
	fk_put32(&w->mem, pool + 44, w->L->pool_size - size);
}

/* an object header at obj */
static void mk_obj(struct world *w, uint64_t obj, uint64_t refcnt, uint64_t type)
{
	fk_put64(&w->mem, obj, refcnt);
	fk_put64(&w->mem, obj + 8, type);
}

/* a PyGC_Head before obj */
static void mk_gc(struct world *w, uint64_t obj, uint64_t next, uint64_t prev)
{
	fk_put64(&w->mem, obj - 16, next);
	fk_put64(&w->mem, obj - 8, prev);
}

/* float in a 32-byte pool: a plain object at the block start */
static void test_pool_plain(void **state)
{
	struct world *w = *state;
	uint64_t pool = pool_at(w, 0), f = blk(pool, 32, 0);
	struct py_decoded d;

	mk_pool(w, pool, 1, 10, 9, 0);
	mk_obj(w, f, 3, w->t_float);
	fk_put64(&w->mem, f + 16, 0x3ff8000000000000ULL); /* 1.5 */

	decode(w, f, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, f, "float");
	assert_int_equal(d.type_ptr, w->t_float);
	decode(w, f + 4, 0, REGION_OTHER, &d); /* 3.12+ INCREF writes the low half only */
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, f, "float");
	decode(w, f + 8, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_TYPE, CAUSE_MUTATION, f, "float");
	decode(w, f + 16, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_MUTATION, f, "float");
	decode(w, f + 31, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_MUTATION, f, "float");
	/* during a collection, whatever the field */
	decode(w, f, 1, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_GC, f, "float");
	decode(w, f + 16, 3, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_GC, f, "float");
	/* arenas are never in the interpreter's data or on a stack: not decoded as pools */
	decode(w, f + 16, 0, REGION_INTERP_DATA, &d);
	assert_int_equal(d.region, REGION_INTERP_DATA);
	assert_int_equal(d.field, FIELD_UNKNOWN);
	decode(w, f, 0, REGION_STACK, &d);
	CHECK(&d, REGION_STACK, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
}

/* dict in a 64-byte pool: PyGC_Head, then the object */
static void test_pool_gc(void **state)
{
	struct world *w = *state;
	uint64_t pool = pool_at(w, 1), b = blk(pool, 64, 1), o = b + 16;
	struct py_decoded d;

	mk_pool(w, pool, 3, 8, 6, 0);
	mk_gc(w, o, blk(pool, 64, 2) | 0, w->gc_list_head);
	mk_obj(w, o, 1, w->t_dict);
	fk_put64(&w->mem, o + 16, 3); /* ma_used */

	decode(w, b, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_GC_HEADER, CAUSE_GC_LIST, o, "dict");
	decode(w, b + 8, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_GC_HEADER, CAUSE_GC_LIST, o, "dict");
	decode(w, b + 8, 1, REGION_OTHER, &d); /* update_refs() writes _gc_prev */
	CHECK(&d, REGION_PYMALLOC, FIELD_GC_HEADER, CAUSE_GC, o, "dict");
	decode(w, o, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, o, "dict");
	decode(w, o + 12, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_TYPE, CAUSE_MUTATION, o, "dict");
	decode(w, o + 40, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_MUTATION, o, "dict");

	/* during a collection _gc_next carries NEXT_MASK_UNREACHABLE (1; 2 in 3.14) */
	mk_gc(w, o, blk(pool, 64, 2) | (w->L->minor >= 14 ? 2 : 1), (5 << 2) | 2);
	decode(w, b, 2, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_GC_HEADER, CAUSE_GC, o, "dict");
	/* an untracked dict: _gc_next 0 */
	mk_gc(w, o, 0, 0);
	decode(w, o, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, o, "dict");
	/* a GC head that is not one (the low bits of a pointer set beyond the flags) */
	mk_gc(w, o, blk(pool, 64, 2) | 4, 0);
	decode(w, o, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
}

/* instances of a class: pre-header (3.11+), PyGC_Head, object */
static void test_pool_preheader(void **state)
{
	struct world *w = *state;
	const struct py_layout *L = w->L;
	uint64_t pool = pool_at(w, 2), b = blk(pool, 64, 0), pre = L->preheader;
	uint64_t o = b + pre + 16, a = blk(pool, 64, 1) + pre + 16;
	uint64_t x = blk(pool, 64, 2) + pre + 16;
	struct py_decoded d;

	mk_pool(w, pool, 3, 4, 3, 0);
	if (pre) {
		fk_put64(&w->mem, b, 0);		 /* 3.11: values / 3.12+: weakref list */
		fk_put64(&w->mem, b + 8, HEAP + 0x8000); /* the instance dict */
	}
	mk_gc(w, o, 0, 0);
	mk_obj(w, o, 2, w->t_point);
	mk_gc(w, a, 0, 0);
	mk_obj(w, a, 1, w->t_abstract);
	mk_gc(w, x, 0, 0);
	mk_obj(w, x, 1, w->t_weird);

	if (pre) {
		decode(w, b, 0, REGION_OTHER, &d);
		CHECK(&d, REGION_PYMALLOC, FIELD_PRE_HEADER, CAUSE_MUTATION, o, "Point");
		decode(w, b + 8, 0, REGION_OTHER, &d);
		CHECK(&d, REGION_PYMALLOC, FIELD_PRE_HEADER, CAUSE_MUTATION, o, "Point");
		decode(w, b + 8, 1, REGION_OTHER, &d);
		CHECK(&d, REGION_PYMALLOC, FIELD_PRE_HEADER, CAUSE_GC, o, "Point");
	}
	decode(w, o - 16, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_GC_HEADER, CAUSE_GC_LIST, o, "Point");
	decode(w, o, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, o, "Point");
	decode(w, o + 16, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_MUTATION, o, "Point");
	/* a class made by a metaclass (ABCMeta) */
	decode(w, a, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, a, "Abstract");
	/* a class made by a metaclass made by a metaclass: not recognised */
	decode(w, x, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");

	/*
	 * The type's flags must put the object exactly there: the same class without the
	 * pre-header flags (3.11+) or without HAVE_GC does not fit this block's layout.
	 */
	fk_put64(&w->mem, w->t_point + 168, F_READY | PY_TPFLAGS_HEAPTYPE | PY_TPFLAGS_HAVE_GC);
	py_type_cache_clear(w->cache);
	decode(w, o, 0, REGION_OTHER, &d);
	if (pre)
		CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	else
		CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, o, "Point");
	fk_put64(&w->mem, w->t_point + 168, F_READY | PY_TPFLAGS_HEAPTYPE);
	py_type_cache_clear(w->cache);
	decode(w, o, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* bits 3 and 4 mean nothing before 3.11 (and only bit 4 in 3.11) */
	fk_put64(&w->mem, w->t_point + 168,
		 F_READY | heap_class_flags(L) | PY_TPFLAGS_MANAGED_DICT |
		     PY_TPFLAGS_MANAGED_WEAKREF);
	py_type_cache_clear(w->cache);
	decode(w, o, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, o, "Point");
}

/* str objects are smaller than str's tp_basicsize; immortal ones (3.12+) are live */
static void test_pool_str(void **state)
{
	struct world *w = *state;
	uint64_t pool = pool_at(w, 3), s = blk(pool, 64, 0), t = blk(pool, 64, 1);
	uint64_t u = blk(pool, 64, 2);
	struct py_decoded d;

	mk_pool(w, pool, 3, 5, 5, 0);
	mk_obj(w, s, 1, w->t_str);
	fk_put64(&w->mem, s + 16, 5); /* length */
	mk_obj(w, t, static_refcnt(w->L), w->t_str);
	fk_put64(&w->mem, t + 16, 3);

	decode(w, s, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, s, "str");
	decode(w, s + 40, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_MUTATION, s, "str");
	decode(w, t + 16, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_MUTATION, t, "str");

	/*
	 * A str in a 16-byte block is impossible (PyASCIIObject alone is 40 or 48 bytes): a
	 * block that smaller than that holds something else.
	 */
	mk_pool(w, pool_at(w, 7), 0, 6, 6, 0);
	mk_obj(w, blk(pool_at(w, 7), 16, 1), 1, w->t_str);
	decode(w, blk(pool_at(w, 7), 16, 1), 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");

	/* an instance of a metatype (a type object) is hundreds of bytes: never in a pool */
	mk_obj(w, u, 1, w->t_type);
	decode(w, u, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
}

static void test_pool_header(void **state)
{
	struct world *w = *state;
	uint64_t pool = pool_at(w, 0);
	struct py_decoded d;
	unsigned int off;

	mk_pool(w, pool, 1, 10, 9, 0);
	for (off = 0; off < 48; off += 4) {
		decode(w, pool + off, 0, REGION_OTHER, &d);
		CHECK(&d, REGION_PYMALLOC, FIELD_POOL_HEADER, CAUSE_ALLOCATOR, 0, "");
	}
	decode(w, pool + 8, 1, REGION_MALLOC, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_POOL_HEADER, CAUSE_GC, 0, "");

	/* ++ref.count is an allocation's first write: with the free-list head (the block about
	 * to be handed out) on this page, the page was copied for a new object */
	mk_pool(w, pool, 1, 10, 5, blk(pool, 32, 3));
	decode(w, pool, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_POOL_HEADER, CAUSE_ALLOC_INTO_SHARED, 0, "");
	/* the head on another page of a 16 KiB pool: the allocator's own write */
	if (w->L->pool_size > 4096) {
		mk_pool(w, pool, 1, 300, 5, blk(pool, 32, 200));
		decode(w, pool, 0, REGION_OTHER, &d);
		CHECK(&d, REGION_PYMALLOC, FIELD_POOL_HEADER, CAUSE_ALLOCATOR, 0, "");
	}
	/* so is the link of an emptied pool going back into usedpools (prevpool, at 24) */
	mk_pool(w, pool, 1, 10, 5, blk(pool, 32, 3));
	decode(w, pool + 24, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_POOL_HEADER, CAUSE_ALLOC_INTO_SHARED, 0, "");
	/* a full pool (no free block) hands nothing out: its header is the allocator's */
	mk_pool(w, pool, 1, 10, 10, 0);
	decode(w, pool + 24, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_POOL_HEADER, CAUSE_ALLOCATOR, 0, "");
	/* arenaindex, szidx and the offsets (32-47) are not written by an allocation */
	mk_pool(w, pool, 1, 10, 5, blk(pool, 32, 3));
	decode(w, pool + 40, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_POOL_HEADER, CAUSE_ALLOCATOR, 0, "");
}

/* a block just popped off the free list: its link is the pool's new head */
static void test_pool_popped_block(void **state)
{
	struct world *w = *state;
	uint64_t pool = pool_at(w, 2), b = blk(pool, 64, 5), next = blk(pool, 64, 9);
	struct py_decoded d;

	mk_pool(w, pool, 3, 12, 6, next);
	fk_put64(&w->mem, b, next);	   /* the link pymalloc_alloc just followed */
	fk_put64(&w->mem, b + 8, w->t_str); /* stale type of the object that lived there */
	decode(w, b + 16, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_ALLOC_INTO_SHARED, 0, "");
	/* a link elsewhere is not this evidence */
	fk_put64(&w->mem, b, blk(pool, 64, 2));
	fk_put64(&w->mem, b + 8, 0);
	decode(w, b + 16, 0, REGION_OTHER, &d);
	assert_int_not_equal(d.cause, CAUSE_ALLOC_INTO_SHARED);
}

/* blocks that hold no live object: alloc_into_shared */
static void test_pool_free_blocks(void **state)
{
	struct world *w = *state;
	uint64_t fp = pool_at(w, 0), dp = pool_at(w, 1), ep = pool_at(w, 4);
	uint64_t f7 = blk(fp, 32, 7), f8 = blk(fp, 32, 8), f5 = blk(fp, 32, 5);
	uint64_t d3 = blk(dp, 64, 3);
	struct py_decoded d;

	/* floats: blocks 7 and 8 freed (free list 7 -> 8 -> NULL), 0..9 carved */
	mk_pool(w, fp, 1, 10, 8, f7);
	mk_obj(w, f7, f8, w->t_float); /* pymalloc's link over ob_refcnt */
	mk_obj(w, f8, 0, w->t_float);  /* the last link: NULL */
	decode(w, f7 + 16, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_ALLOC_INTO_SHARED, 0, "");
	decode(w, f8, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_ALLOC_INTO_SHARED, 0, "");
	decode(w, f8 + 8, 2, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_GC, 0, "");
	/* a "link" to another pool is not pymalloc's (3.14's float free list): unknown */
	mk_obj(w, f5, blk(dp, 64, 0) + 16, w->t_float);
	decode(w, f5, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* never handed out: at and beyond nextoffset */
	decode(w, blk(fp, 32, 10), 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_ALLOC_INTO_SHARED, 0, "");
	decode(w, blk(fp, 32, 40) + 17, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_ALLOC_INTO_SHARED, 0, "");
	/* the tail after the last whole block: nobody's */
	decode(w, fp + w->L->pool_size - 1, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	mk_pool(w, fp, 1, (w->L->pool_size - 48) / 32, 8, f7);
	decode(w, fp + w->L->pool_size - 1, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");

	/* a dead dict: pymalloc's link over _gc_next, the stale ob_refcnt 0 */
	mk_pool(w, dp, 3, 8, 6, d3);
	mk_gc(w, d3 + 16, 0, 0);
	mk_obj(w, d3 + 16, 0, w->t_dict);
	decode(w, d3 + 40, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_ALLOC_INTO_SHARED, 0, "");
	fk_put64(&w->mem, d3, blk(dp, 64, 5));
	decode(w, d3, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_ALLOC_INTO_SHARED, 0, "");

	/* an empty pool, cached for reuse: every block is free, whatever it holds */
	mk_pool(w, ep, 3, 8, 0, blk(ep, 64, 0));
	mk_gc(w, blk(ep, 64, 2) + 16, 0, 0);
	mk_obj(w, blk(ep, 64, 2) + 16, 1, w->t_dict);
	decode(w, blk(ep, 64, 2) + 16, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_ALLOC_INTO_SHARED, 0, "");
}

/* a block that straddles pages (16 KiB pools): a dead object's other page is ambiguous */
static void test_pool_cross_page(void **state)
{
	struct world *w = *state;
	uint64_t pool = pool_at(w, 5), b = blk(pool, 512, 7), o = b + 16;
	struct py_decoded d;

	/* 3.8/3.9 pools are one page: no block straddles pages, nothing to decode differently
	 * (not a skip: nothing is missing on the machine) */
	if (w->L->pool_size == 4096)
		return;
	/* blocks of 512 bytes: block 7 is at 3632..4144, across the first page boundary */
	mk_pool(w, pool, 31, 10, 9, 0);
	mk_gc(w, o, 0, 0);
	mk_obj(w, o, 0, w->t_tuple);
	decode(w, o + 100, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_FREE_BLOCK, CAUSE_ALLOC_INTO_SHARED, 0, "");
	decode(w, pool + 4096 + 8, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* live: fine on either page */
	mk_obj(w, o, 2, w->t_tuple);
	decode(w, pool + 4096 + 8, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_MUTATION, o, "tuple");
}

/* blocks that are not one object, or could be two */
static void test_pool_not_objects(void **state)
{
	struct world *w = *state;
	uint64_t pool = pool_at(w, 3), b2 = blk(pool, 64, 2), b3 = blk(pool, 64, 3);
	uint64_t b4 = blk(pool, 64, 4);
	struct py_decoded d;

	mk_pool(w, pool, 3, 6, 5, 0);
	/* a float at the start, and a dict 16 bytes in, both consistent: ambiguous */
	mk_obj(w, b2, HEAP + 0x800, w->t_float);
	mk_obj(w, b2 + 16, 1, w->t_dict);
	decode(w, b2 + 20, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* a list's items [int, float]: the "reference count" is a type's address */
	mk_obj(w, b3, w->t_int, w->t_float);
	decode(w, b3, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* random bytes */
	fk_putb(&w->mem, b4, "\x13\x37\xc0\xde\x01\x02\x03\x04\xff\xfe\xfd\xfc\x00\x00\x00\x01",
		16);
	decode(w, b4 + 3, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* without a type lookup nothing is named, but pool facts still hold */
	{
		struct cow_copy_event e;

		capture(w->L, &w->reader, b4, 0, &e);
		py_decode(w->L, &e, REGION_OTHER, NULL, NULL, &d);
		CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
		capture(w->L, &w->reader, pool + 8, 0, &e);
		py_decode(w->L, &e, REGION_OTHER, NULL, NULL, &d);
		CHECK(&d, REGION_PYMALLOC, FIELD_POOL_HEADER, CAUSE_ALLOCATOR, 0, "");
	}
}

/* ---- outside pymalloc ------------------------------------------------------------------- */

static void test_malloc_objects(void **state)
{
	struct world *w = *state;
	uint64_t tup = HEAP + 0x10010, str = HEAP + 0x20010, junk = HEAP + 0x30000;
	struct py_decoded d;
	unsigned int i;

	/* tuple(range(100)): 24 + 800 bytes after its PyGC_Head, in malloc */
	fk_put64(&w->mem, tup - 24, 0x351); /* malloc's chunk size */
	mk_gc(w, tup, HEAP + 0x2000, w->gc_list_head);
	mk_obj(w, tup, 1, w->t_tuple);
	fk_put64(&w->mem, tup + 16, 100);
	for (i = 0; i < 100; i++)
		fk_put64(&w->mem, tup + 24 + 8 * i, ARENA + 0x10000 + 32 * i);
	decode(w, tup, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, tup, "tuple");
	decode(w, tup + 3, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, tup, "tuple");
	decode(w, tup + 8, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_TYPE, CAUSE_MUTATION, tup, "tuple");
	decode(w, tup - 16, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_GC_HEADER, CAUSE_GC_LIST, tup, "tuple");
	decode(w, tup - 8, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_GC_HEADER, CAUSE_GC_LIST, tup, "tuple");
	decode(w, tup - 8, 1, REGION_OTHER, &d);
	CHECK(&d, REGION_OTHER, FIELD_GC_HEADER, CAUSE_GC, tup, "tuple");
	/* its items: not an object header in sight */
	decode(w, tup + 24 + 8 * 50, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
	decode(w, tup + 24 + 8 * 50, 1, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_UNKNOWN, CAUSE_GC, 0, "");

	/* a 1000-character str: not a GC object */
	mk_obj(w, str, 1, w->t_str);
	fk_put64(&w->mem, str + 16, 1000);
	fk_put64(&w->mem, str + 24, 0x1234567890abcdefULL);
	decode(w, str + 2, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, str, "str");
	/* a GC header write would need HAVE_GC: the str is not taken for one */
	decode(w, str - 16, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");

	/* a GC type's object without a sane PyGC_Head is not an allocated GC object */
	mk_gc(w, tup, 0x1234567, w->gc_list_head);
	decode(w, tup, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
	mk_gc(w, tup, HEAP + 0x2000, w->gc_list_head);

	/* random payload */
	srand(1);
	for (i = 0; i < 0x1000; i++) {
		uint8_t x = rand();

		fk_putb(&w->mem, junk + i, &x, 1);
	}
	for (i = 64; i < 0x1000 - 64; i += 40) {
		decode(w, junk + i, 0, REGION_MALLOC, &d);
		CHECK(&d, REGION_MALLOC, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
		decode(w, junk + i, 0, REGION_OTHER, &d);
		CHECK(&d, REGION_OTHER, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
		decode(w, junk + i, 0, REGION_UNKNOWN, &d);
		CHECK(&d, REGION_UNKNOWN, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	}

	/* a heap type (a class object): its refcount, its GC head */
	decode(w, w->t_point, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, w->t_point, "type");
	decode(w, w->t_point - 16, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_GC_HEADER, CAUSE_GC_LIST, w->t_point, "type");
	decode(w, w->t_abstract, 0, REGION_MALLOC, &d);
	CHECK(&d, REGION_MALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, w->t_abstract, "ABCMeta");
}

static void test_static_objects(void **state)
{
	struct world *w = *state;
	struct py_decoded d;

	/* None, before 3.12 a real reference count in the interpreter's .data */
	decode(w, w->none, 0, REGION_INTERP_DATA, &d);
	CHECK(&d, REGION_INTERP_DATA, FIELD_REFCNT, CAUSE_REFCOUNT, w->none, "NoneType");
	/* a static type object: an instance of type, without a PyGC_Head */
	decode(w, w->t_dict, 0, REGION_INTERP_DATA, &d);
	CHECK(&d, REGION_INTERP_DATA, FIELD_REFCNT, CAUSE_REFCOUNT, w->t_dict, "type");
	decode(w, w->t_dict - 16, 0, REGION_INTERP_DATA, &d);
	CHECK(&d, REGION_INTERP_DATA, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
	/* interpreter state that is no object (the GC list head) */
	decode(w, w->gc_list_head, 0, REGION_INTERP_DATA, &d);
	CHECK(&d, REGION_INTERP_DATA, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
	decode(w, w->gc_list_head, 1, REGION_INTERP_DATA, &d);
	CHECK(&d, REGION_INTERP_DATA, FIELD_UNKNOWN, CAUSE_GC, 0, "");

	/* the same bytes on a stack are not an object */
	mk_obj(w, STACK + 0x100, 3, w->t_float);
	decode(w, STACK + 0x100, 0, REGION_STACK, &d);
	CHECK(&d, REGION_STACK, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
	decode(w, STACK + 0x100, 0, REGION_OTHER, &d);
	CHECK(&d, REGION_OTHER, FIELD_REFCNT, CAUSE_REFCOUNT, STACK + 0x100, "float");
	/* a caller's region out of range is unknown */
	decode(w, STACK + 0x100, 0, (enum cow_region)42, &d);
	CHECK(&d, REGION_UNKNOWN, FIELD_REFCNT, CAUSE_REFCOUNT, STACK + 0x100, "float");
}

/* L NULL: not CPython; everything by region */
static void test_not_python(void **state)
{
	struct world *w = *state;
	struct cow_copy_event e;
	struct py_decoded d;
	enum cow_region r;

	capture(w->L, &w->reader, w->none, 0, &e);
	for (r = 0; r < REGION_COUNT; r++) {
		py_decode(NULL, &e, r, py_type_lookup_cb, &w->lctx, &d);
		CHECK(&d, r == REGION_PYMALLOC ? REGION_UNKNOWN : r, FIELD_UNKNOWN,
		      r == REGION_UNKNOWN || r == REGION_PYMALLOC ? CAUSE_UNKNOWN : CAUSE_NATIVE, 0,
		      "");
	}
	/* a copy inside a collection is gc even with nothing to decode: BPF counted it so */
	e.gc_state = 1;
	py_decode(NULL, &e, REGION_MALLOC, py_type_lookup_cb, &w->lctx, &d);
	CHECK(&d, REGION_MALLOC, FIELD_UNKNOWN, CAUSE_GC, 0, "");
	/* nothing to decode */
	py_decode(w->L, NULL, REGION_MALLOC, py_type_lookup_cb, &w->lctx, &d);
	CHECK(&d, REGION_MALLOC, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
	e.type = EV_COPY_FILE;
	py_decode(w->L, &e, REGION_INTERP_DATA, py_type_lookup_cb, &w->lctx, &d);
	CHECK(&d, REGION_INTERP_DATA, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
	/* addresses that are no user addresses */
	capture(w->L, &w->reader, 8, 0, &e);
	py_decode(w->L, &e, REGION_UNKNOWN, py_type_lookup_cb, &w->lctx, &d);
	CHECK(&d, REGION_UNKNOWN, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	capture(w->L, &w->reader, 0xffff800000001000ULL, 0, &e);
	py_decode(w->L, &e, REGION_OTHER, py_type_lookup_cb, &w->lctx, &d);
	CHECK(&d, REGION_OTHER, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
}

/* ---- hostile images --------------------------------------------------------------------- */

static void put_pool32(struct cow_copy_event *e, unsigned int off, uint32_t v)
{
	memcpy(e->cap.pool + off, &v, 4);
}

static void put_pool64(struct cow_copy_event *e, unsigned int off, uint64_t v)
{
	memcpy(e->cap.pool + off, &v, 8);
}

/* Garbage pool headers: not a pool, whatever the block says. */
static void test_hostile_pool_headers(void **state)
{
	struct world *w = *state;
	uint64_t pool = pool_at(w, 1), b = blk(pool, 64, 1), o = b + 16;
	unsigned int ps = w->L->pool_size;
	struct cow_copy_event good, e;
	struct py_decoded d;
	int i;

	mk_pool(w, pool, 3, 8, 6, blk(pool, 64, 5));
	mk_gc(w, o, 0, 0);
	mk_obj(w, o, 1, w->t_dict);
	fk_put64(&w->mem, o + 40, 0xdeadbeef);
	/* a write deep in the payload: only the block head can tell whose it is */
	capture(w->L, &w->reader, o + 40, 0, &good);
	decode_ev(w, &good, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_MUTATION, o, "dict");

	for (i = 0; i < 14; i++) {
		e = good;
		switch (i) {
		case 0: /* szidx out of range */
			put_pool32(&e, 36, 32);
			break;
		case 1:
			put_pool32(&e, 36, 0xffff); /* DUMMY_SIZE_IDX */
			break;
		case 2: /* maxnextoffset of another size */
			put_pool32(&e, 44, ps - 48);
			break;
		case 3: /* nextoffset not on a block boundary */
			put_pool32(&e, 40, 48 + 8 * 64 + 16);
			break;
		case 4: /* nextoffset beyond the pool */
			put_pool32(&e, 40, ps + 64);
			break;
		case 5: /* nextoffset before init_pool's first value */
			put_pool32(&e, 40, 48 + 64);
			break;
		case 6: /* more blocks allocated than carved */
			put_pool32(&e, 0, 9);
			break;
		case 7: /* free list head outside the pool */
			put_pool64(&e, 8, pool + ps + 48);
			break;
		case 8: /* free list head not a block */
			put_pool64(&e, 8, blk(pool, 64, 5) + 8);
			break;
		case 9: /* free list head never carved */
			put_pool64(&e, 8, blk(pool, 64, 8));
			break;
		case 10: /* the pool of another address */
			e.cap.pool_addr += ps;
			break;
		case 11: /* all zero */
			memset(e.cap.pool, 0, sizeof(e.cap.pool));
			break;
		case 12: /* all ones */
			memset(e.cap.pool, 0xff, sizeof(e.cap.pool));
			break;
		case 13: /* not captured */
			e.cap.have &= ~COW_HAVE_POOL;
			break;
		}
		decode_ev(w, &e, REGION_OTHER, &d);
		if (d.region != REGION_OTHER || d.field != FIELD_UNKNOWN ||
		    d.cause != CAUSE_NATIVE || d.object || d.type[0])
			fail_msg("%s case %d: %s/%s/%s '%s'", w->ver, i, cow_region_name(d.region),
				 cow_field_name(d.field), cow_cause_name(d.cause), d.type);
	}
}

/* BPF's block must be the block the header gives; otherwise its bytes are not used */
static void test_hostile_block_addr(void **state)
{
	struct world *w = *state;
	uint64_t pool = pool_at(w, 5), b = blk(pool, 512, 0), o = b + 16;
	struct cow_copy_event good, e;
	struct py_decoded d;

	mk_pool(w, pool, 31, 3, 3, 0);
	mk_gc(w, o, 0, 0);
	mk_obj(w, o, 2, w->t_tuple);
	capture(w->L, &w->reader, o + 300, 0, &good);
	decode_ev(w, &good, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_PAYLOAD, CAUSE_MUTATION, o, "tuple");

	/* the right bytes at the wrong address */
	e = good;
	e.cap.block_addr += 512;
	decode_ev(w, &e, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* a float's header planted in the block buffer, at a wrong address */
	e = good;
	e.cap.block_addr = b + 16;
	memset(e.cap.block, 0, sizeof(e.cap.block));
	memcpy(e.cap.block + 0, &(uint64_t){1}, 8);
	memcpy(e.cap.block + 8, &w->t_float, 8);
	decode_ev(w, &e, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* not captured */
	e = good;
	e.cap.have &= ~COW_HAVE_BLOCK;
	decode_ev(w, &e, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* a window at the wrong address is not used either */
	e = good;
	e.addr = o + 4;
	e.cap.window_addr = o - 32 + 8;
	e.cap.have &= ~COW_HAVE_BLOCK;
	memset(e.cap.window, 0, sizeof(e.cap.window));
	memcpy(e.cap.window + 24, &(uint64_t){1}, 8);
	memcpy(e.cap.window + 32, &w->t_float, 8);
	decode_ev(w, &e, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
	/* without the block, the window still holds this header */
	e = good;
	e.cap.have &= ~COW_HAVE_BLOCK;
	capture(w->L, &w->reader, o + 4, 0, &e);
	e.cap.have &= ~COW_HAVE_BLOCK;
	decode_ev(w, &e, REGION_OTHER, &d);
	CHECK(&d, REGION_PYMALLOC, FIELD_REFCNT, CAUSE_REFCOUNT, o, "tuple");
}

/* hostile type objects, looked up directly and as an object's ob_type */
static void test_hostile_types(void **state)
{
	struct world *w = *state;
	const unsigned long tflags = PY_TPFLAGS_TYPE_SUBCLASS | PY_TPFLAGS_HAVE_GC;
	uint64_t bad = HEAP + 0x40000, tail, pool = pool_at(w, 6);
	struct py_type_info ti;
	char name[80];
	unsigned int k;
	struct {
		uint64_t ptr;
		const char *what;
	} cases[32];
	int n = 0, i;

	fk_map(&w->mem, UNMAPPED - 0x2000, 0x1000); /* a region that ends before UNMAPPED */
	/* 0: a self-typed object that is not named "type" */
	mk_type(w, bad + 0x000, 5, 0, "notype", tflags, 904);
	cases[n].ptr = bad + 0x000, cases[n++].what = "self-typed, not named type";
	/* 1: self-typed, named "type", but not TYPE_SUBCLASS */
	mk_type(w, bad + 0x400, 5, 0, "type", PY_TPFLAGS_HAVE_GC, 904);
	cases[n].ptr = bad + 0x400, cases[n++].what = "self-typed type without TYPE_SUBCLASS";
	/* 2, 3: A -> B -> A */
	mk_type(w, bad + 0x800, 5, bad + 0xc00, "A", tflags, 904);
	mk_type(w, bad + 0xc00, 5, bad + 0x800, "B", tflags, 904);
	cases[n].ptr = bad + 0x800, cases[n++].what = "loop A->B->A";
	cases[n].ptr = bad + 0xc00, cases[n++].what = "loop B->A->B";
	/* 4: an instance of a type that is not a metatype */
	mk_type(w, bad + 0x1000, 5, w->t_float, "Floaty", 0, 24);
	cases[n].ptr = bad + 0x1000, cases[n++].what = "type of type is float";
	/* 5: name not NUL-terminated within 64 bytes */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	mk_type(w, bad + 0x1400, 5, w->t_type, name, 0, 24);
	cases[n].ptr = bad + 0x1400, cases[n++].what = "name of 79 bytes";
	/* 6-9: names that are not names */
	mk_type(w, bad + 0x1800, 5, w->t_type, "bad\x01name", 0, 24);
	cases[n].ptr = bad + 0x1800, cases[n++].what = "control character";
	mk_type(w, bad + 0x1c00, 5, w->t_type, "two words", 0, 24);
	cases[n].ptr = bad + 0x1c00, cases[n++].what = "space";
	mk_type(w, bad + 0x2000, 5, w->t_type, "", 0, 24);
	cases[n].ptr = bad + 0x2000, cases[n++].what = "empty name";
	mk_type(w, bad + 0x2400, 5, w->t_type, "caf\xc3\xa9", 0, 24);
	cases[n].ptr = bad + 0x2400, cases[n++].what = "non-ASCII name";
	/* 10: tp_name unreadable */
	mk_type(w, bad + 0x2800, 5, w->t_type, "x", 0, 24);
	fk_put64(&w->mem, bad + 0x2800 + 24, UNMAPPED + 0x100);
	cases[n].ptr = bad + 0x2800, cases[n++].what = "name unreadable";
	/* 11: name running into unmapped memory without its NUL */
	mk_type(w, bad + 0x2c00, 5, w->t_type, "x", 0, 24);
	tail = UNMAPPED - 0x1000 - 4;
	fk_putb(&w->mem, tail, "abcd", 4);
	fk_put64(&w->mem, bad + 0x2c00 + 24, tail);
	cases[n].ptr = bad + 0x2c00, cases[n++].what = "name cut by the end of the mapping";
	/* 12: a dead type (reference count 0) */
	mk_type(w, bad + 0x3000, 0, w->t_type, "Dead", 0, 24);
	cases[n].ptr = bad + 0x3000, cases[n++].what = "refcount 0";
	/* 13, 14: tp_basicsize 0 and huge */
	mk_type(w, bad + 0x3400, 5, w->t_type, "Zero", 0, 0);
	cases[n].ptr = bad + 0x3400, cases[n++].what = "basicsize 0";
	mk_type(w, bad + 0x3800, 5, w->t_type, "Huge", 0, 1UL << 40);
	cases[n].ptr = bad + 0x3800, cases[n++].what = "basicsize 2^40";
	/* 15: a type object cut short by the end of its mapping (tp_flags beyond it) */
	fk_put64(&w->mem, UNMAPPED - 0x1000 - 0x80, 5);
	fk_put64(&w->mem, UNMAPPED - 0x1000 - 0x80 + 8, w->t_type);
	fk_put64(&w->mem, UNMAPPED - 0x1000 - 0x80 + 24, name_at(w, "Cut"));
	fk_put64(&w->mem, UNMAPPED - 0x1000 - 0x80 + 32, 24);
	cases[n].ptr = UNMAPPED - 0x1000 - 0x80, cases[n++].what = "header cut";
	/* 16: ob_type a wild pointer */
	mk_type(w, bad + 0x3c00, 5, UNMAPPED + 0x400, "Wild", 0, 24);
	cases[n].ptr = bad + 0x3c00, cases[n++].what = "ob_type unmapped";
	/* 17: ob_type unaligned */
	mk_type(w, bad + 0x4000, 5, w->t_type + 1, "Unaligned", 0, 24);
	cases[n].ptr = bad + 0x4000, cases[n++].what = "ob_type unaligned";
	/* 18: a metatype whose type is a metatype */
	cases[n].ptr = w->t_weird, cases[n++].what = "meta-metaclass";
	/* 19: a metatype without TYPE_SUBCLASS */
	mk_type(w, bad + 0x4400, 5, w->t_type, "FakeMeta", PY_TPFLAGS_HAVE_GC, 904);
	mk_type(w, bad + 0x4800, 5, bad + 0x4400, "OfFakeMeta", 0, 24);
	cases[n].ptr = bad + 0x4800, cases[n++].what = "metatype without TYPE_SUBCLASS";
	/* 20-24: pointers that are not pointers */
	cases[n].ptr = 0, cases[n++].what = "NULL";
	cases[n].ptr = 8, cases[n++].what = "first page";
	cases[n].ptr = w->t_float + 1, cases[n++].what = "unaligned";
	cases[n].ptr = w->t_float + 4, cases[n++].what = "4-aligned";
	cases[n].ptr = UNMAPPED, cases[n++].what = "unmapped";
	cases[n].ptr = 1ULL << 47, cases[n++].what = "beyond user space";
	cases[n].ptr = 0xffffffffffff0000ULL, cases[n++].what = "kernel address";
	/* 27: the middle of a real type object */
	cases[n].ptr = w->t_float + 8, cases[n++].what = "inside a type";

	for (i = 0; i < n; i++) {
		uint64_t b = blk(pool, 32, i);
		struct py_decoded d;

		ti.valid = true;
		if (py_type_lookup(w->cache, &w->reader, cases[i].ptr, &ti) || ti.valid)
			fail_msg("%s: %s (%#llx) taken for a type", w->ver, cases[i].what,
				 (unsigned long long)cases[i].ptr);
		/* a second time: from the cache */
		if (py_type_lookup(w->cache, &w->reader, cases[i].ptr, &ti))
			fail_msg("%s: %s (cached) taken for a type", w->ver, cases[i].what);
		/* as the type of an object in a pool and in malloc */
		mk_pool(w, pool, 1, 40, 40, 0);
		mk_obj(w, b, 1, cases[i].ptr);
		decode(w, b, 0, REGION_OTHER, &d);
		CHECK(&d, REGION_PYMALLOC, FIELD_UNKNOWN, CAUSE_UNKNOWN, 0, "");
		mk_obj(w, HEAP + 0x50000, 1, cases[i].ptr);
		decode(w, HEAP + 0x50000, 0, REGION_MALLOC, &d);
		CHECK(&d, REGION_MALLOC, FIELD_UNKNOWN, CAUSE_NATIVE, 0, "");
	}

	/* what does pass: a 63-character name; a short name at the very end of a mapping */
	memset(name, 'y', 63);
	name[63] = '\0';
	mk_type(w, bad + 0x5000, 5, w->t_type, name, 0, 24);
	assert_true(py_type_lookup(w->cache, &w->reader, bad + 0x5000, &ti));
	assert_true(ti.valid);
	assert_string_equal(ti.name, name);
	mk_type(w, bad + 0x5400, 5, w->t_type, "x", 0, 24);
	fk_putb(&w->mem, UNMAPPED - 0x1000 - 6, "Tail_", 6);
	fk_put64(&w->mem, bad + 0x5400 + 24, UNMAPPED - 0x1000 - 6);
	assert_true(py_type_lookup(w->cache, &w->reader, bad + 0x5400, &ti));
	assert_string_equal(ti.name, "Tail_");
	/* names with dots, dashes and angle brackets */
	mk_type(w, bad + 0x5800, 5, w->t_type, "method-wrapper", 0, 32);
	assert_true(py_type_lookup(w->cache, &w->reader, bad + 0x5800, &ti));
	assert_string_equal(ti.name, "method-wrapper");
	mk_type(w, bad + 0x5c00, 5, w->t_type, "_io.TextIOWrapper", 0, 32);
	assert_true(py_type_lookup(w->cache, &w->reader, bad + 0x5c00, &ti));
	assert_string_equal(ti.name, "_io.TextIOWrapper");

	/* and the real ones */
	assert_true(py_type_lookup(w->cache, &w->reader, w->t_type, &ti));
	assert_string_equal(ti.name, "type");
	assert_true(ti.flags & PY_TPFLAGS_TYPE_SUBCLASS);
	assert_true(py_type_lookup(w->cache, &w->reader, w->t_meta, &ti));
	assert_string_equal(ti.name, "ABCMeta");
	assert_true(py_type_lookup(w->cache, &w->reader, w->t_abstract, &ti));
	assert_string_equal(ti.name, "Abstract");
	assert_int_equal(ti.basicsize, point_basicsize(w->L));
	assert_true(py_type_lookup(w->cache, &w->reader, w->t_metameta, &ti));
	assert_string_equal(ti.name, "MetaMeta");
	for (k = 0; k < 3; k++) {
		assert_true(py_type_lookup(w->cache, &w->reader, w->t_dict, &ti));
		assert_string_equal(ti.name, "dict");
		assert_int_equal(ti.basicsize, 48);
		assert_true(ti.flags & PY_TPFLAGS_HAVE_GC);
	}
	/* a lookup without cache or reader */
	assert_false(py_type_lookup(NULL, &w->reader, w->t_dict, &ti));
	assert_false(ti.valid);
	assert_false(py_type_lookup_cb(w->t_dict, &ti, NULL));
	{
		struct py_type_cache *c = py_type_cache_new(w->L);

		assert_non_null(c);
		assert_false(py_type_lookup(c, NULL, w->t_dict, &ti));
		py_type_cache_free(c);
	}
	assert_null(py_type_cache_new(NULL));
	py_type_cache_free(NULL);
	py_type_cache_clear(NULL);
}

/* the cache: answers once, bounded, "no" looked at again after a while */
static void test_type_cache(void **state)
{
	struct world *w = *state;
	uint64_t junk = ARENA + 0x80000, x = HEAP + 0x60000;
	unsigned long long hits, misses, h2, m2;
	struct py_type_info ti;
	unsigned long reads;
	unsigned int i;

	py_type_cache_clear(w->cache);
	assert_true(py_type_lookup(w->cache, &w->reader, w->t_abstract, &ti));
	reads = w->mem.reads;
	py_type_cache_stats(w->cache, &hits, &misses);
	for (i = 0; i < 100; i++)
		assert_true(py_type_lookup(w->cache, &w->reader, w->t_abstract, &ti));
	assert_int_equal(w->mem.reads, reads);
	py_type_cache_stats(w->cache, &h2, &m2);
	assert_int_equal(m2, misses);
	assert_int_equal(h2, hits + 100);

	/* many more pointers than the cache holds: still right, and the cache does not grow */
	for (i = 0; i < 3; i++)
		fk_put64(&w->mem, junk + 8 * i, 0x0101010101010101ULL * i);
	for (i = 0; i < 20000; i++) {
		assert_false(py_type_lookup(w->cache, &w->reader, junk + 8 * (i % 8192), &ti));
		if (i % 997 == 0) {
			assert_true(py_type_lookup(w->cache, &w->reader, w->t_point, &ti));
			assert_string_equal(ti.name, "Point");
		}
	}
	assert_true(py_type_lookup(w->cache, &w->reader, w->t_float, &ti));
	assert_string_equal(ti.name, "float");

	/* a type created where a "no" was cached: seen once the "no" has aged */
	assert_false(py_type_lookup(w->cache, &w->reader, x, &ti));
	mk_type(w, x, 1, w->t_type, "Late", 0, 24);
	assert_false(py_type_lookup(w->cache, &w->reader, x, &ti));
	for (i = 0; i < 70000; i++)
		py_type_lookup(w->cache, &w->reader, w->t_float, &ti);
	assert_true(py_type_lookup(w->cache, &w->reader, x, &ti));
	assert_string_equal(ti.name, "Late");
	/*
	 * A static type looked up before PyType_Ready() set its READY flag (a copy decoded
	 * while the interpreter starts): "no" then, but not cached: seen as soon as it is ready.
	 */
	py_type_cache_clear(w->cache);
	fk_put64(&w->mem, w->t_int + w->L->tp_flags_off, F_BASE);
	assert_false(py_type_lookup(w->cache, &w->reader, w->t_int, &ti));
	assert_false(py_type_lookup(w->cache, &w->reader, w->t_int, &ti));
	fk_put64(&w->mem, w->t_int + w->L->tp_flags_off, F_BASE | F_READY);
	assert_true(py_type_lookup(w->cache, &w->reader, w->t_int, &ti));
	assert_string_equal(ti.name, "int");
	/* clear: read again */
	reads = w->mem.reads;
	py_type_cache_clear(w->cache);
	assert_true(py_type_lookup(w->cache, &w->reader, x, &ti));
	assert_true(w->mem.reads > reads);
}

/* ---- fuzz ------------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned int rndn(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

struct fuzz_lookup {
	struct world *w;
	bool deny; /* pretend nothing is a type (after really looking) */
};

static bool fuzz_lookup_cb(unsigned long long ptr, struct py_type_info *out, void *ctx)
{
	struct fuzz_lookup *f = ctx;
	bool ok = py_type_lookup_cb(ptr, out, &f->w->lctx);

	if (f->deny) {
		memset(out, 0, sizeof(*out));
		return false;
	}
	return ok;
}

/* does one of the event's own buffers (whatever their checks) hold v at addr? */
static bool ev_holds(const struct cow_copy_event *e, uint64_t addr, uint64_t v)
{
	const struct {
		uint64_t a;
		const uint8_t *p;
		size_t n;
	} b[] = {{e->cap.window_addr, e->cap.window, COW_WINDOW},
		 {e->cap.block_addr, e->cap.block, COW_BLOCK_HEAD},
		 {e->cap.pool_addr, e->cap.pool, COW_POOL_HEAD}};
	size_t i;

	for (i = 0; i < 3; i++)
		if (addr >= b[i].a && addr - b[i].a <= b[i].n && 8 <= b[i].n - (addr - b[i].a) &&
		    !memcmp(b[i].p + (addr - b[i].a), &v, 8))
			return true;
	return false;
}

static unsigned long accidental_types;

#define FZ_ARENA 0x7f1000000000ULL
#define FZ_HEAP	 0x1f000000ULL
#define FZ_TYPES 0x00a00000ULL

/*
 * What makes a type, read straight from the fake memory (no cache): the planted types, and
 * whatever the fuzz assembled by chance that passes every check just as well (a sane
 * reference count, PyType_Type or a metatype as its type, a name, a tp_basicsize).
 */
static bool oracle_type(struct world *w, uint64_t p, char *name, int depth)
{
	uint64_t refcnt, ob_type, name_ptr, bs, flags;
	uint8_t *h = fk_at(&w->mem, p, 176);
	char mname[64];
	size_t i;

	if (!h || (p & 7) || p < 4096)
		return false;
	memcpy(&refcnt, h, 8);
	memcpy(&ob_type, h + 8, 8);
	memcpy(&name_ptr, h + 24, 8);
	memcpy(&bs, h + 32, 8);
	memcpy(&flags, h + 168, 8);
	if (!py_refcnt_live(w->L, refcnt) || bs < 16 || bs > (1 << 20) || !(flags & F_READY))
		return false;
	for (i = 0; i < 64; i++) {
		uint8_t *c = fk_at(&w->mem, name_ptr + i, 1);

		if (!c)
			return false;
		name[i] = *c;
		if (!*c)
			break;
		if (!(isalnum(*c) || strchr("_.<>-", *c)))
			return false;
	}
	if (i == 0 || i == 64)
		return false;
	if (ob_type == p)
		return (flags & PY_TPFLAGS_TYPE_SUBCLASS) && !strcmp(name, "type");
	if (depth == 2 || !oracle_type(w, ob_type, mname, depth + 1))
		return false;
	h = fk_at(&w->mem, ob_type, 176);
	memcpy(&flags, h + 168, 8);
	memcpy(&refcnt, h + 8, 8);
	/* M: a metatype of type, or type itself */
	return (flags & PY_TPFLAGS_TYPE_SUBCLASS) && (depth == 0 || refcnt == ob_type);
}

static bool is_valid_type(struct world *w, uint64_t p, char *name)
{
	const struct {
		uint64_t p;
		const char *n;
	} v[] = {
	    {w->t_type, "type"},   {w->t_float, "float"},	{w->t_dict, "dict"},
	    {w->t_str, "str"},	   {w->t_tuple, "tuple"},	{w->t_none, "NoneType"},
	    {w->t_int, "int"},	   {w->t_list, "list"},		{w->t_meta, "ABCMeta"},
	    {w->t_point, "Point"}, {w->t_abstract, "Abstract"}, {w->t_metameta, "MetaMeta"},
	};
	bool ok = oracle_type(w, p, name, 0);
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i].p == p) {
			assert_true(ok);
			assert_string_equal(name, v[i].n);
			return true;
		}
	if (ok)
		accidental_types++;
	return ok;
}

static uint64_t fuzz_word(struct world *w, uint64_t here, unsigned int psize)
{
	static const uint64_t small[] = {0,
					 1,
					 2,
					 3,
					 100,
					 0xffffffffULL,
					 0xc0000000ULL,
					 0x0005c0000000ULL | (5ULL << 48),
					 0x80000000ULL};
	const uint64_t types[] = {w->t_type,  w->t_float, w->t_dict,	    w->t_str,
				  w->t_tuple, w->t_none,  w->t_int,	    w->t_list,
				  w->t_meta,  w->t_point, w->t_abstract,    w->t_metameta,
				  w->t_weird, FZ_TYPES,	  FZ_TYPES + 0x400, FZ_TYPES + 0x800};
	uint64_t pool = here & ~(uint64_t)(psize - 1);

	switch (rndn(10)) {
	case 0:
	case 1:
		return types[rndn(sizeof(types) / sizeof(types[0]))] +
		       (rndn(8) == 0 ? rndn(16) : 0);
	case 2:
		return small[rndn(sizeof(small) / sizeof(small[0]))];
	case 3: /* a block of the same pool */
		return pool + 48 + 16 * rndn(psize / 16 - 3);
	case 4: /* a heap or arena pointer, maybe with GC flag bits */
		return (rndn(2) ? FZ_HEAP + 8 * rndn(8192) : FZ_ARENA + 16 * rndn(16384)) | rndn(4);
	case 5:
		return rndn(1 << 20);
	default:
		return rnd();
	}
}

/* an ob_type for a planted object: mostly a real type */
static uint64_t fuzz_type(struct world *w, uint64_t here, unsigned int psize)
{
	const uint64_t types[] = {w->t_float, w->t_dict,     w->t_str,	w->t_tuple,
				  w->t_none,  w->t_int,	     w->t_list, w->t_point,
				  w->t_point, w->t_abstract, w->t_type, w->t_weird};

	if (rndn(10) < 7)
		return types[rndn(sizeof(types) / sizeof(types[0]))];
	return fuzz_word(w, here, psize);
}

static void fuzz_fill(struct world *w, uint64_t base, size_t len)
{
	uint64_t a;

	for (a = base; a < base + len; a += 8)
		fk_put64(&w->mem, a, fuzz_word(w, a, w->L->pool_size));
}

static void fuzz_pools(struct world *w)
{
	unsigned int ps = w->L->pool_size, i;

	for (i = 0; i < 4; i++) {
		uint64_t pool = FZ_ARENA + (uint64_t)i * ps;
		unsigned int szidx = rndn(32), size = (szidx + 1) * 16;
		unsigned int nblocks = (ps - 48) / size;
		unsigned int carved = 2 + rndn(nblocks - 1), count = rndn(carved + 1);
		uint64_t fb = rndn(3) ? blk(pool, size, rndn(carved)) : 0;

		if (rndn(10) == 0)
			continue; /* random bytes */
		mk_pool(w, pool, szidx, carved, count, fb);
		if (rndn(4) == 0) /* one field wrong */
			fk_put32(&w->mem, pool + 4 * rndn(12), (uint32_t)rnd());
		/* objects: headers of real types at consistent offsets, some dead */
		for (unsigned int k = 0; k < carved && k < 64; k++) {
			uint64_t b = blk(pool, size, k), tp = fuzz_type(w, b, ps), fl = 0, o;
			uint8_t *h = fk_at(&w->mem, tp, 176);

			if (rndn(2))
				continue;
			if (h)
				memcpy(&fl, h + 168, 8);
			/* mostly where the type's flags put it, with a GC head to match */
			o = b + (rndn(4) ? py_preheader_size(w->L, fl) : 16 * rndn(3));
			if (o + 16 > b + size)
				continue;
			mk_obj(w, o, rndn(4) ? 1 + rndn(5) : 0, tp);
			if (o >= b + 16 && rndn(2))
				fk_put64(&w->mem, o - 16,
					 rndn(2) ? 0 : blk(pool, size, rndn(carved)));
		}
	}
}

static void check_fuzz(struct world *w, const struct cow_copy_event *e, enum cow_region map,
		       const struct py_decoded *d, bool deny)
{
	bool objfield = d->field == FIELD_GC_HEADER || d->field == FIELD_PRE_HEADER ||
			d->field == FIELD_REFCNT || d->field == FIELD_TYPE ||
			d->field == FIELD_PAYLOAD;
	char name[64];

	assert_true((unsigned int)d->region < REGION_COUNT);
	assert_true((unsigned int)d->field < FIELD_COUNT);
	assert_true((unsigned int)d->cause < CAUSE_COUNT);
	assert_non_null(memchr(d->type, '\0', sizeof(d->type)));
	if (objfield) {
		if (deny)
			fail_msg("%s: field %s without any type", w->ver, cow_field_name(d->field));
		if (!is_valid_type(w, d->type_ptr, name))
			fail_msg("%s: type_ptr %#llx is no type", w->ver, d->type_ptr);
		assert_string_equal(d->type, name);
		assert_true(py_user_ptr(d->object));
		assert_true(ev_holds(e, d->object + 8, d->type_ptr));
		assert_true(e->addr - d->object + 32 < 1ULL << 20);
	} else {
		assert_int_equal(d->object, 0);
		assert_int_equal(d->type_ptr, 0);
		assert_string_equal(d->type, "");
	}
	if ((unsigned int)map >= REGION_COUNT)
		map = REGION_UNKNOWN;
	if (d->region == REGION_PYMALLOC) {
		if (!(e->cap.have & COW_HAVE_POOL))
			fail_msg("%s: pymalloc without a pool: addr %#llx have %d map %d field %s",
				 w->ver, e->addr, e->cap.have, map, cow_field_name(d->field));
		assert_true(map == REGION_MALLOC || map == REGION_OTHER || map == REGION_UNKNOWN ||
			    map == REGION_PYMALLOC);
	} else {
		assert_int_equal(d->region, map != REGION_PYMALLOC ? map : REGION_UNKNOWN);
		assert_true(d->field != FIELD_POOL_HEADER && d->field != FIELD_FREE_BLOCK);
	}
	if (d->field == FIELD_POOL_HEADER)
		assert_true(e->addr - e->cap.pool_addr < 48);
	if (e->gc_state)
		assert_int_equal(d->cause, CAUSE_GC);
	else if (d->field == FIELD_REFCNT)
		assert_int_equal(d->cause, CAUSE_REFCOUNT);
	else if (d->field == FIELD_GC_HEADER)
		assert_int_equal(d->cause, CAUSE_GC_LIST);
	else if (objfield)
		assert_int_equal(d->cause, CAUSE_MUTATION);
	else if (d->field == FIELD_FREE_BLOCK)
		assert_int_equal(d->cause, CAUSE_ALLOC_INTO_SHARED);
	else if (d->field == FIELD_POOL_HEADER) {
		/* a write to ref.count with the free-list head on the same page is an
		 * allocation into that page (pyobj.c, decode_pool) */
		uint64_t head;

		memcpy(&head, e->cap.pool + 8, 8);
		if (e->addr - e->cap.pool_addr < 32 && head && (head >> 12) == (e->addr >> 12))
			assert_int_equal(d->cause, CAUSE_ALLOC_INTO_SHARED);
		else
			assert_int_equal(d->cause, CAUSE_ALLOCATOR);
	} else
		assert_true(d->cause == CAUSE_NATIVE || d->cause == CAUSE_UNKNOWN);
	/* object fields within pools: at the offset the type's flags give */
	if (objfield && d->region == REGION_PYMALLOC) {
		struct py_type_info ti;
		uint32_t szidx, size;
		uint64_t off, b;

		memcpy(&szidx, e->cap.pool + 36, 4);
		size = (szidx + 1) * 16;
		off = e->addr - e->cap.pool_addr;
		b = e->cap.pool_addr + 48 + (off - 48) / size * size;
		assert_true(py_type_lookup(w->cache, &w->reader, d->type_ptr, &ti));
		assert_int_equal(d->object - b, py_preheader_size(w->L, ti.flags));
	}
}

static unsigned long fuzz_events(void)
{
	const char *s = getenv("COWTRACE_FUZZ_EVENTS");

	return s && *s ? strtoul(s, NULL, 10) : 20000;
}

/* COWTRACE_FUZZ_SEED=N for another run of the same fuzz (0: the fixed one) */
static uint64_t fuzz_seed(void)
{
	const char *s = getenv("COWTRACE_FUZZ_SEED");

	return s && *s ? strtoull(s, NULL, 0) : 0;
}

static void test_fuzz(void **state)
{
	struct world *w = *state;
	unsigned int ps = w->L->pool_size;
	struct fuzz_lookup fl = {.w = w};
	unsigned long i, n = fuzz_events(), named = 0, pym = 0, fields[FIELD_COUNT] = {0};

	rng_state = (fuzz_seed() ?: 0x9e3779b97f4a7c15ULL) ^ (uint64_t)w->L->minor;
	if (!rng_state) /* xorshift's one fixed point */
		rng_state = 1;
	accidental_types = 0;
	fk_map(&w->mem, FZ_ARENA, 4 * ps);
	fk_map(&w->mem, FZ_HEAP, 0x10000);
	fk_map(&w->mem, FZ_TYPES, 0x1000);
	/* types that are not: a self-loop, A <-> B, garbage */
	mk_type(w, FZ_TYPES, 1, 0, "self", PY_TPFLAGS_TYPE_SUBCLASS, 904);
	mk_type(w, FZ_TYPES + 0x400, 1, FZ_TYPES + 0x800, "A", PY_TPFLAGS_TYPE_SUBCLASS, 904);
	mk_type(w, FZ_TYPES + 0x800, 1, FZ_TYPES + 0x400, "B", PY_TPFLAGS_TYPE_SUBCLASS, 904);

	for (i = 0; i < n; i++) {
		struct cow_copy_event e;
		enum cow_region map;
		struct py_decoded d;
		uint64_t addr;

		if (i % 200 == 0) {
			/* new memory: what was cached of the old is stale */
			py_type_cache_clear(w->cache);
			fuzz_fill(w, FZ_ARENA, 4 * ps);
			fuzz_fill(w, FZ_HEAP, 0x10000);
			fuzz_pools(w);
		}
		switch (rndn(10)) {
		case 0:
		case 1:
			addr = FZ_HEAP + rndn(0x10000);
			break;
		case 2:
			addr = TYPES + rndn(0x2000);
			break;
		case 3:
			addr = rnd() & ((1ULL << 48) - 1);
			break;
		default:
			addr = FZ_ARENA + rndn(4 * ps);
			break;
		}
		capture(w->L, &w->reader, addr, rndn(8) == 0 ? 1 + rndn(4) : 0, &e);
		if (rndn(5) == 0) {
			switch (rndn(6)) {
			case 0:
				e.cap.have = rndn(8);
				break;
			case 1:
				e.cap.window[rndn(COW_WINDOW)] = rnd();
				e.cap.pool[rndn(COW_POOL_HEAD)] = rnd();
				e.cap.block[rndn(COW_BLOCK_HEAD)] = rnd();
				break;
			case 2:
				e.cap.block_addr += 16 * ((int64_t)rndn(5) - 2);
				break;
			case 3:
				e.cap.pool_addr ^= 1ULL << rndn(48);
				break;
			case 4:
				e.cap.window_addr += 8 * ((int64_t)rndn(9) - 4);
				break;
			default:
				for (unsigned int k = 0; k < COW_WINDOW; k += 8)
					memcpy(e.cap.window + k,
					       &(uint64_t){fuzz_word(w, addr, ps)}, 8);
				break;
			}
		}
		map = rndn(REGION_COUNT + 1);
		fl.deny = rndn(4) == 0;
		py_decode(w->L, &e, map, fuzz_lookup_cb, &fl, &d);
		check_fuzz(w, &e, map, &d, fl.deny);
		named += d.type_ptr != 0;
		pym += d.region == REGION_PYMALLOC;
		fields[d.field]++;
	}
	/* random pointers straight into the validator */
	for (i = 0; i < n; i++) {
		uint64_t p = rndn(2) ? FZ_ARENA + rndn(4 * ps) : rnd() & ((1ULL << 48) - 1);
		struct py_type_info ti;
		char name[64];

		if (rndn(3) == 0)
			p = fuzz_word(w, FZ_HEAP, ps);
		if (py_type_lookup(w->cache, &w->reader, p, &ti)) {
			if (!is_valid_type(w, p, name))
				fail_msg("%s: %#llx taken for type '%s'", w->ver,
					 (unsigned long long)p, ti.name);
			assert_string_equal(ti.name, name);
		}
	}
	print_message("%s: %lu events, %lu in pools, %lu named an object, %lu types made by "
		      "chance\n",
		      w->ver, n, pym, named, accidental_types);
	print_message("%s: by field:", w->ver);
	for (i = 0; i < FIELD_COUNT; i++)
		print_message(" %s %lu", cow_field_name(i), fields[i]);
	print_message("\n");
	/* the fuzz must reach the interesting paths */
	assert_true(named > n / 100);
	assert_true(pym > n / 10);
	for (i = 0; i < FIELD_COUNT && n >= 20000; i++) {
		if (i == FIELD_PRE_HEADER) /* 16 bytes of the right blocks: rare */
			assert_true(w->L->preheader ? fields[i] > 0 : fields[i] == 0);
		else
			assert_true(fields[i] > n / 2000);
	}
}

/* ---- layouts and names ------------------------------------------------------------------ */

static void test_layouts(void **state)
{
	int i;

	for (i = 0; i < NVERSIONS; i++) {
		const struct py_layout *L = py_layout_for(3, versions[i]);

		assert_non_null(L);
		assert_int_equal(L->major, 3);
		assert_int_equal(L->minor, versions[i]);
		assert_int_equal(L->pool_size, versions[i] <= 9 ? 4096 : 16384);
		assert_int_equal(L->pool_header, 48);
		assert_int_equal(L->alignment, 16);
		assert_int_equal(L->small_max, 512);
		assert_int_equal(L->gc_head, 16);
		assert_int_equal(L->tp_name_off, 24);
		assert_int_equal(L->tp_basicsize_off, 32);
		assert_int_equal(L->tp_flags_off, 168);
		assert_int_equal(L->preheader_flags, versions[i] <= 10	 ? 0
						     : versions[i] == 11 ? (1UL << 4)
									 : (1UL << 4) | (1UL << 3));
		assert_int_equal(L->preheader, versions[i] <= 10 ? 0 : 16);
		assert_int_equal(L->str_ascii_size, versions[i] <= 11 ? 48 : 40);
		assert_true(L->tested);
		assert_int_equal(py_preheader_size(L, 0), 0);
		assert_int_equal(py_preheader_size(L, PY_TPFLAGS_HAVE_GC), 16);
		assert_int_equal(py_preheader_size(L, PY_TPFLAGS_HAVE_GC | PY_TPFLAGS_MANAGED_DICT),
				 versions[i] <= 10 ? 16 : 32);
		assert_int_equal(
		    py_preheader_size(L, PY_TPFLAGS_HAVE_GC | PY_TPFLAGS_MANAGED_WEAKREF),
		    versions[i] <= 11 ? 16 : 32);
	}
	/* 3.15: the facts of 3.14 (Debian's 3.15.2 headers) */
	assert_non_null(py_layout_for(3, 15));
	assert_int_equal(py_layout_for(3, 15)->pool_size, 16384);
	assert_int_equal(py_layout_for(3, 15)->preheader_flags, (1UL << 4) | (1UL << 3));
	assert_int_equal(py_layout_for(3, 15)->str_ascii_size, 40);
	assert_null(py_layout_for(3, 7));
	assert_null(py_layout_for(3, 16));
	assert_null(py_layout_for(2, 7));
	assert_null(py_layout_for(4, 8));
	assert_null(py_layout_for(-3, -8));
}

static void test_refcounts(void **state)
{
	const struct py_layout *l11 = py_layout_for(3, 11), *l12 = py_layout_for(3, 12);
	const struct py_layout *l13 = py_layout_for(3, 13), *l14 = py_layout_for(3, 14);

	/* before 3.12 nothing is immortal; counts up to 2^40 */
	assert_false(py_refcnt_immortal(l11, 0xFFFFFFFFULL));
	assert_true(py_refcnt_live(l11, 1));
	assert_true(py_refcnt_live(l11, 0xFFFFFFFFULL));
	assert_true(py_refcnt_live(l11, 1ULL << 40));
	assert_false(py_refcnt_live(l11, (1ULL << 40) + 1));
	assert_false(py_refcnt_live(l11, 0));
	assert_false(py_refcnt_live(l11, 0x7f0012345678ULL));
	/* 3.12/3.13: _Py_IMMORTAL_REFCNT, and anything with the 32-bit sign set */
	assert_true(py_refcnt_immortal(l12, 0xFFFFFFFFULL));
	assert_true(py_refcnt_immortal(l13, 0xFFFFFFFFULL));
	assert_true(py_refcnt_immortal(l13, 0x80000000ULL));
	assert_false(py_refcnt_immortal(l13, 0x7FFFFFFFULL));
	assert_false(py_refcnt_immortal(l13, 0x1FFFFFFFFULL));
	assert_true(py_refcnt_live(l12, 0x7FFFFFFFULL));
	assert_false(py_refcnt_live(l12, 0x100000001ULL));
	assert_false(py_refcnt_live(l12, 0x7f0012345678ULL));
	/* 3.14: ob_refcnt u32, ob_overflow u16, ob_flags u16 */
	assert_true(py_refcnt_immortal(l14, 0xC0000000ULL));
	assert_true(py_refcnt_immortal(l14, 0xC0000000ULL | (1ULL << 48)));
	assert_true(py_refcnt_immortal(l14, 0xC0000000ULL | (5ULL << 48)));
	assert_true(py_refcnt_immortal(l14, 0x80000001ULL));
	assert_false(py_refcnt_immortal(l14, 0xC0000000ULL | (1ULL << 32)));
	assert_false(py_refcnt_immortal(l14, 0x7f00C0000000ULL));
	assert_false(py_refcnt_immortal(l14, 5));
	assert_true(py_refcnt_live(l14, 5));
	assert_false(py_refcnt_live(l14, 5 | (1ULL << 48)));
	assert_false(py_refcnt_immortal(NULL, 0xFFFFFFFFULL));
	assert_false(py_refcnt_live(NULL, 1));
}

static void test_names(void **state)
{
	static const char *const causes[] = {
	    "gc",	"refcount",  "gc_list", "alloc_into_shared",
	    "mutation", "allocator", "native",	"unknown"};
	static const char *const fields[] = {"gc_header", "pre_header",	 "ob_refcnt",  "ob_type",
					     "payload",	  "pool_header", "free_block", "unknown"};
	static const char *const regions[] = {"pymalloc", "malloc", "interp_data",
					      "stack",	  "other",  "unknown"};
	int i;

	assert_int_equal(CAUSE_COUNT, 8);
	assert_int_equal(FIELD_COUNT, 8);
	assert_int_equal(REGION_COUNT, 6);
	for (i = 0; i < CAUSE_COUNT; i++)
		assert_string_equal(cow_cause_name(i), causes[i]);
	for (i = 0; i < FIELD_COUNT; i++)
		assert_string_equal(cow_field_name(i), fields[i]);
	for (i = 0; i < REGION_COUNT; i++)
		assert_string_equal(cow_region_name(i), regions[i]);
	assert_string_equal(cow_cause_name(CAUSE_COUNT), "unknown");
	assert_string_equal(cow_field_name((enum cow_field) - 1), "unknown");
	assert_string_equal(cow_region_name(REGION_COUNT + 5), "unknown");
}

/* ---- real processes --------------------------------------------------------------------- */

static void test_mem_reader_pid(void **state)
{
	static char page_buf[8192] __attribute__((aligned(4096)));
	int pid = getpid(), none = 0;
	struct mem_reader r = mem_reader_pid(&pid), rn = mem_reader_pid(&none);
	char buf[64];
	void *map;

	strcpy(page_buf, "hello from here");
	assert_int_equal(r.read(r.ctx, (uintptr_t)page_buf, buf, 16), 0);
	assert_string_equal(buf, "hello from here");
	assert_int_equal(r.read(r.ctx, (uintptr_t)page_buf, buf, 0), 0);
	/* across the end of a mapping: all or nothing */
	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	munmap((char *)map + 4096, 4096); /* the page after it: unmapped */
	assert_int_equal(r.read(r.ctx, (uintptr_t)map + 4096 - 8, buf, 8), 0);
	assert_true(r.read(r.ctx, (uintptr_t)map + 4096 - 8, buf, 16) < 0);
	munmap(map, 4096);
	assert_true(r.read(r.ctx, (uintptr_t)map, buf, 8) < 0);
	assert_int_equal(rn.read(rn.ctx, (uintptr_t)page_buf, buf, 8), -ESRCH);
	/* the pid is read at every call */
	none = pid;
	assert_int_equal(rn.read(rn.ctx, (uintptr_t)page_buf, buf, 16), 0);
}

struct map_find {
	uint64_t addr;
	char path[4096];
	bool found;
	bool heap;
};

static int find_map_cb(const struct map_entry *m, void *ctx)
{
	struct map_find *f = ctx;

	if (f->addr < m->start || f->addr >= m->end)
		return 0;
	f->found = true;
	f->heap = !strcmp(m->path, "[heap]");
	snprintf(f->path, sizeof(f->path), "%s", m->path);
	return 1;
}

/* the caller's job in cowtrace (attrib.c), done simply */
static enum cow_region region_in(int pid, uint64_t addr, const char *exe)
{
	struct map_find f = {.addr = addr};

	if (procfs_for_each_map(NULL, pid, find_map_cb, &f) < 0 || !f.found)
		return REGION_UNKNOWN;
	if (f.heap)
		return REGION_MALLOC;
	if (strstr(f.path, "libpython") || !strcmp(f.path, exe))
		return REGION_INTERP_DATA;
	return REGION_OTHER;
}

static const char real_script[] =
    "import sys\n"
    "class Widget:\n"
    "    def __init__(self):\n"
    "        self.a = 1\n"
    "w = Widget(); d = {'k': 1}; f = float('1.5'); s = 'hel' + str(len(sys.argv) + 3)\n"
    "big = tuple(range(100))\n"
    "print(sys.version_info[0], sys.version_info[1], id(d), id(f), id(w), id(s), id(big),\n"
    "      id(None), flush=True)\n"
    "sys.stdin.read()\n";

static void real_one(const char *python)
{
	unsigned long long id[6];
	int major, minor, pid, in[2], out[2], status, n;
	const struct py_layout *L;
	struct mem_reader r;
	struct py_type_cache *cache;
	struct py_type_lookup_ctx lctx;
	struct pollfd pfd;
	char line[512], exe[PATH_MAX], link[64];
	ssize_t got = 0, k;
	const char *names[] = {"dict", "float", "Widget", "str", "tuple", "NoneType"};
	int i;

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(python, python, "-I", "-c", real_script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	pfd = (struct pollfd){.fd = out[0], .events = POLLIN};
	while (got < (ssize_t)sizeof(line) - 1 && !memchr(line, '\n', got)) {
		if (poll(&pfd, 1, 20000) <= 0)
			break;
		k = read(out[0], line + got, sizeof(line) - 1 - got);
		if (k <= 0)
			break;
		got += k;
	}
	line[got] = '\0';
	n = sscanf(line, "%d %d %llu %llu %llu %llu %llu %llu", &major, &minor, &id[0], &id[1],
		   &id[2], &id[3], &id[4], &id[5]);
	if (n != 8) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("%s printed '%s'", python, line);
	}
	L = py_layout_for(major, minor);
	assert_non_null(L);
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	k = readlink(link, exe, sizeof(exe) - 1);
	assert_true(k > 0);
	exe[k] = '\0';
	r = mem_reader_pid(&pid);
	cache = py_type_cache_new(L);
	assert_non_null(cache);
	lctx = (struct py_type_lookup_ctx){.cache = cache, .reader = &r};

	for (i = 0; i < 6; i++) {
		struct py_type_info ti;
		struct cow_copy_event e;
		struct py_decoded d;
		enum cow_region region;
		uint64_t tp;

		assert_int_equal(r.read(r.ctx, id[i] + 8, &tp, 8), 0);
		if (!py_type_lookup(cache, &r, tp, &ti))
			fail_msg("%s: type of %s at %#llx not recognised", python, names[i], id[i]);
		assert_string_equal(ti.name, names[i]);

		region = region_in(pid, id[i], exe);
		capture(L, &r, id[i], 0, &e);
		py_decode(L, &e, region, py_type_lookup_cb, &lctx, &d);
		print_message("%d.%d %-8s %#14llx %-11s %-9s %s\n", major, minor, names[i], id[i],
			      cow_region_name(d.region), cow_field_name(d.field), d.type);
		if (i == 5) /* None: a static object */
			assert_int_equal(d.region, REGION_INTERP_DATA);
		else if (i == 4) /* 824 bytes: malloc */
			assert_true(d.region == REGION_MALLOC || d.region == REGION_OTHER);
		else
			assert_int_equal(d.region, REGION_PYMALLOC);
		assert_int_equal(d.field, FIELD_REFCNT);
		assert_int_equal(d.cause, CAUSE_REFCOUNT);
		assert_int_equal(d.object, id[i]);
		assert_string_equal(d.type, names[i]);

		/* the same during a collection; its GC header (dict, Widget, tuple) */
		capture(L, &r, id[i], 1, &e);
		py_decode(L, &e, region, py_type_lookup_cb, &lctx, &d);
		assert_int_equal(d.cause, CAUSE_GC);
		if (i == 0 || i == 2 || i == 4) {
			capture(L, &r, id[i] - 16, 0, &e);
			py_decode(L, &e, region, py_type_lookup_cb, &lctx, &d);
			assert_int_equal(d.field, FIELD_GC_HEADER);
			assert_int_equal(d.cause, CAUSE_GC_LIST);
			assert_string_equal(d.type, names[i]);
		}
		/* the payload of pymalloc objects (a 3.12 Widget has none: 16 bytes) */
		if (i <= 3 && i != 2) {
			capture(L, &r, id[i] + 16, 0, &e);
			py_decode(L, &e, region, py_type_lookup_cb, &lctx, &d);
			assert_int_equal(d.field, FIELD_PAYLOAD);
			assert_int_equal(d.cause, CAUSE_MUTATION);
			assert_string_equal(d.type, names[i]);
		}
		/* 3.11+: the instance's pre-header */
		if (i == 2 && L->preheader) {
			capture(L, &r, id[i] - 32, 0, &e);
			py_decode(L, &e, region, py_type_lookup_cb, &lctx, &d);
			assert_int_equal(d.field, FIELD_PRE_HEADER);
			assert_int_equal(d.cause, CAUSE_MUTATION);
			assert_string_equal(d.type, "Widget");
		}
	}
	/* a pool header */
	{
		struct cow_copy_event e;
		struct py_decoded d;
		uint64_t pool = id[0] & ~(uint64_t)(L->pool_size - 1);

		capture(L, &r, pool + 8, 0, &e);
		py_decode(L, &e, region_in(pid, pool, exe), py_type_lookup_cb, &lctx, &d);
		assert_int_equal(d.region, REGION_PYMALLOC);
		assert_int_equal(d.field, FIELD_POOL_HEADER);
	}
	py_type_cache_free(cache);
	close(in[1]); /* the child's stdin ends: it exits */
	close(out[0]);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const char *pyenv_root(void)
{
	static char root[PATH_MAX];
	const char *e = getenv("PYENV_ROOT"), *home = getenv("HOME");

	if (e && *e)
		return e;
	snprintf(root, sizeof(root), "%s/.pyenv", home ? home : "/root");
	return root;
}

static void test_real_interpreters(void **state)
{
	char pattern[PATH_MAX + 64];
	int i, ran = 0;
	glob_t g;

	if (geteuid() != 0) {
		print_message("skip: reading another process's memory needs root here\n");
		skip();
	}
	if (access("/usr/bin/python3", X_OK) == 0) {
		real_one("/usr/bin/python3");
		ran++;
	} else {
		print_message("skip: /usr/bin/python3 is not installed\n");
	}
	for (i = 0; i < NVERSIONS; i++) {
		snprintf(pattern, sizeof(pattern), "%s/versions/3.%d.*/bin/python3.%d",
			 pyenv_root(), versions[i], versions[i]);
		if (glob(pattern, 0, NULL, &g) || !g.gl_pathc) {
			print_message("skip: no pyenv 3.%d\n", versions[i]);
			globfree(&g);
			continue;
		}
		real_one(g.gl_pathv[0]);
		ran++;
		globfree(&g);
	}
	if (!ran)
		skip();
}

#define PER_VERSION(fn, i)                                                                         \
	cmocka_unit_test_prestate_setup_teardown(fn, world_setup, world_teardown,                  \
						 (void *)&versions[i])
#define ALL_VERSIONS(fn)                                                                           \
	PER_VERSION(fn, 0), PER_VERSION(fn, 1), PER_VERSION(fn, 2), PER_VERSION(fn, 3),            \
	    PER_VERSION(fn, 4), PER_VERSION(fn, 5), PER_VERSION(fn, 6)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layouts),
	    cmocka_unit_test(test_refcounts),
	    cmocka_unit_test(test_names),
	    ALL_VERSIONS(test_pool_plain),
	    ALL_VERSIONS(test_pool_gc),
	    ALL_VERSIONS(test_pool_preheader),
	    ALL_VERSIONS(test_pool_str),
	    ALL_VERSIONS(test_pool_header),
	    ALL_VERSIONS(test_pool_free_blocks),
	    ALL_VERSIONS(test_pool_cross_page),
	    ALL_VERSIONS(test_pool_popped_block),
	    ALL_VERSIONS(test_pool_not_objects),
	    ALL_VERSIONS(test_malloc_objects),
	    ALL_VERSIONS(test_static_objects),
	    ALL_VERSIONS(test_not_python),
	    ALL_VERSIONS(test_hostile_pool_headers),
	    ALL_VERSIONS(test_hostile_block_addr),
	    ALL_VERSIONS(test_hostile_types),
	    ALL_VERSIONS(test_type_cache),
	    ALL_VERSIONS(test_fuzz),
	    cmocka_unit_test(test_mem_reader_pid),
	    cmocka_unit_test(test_real_interpreters),
	};

	_Static_assert(NVERSIONS == 7, "ALL_VERSIONS lists every version");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
