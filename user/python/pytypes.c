// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Type objects of a traced interpreter, recognised from its memory alone. What makes a type:
 * its own type is PyType_Type or a metatype; PyType_Type is the only object that is its own
 * type, and it is named "type". Chains are followed at most T -> M -> P (three reads of a
 * header and three names); a loop that is not self-referential, a pointer that is unaligned,
 * unreadable or outside user space, a name that is not terminated or not printable: "no".
 *
 * The cache is set-associative (SETS x WAYS entries, least recently used way replaced), so
 * its size never grows with the target's garbage. It holds what was read of each pointer,
 * not just the verdict, so that the M and P of a chain are read once for all their types.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "pytypes.h"

#define SETS 1024
#define WAYS 4
/* lookups after which a cached "not a type" is looked at again */
#define NEG_TTL	      65536
#define NAME_LEN      64
#define MAX_BASICSIZE (1UL << 20)
#define HDR_MAX	      256
#define PAGE	      COW_PAGE_SIZE

enum { E_EMPTY = 0, E_BAD, E_PARSED };

struct entry {
	uint64_t ptr;
	uint64_t ob_type;
	unsigned long flags;
	unsigned long basicsize;
	uint64_t filled; /* clock when read */
	uint64_t used;	 /* clock when last asked for */
	uint8_t state;
	int8_t verdict; /* -1 not decided yet, 0 not a type, 1 a type */
	bool unready;	/* a type header but PyType_Ready() not done yet: ask again */
	char name[NAME_LEN];
};

struct py_type_cache {
	const struct py_layout *L;
	uint64_t clock;
	unsigned long long hits, misses;
	struct entry e[SETS][WAYS];
};

/* ---- the cache -------------------------------------------------------------------------- */

struct py_type_cache *py_type_cache_new(const struct py_layout *L)
{
	struct py_type_cache *c;

	if (!L)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c)
		c->L = L;
	return c;
}

void py_type_cache_free(struct py_type_cache *c)
{
	free(c);
}

void py_type_cache_clear(struct py_type_cache *c)
{
	if (!c)
		return;
	memset(c->e, 0, sizeof(c->e));
}

void py_type_cache_stats(const struct py_type_cache *c, unsigned long long *hits,
			 unsigned long long *misses)
{
	*hits = c ? c->hits : 0;
	*misses = c ? c->misses : 0;
}

static unsigned int set_of(uint64_t ptr)
{
	return (unsigned int)(((ptr >> 3) * 0x9e3779b97f4a7c15ULL) >> 54) & (SETS - 1);
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '<' || ch == '>' || ch == '-';
}

/*
 * tp_name: up to NAME_LEN bytes, read page by page so that a short name at the end of a
 * mapping still reads (at most two reads: NAME_LEN is far below a page).
 */
static bool read_name(const struct mem_reader *r, uint64_t p, char *name)
{
	size_t got = 0, len, i;

	while (got < NAME_LEN) {
		uint64_t a = p + got;
		size_t chunk = PAGE - (a & (PAGE - 1));

		if (chunk > NAME_LEN - got)
			chunk = NAME_LEN - got;
		if (r->read(r->ctx, a, name + got, chunk))
			return false;
		got += chunk;
		if (memchr(name + got - chunk, '\0', chunk))
			break;
	}
	len = strnlen(name, got);
	if (len == 0 || len >= NAME_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!name_char(name[i]))
			return false;
	memset(name + len, 0, NAME_LEN - len);
	return true;
}

/* What ptr holds, as far as a type goes; E_BAD when it cannot be a type object. */
static void parse(const struct py_type_cache *c, const struct mem_reader *r, uint64_t ptr,
		  struct entry *x)
{
	const struct py_layout *L = c->L;
	uint8_t hdr[HDR_MAX];
	size_t len = L->tp_flags_off;
	uint64_t refcnt, name_ptr, bs;

	x->state = E_BAD;
	x->verdict = 0;
	if (L->tp_name_off > len)
		len = L->tp_name_off;
	if (L->tp_basicsize_off > len)
		len = L->tp_basicsize_off;
	len += 8;
	if (len > sizeof(hdr) || !py_user_ptr(ptr) || (ptr & 7) || !r || !r->read)
		return;
	if (r->read(r->ctx, ptr, hdr, len))
		return;
	memcpy(&refcnt, hdr, 8);
	memcpy(&x->ob_type, hdr + 8, 8);
	memcpy(&name_ptr, hdr + L->tp_name_off, 8);
	memcpy(&bs, hdr + L->tp_basicsize_off, 8);
	memcpy(&x->flags, hdr + L->tp_flags_off, 8);
	if (!py_refcnt_live(L, refcnt) || !py_user_ptr(x->ob_type) || (x->ob_type & 7))
		return;
	if (bs < PY_OBJECT_HEAD || bs > MAX_BASICSIZE || !py_user_ptr(name_ptr))
		return;
	/*
	 * Instances exist only once their type is ready (PyType_Ready before the first object;
	 * every type of every object reachable in the installed 3.8-3.13 interpreters has the
	 * flag): half of all garbage fails here.
	 */
	if (!(x->flags & PY_TPFLAGS_READY)) {
		/*
		 * Or a type that is not ready yet: a copy decoded while the interpreter starts
		 * (COMMAND traced from its exec) can point at a static type that its
		 * PyType_Ready() has not reached. Not cached, or that type would stay unknown
		 * for the whole family.
		 */
		x->unready = true;
		return;
	}
	x->basicsize = bs;
	if (!read_name(r, name_ptr, x->name))
		return;
	x->state = E_PARSED;
	x->verdict = -1;
}

/*
 * The entry for ptr, read now if it is not cached (or is a stale "no"). The pointer is only
 * good until the next fetch, which may evict it: callers copy what they need.
 */
static struct entry *fetch(struct py_type_cache *c, const struct mem_reader *r, uint64_t ptr)
{
	struct entry *set = c->e[set_of(ptr)], *x = NULL;
	int i;

	c->clock++;
	for (i = 0; i < WAYS; i++) {
		if (set[i].state != E_EMPTY && set[i].ptr == ptr) {
			x = &set[i];
			break;
		}
	}
	if (x && (x->verdict != 0 || (!x->unready && c->clock - x->filled <= NEG_TTL))) {
		c->hits++;
		x->used = c->clock;
		return x;
	}
	if (!x) {
		x = &set[0];
		for (i = 1; i < WAYS && x->state != E_EMPTY; i++)
			if (set[i].state == E_EMPTY || set[i].used < x->used)
				x = &set[i];
	}
	c->misses++;
	memset(x, 0, sizeof(*x));
	x->ptr = ptr;
	parse(c, r, ptr, x);
	x->filled = x->used = c->clock;
	return x;
}

static bool is_type_type(const struct entry *x)
{
	return x->state == E_PARSED && x->ob_type == x->ptr &&
	       (x->flags & PY_TPFLAGS_TYPE_SUBCLASS) && !strcmp(x->name, "type");
}

/* T -> M -> P, P == PyType_Type; t was parsed. */
static bool chain_ok(struct py_type_cache *c, const struct mem_reader *r, const struct entry *t)
{
	struct entry m, p;

	if (t->ob_type == t->ptr)
		return is_type_type(t);
	m = *fetch(c, r, t->ob_type);
	if (m.state != E_PARSED || !(m.flags & PY_TPFLAGS_TYPE_SUBCLASS))
		return false;
	if (m.ob_type == m.ptr)
		return is_type_type(&m);
	p = *fetch(c, r, m.ob_type);
	return is_type_type(&p);
}

bool py_type_lookup(struct py_type_cache *c, const struct mem_reader *r,
		    unsigned long long type_ptr, struct py_type_info *out)
{
	struct entry t, *x;
	int i;

	memset(out, 0, sizeof(*out));
	if (!c || !py_user_ptr(type_ptr) || (type_ptr & 7))
		return false;
	t = *fetch(c, r, type_ptr);
	if (t.state != E_PARSED)
		return false;
	if (t.verdict < 0) {
		t.verdict = chain_ok(c, r, &t) ? 1 : 0;
		/* record it, if the entry survived the chain's own fetches */
		x = c->e[set_of(type_ptr)];
		for (i = 0; i < WAYS; i++)
			if (x[i].state == E_PARSED && x[i].ptr == type_ptr)
				x[i].verdict = t.verdict;
	}
	if (t.verdict != 1)
		return false;
	out->valid = true;
	out->flags = t.flags;
	out->basicsize = t.basicsize;
	memcpy(out->name, t.name, sizeof(out->name));
	return true;
}

bool py_type_lookup_cb(unsigned long long type_ptr, struct py_type_info *out, void *ctx)
{
	struct py_type_lookup_ctx *l = ctx;

	if (!l) {
		memset(out, 0, sizeof(*out));
		return false;
	}
	return py_type_lookup(l->cache, l->reader, type_ptr, out);
}
