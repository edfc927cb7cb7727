// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "attrib.h"
#include "native.h"
#include "cowtrace.skel.h"
#include "procfs.h"
#include "sumtab.h"
#include "pylayout.h"
#include "pytypes.h"
#include "tracees.h"

/* Re-read a process's mappings at most this often when an address is not in them. */
#define MAPS_REFRESH_NS 20000000ULL
/* Processes whose memory may still hold a type object: the writer, then its ancestors. */
#define READ_CHAIN 8

struct read_chain {
	int pids[READ_CHAIN];
	int fds[READ_CHAIN]; /* /proc/PID/mem, opened on first use; -1 not yet, -2 gone */
	int n;
};

static void chain_close(struct read_chain *c);

struct maps {
	struct map_entry *v;
	size_t n, cap;
	unsigned long long read_ns;
	bool valid;	 /* v holds the process's mappings as last read */
	bool gone;	 /* the process could not be read any more */
	long long fallback; /* slot whose mappings stand in (-1: not looked for yet) */
};

/*
 * Processes forked from one another without exec share the addresses of everything that existed
 * at fork, type objects above all: one type cache per such family, keyed by the slot that
 * started it (the root, or the last exec).
 */
struct family {
	unsigned int slot;
	const struct py_layout *layout;
	struct py_type_cache *types;
};

struct slot_cache {
	bool have;
	unsigned int family_slot;
	struct read_chain chain;
	bool have_info; /* info below read (role and comm change only at exec) */
	struct cow_proc_info info;
};

struct attrib {
	struct tracees *t;
	struct slot_cache *cache;		 /* per slot: family and readers */
	struct maps *maps;			 /* per slot */
	unsigned long long (*causes)[CAUSE_COUNT]; /* per slot */
	bool *seen;				 /* per slot */
	unsigned long long *gc_headers;		 /* per slot: see attrib_slot_gc_headers() */
	struct family *families;
	size_t nfamilies, capfamilies;
	struct sumtab rows; /* struct attrib_row */
	/* by stack */
	struct pystacks *pystacks; /* NULL without stacks */
	bool per_process;	   /* stack rows per process (--per-process) */
	struct native_syms *native; /* NULL without --native */
	struct sumtab srows; /* struct attrib_stack_row; not set up (rows NULL) without stacks */
};

/* the two tables' keys, defined with the aggregation below */
static unsigned long row_hash(const void *row);
static bool row_equal(const void *x, const void *y);
static unsigned long srow_hash(const void *row);
static bool srow_equal(const void *x, const void *y);

struct attrib *attrib_new(struct tracees *t, bool stacks, bool native)
{
	struct attrib *a = calloc(1, sizeof(*a));
	size_t i;

	if (!a)
		return NULL;
	a->t = t;
	a->maps = calloc(COWTRACE_MAX_SLOTS, sizeof(*a->maps));
	for (i = 0; a->maps && i < COWTRACE_MAX_SLOTS; i++)
		a->maps[i].fallback = -1;
	a->causes = calloc(COWTRACE_MAX_SLOTS, sizeof(*a->causes));
	a->seen = calloc(COWTRACE_MAX_SLOTS, sizeof(*a->seen));
	a->gc_headers = calloc(COWTRACE_MAX_SLOTS, sizeof(*a->gc_headers));
	a->cache = calloc(COWTRACE_MAX_SLOTS, sizeof(*a->cache));
	sumtab_init(&a->rows, sizeof(struct attrib_row), offsetof(struct attrib_row, pages),
		    row_hash, row_equal);
	if (stacks && native)
		a->native = native_syms_new(bpf_map__fd(t->skel->maps.native_stack_map));
	if (stacks) {
		a->pystacks = pystacks_new(bpf_map__fd(t->skel->maps.stacks));
		sumtab_init(&a->srows, sizeof(struct attrib_stack_row),
			    offsetof(struct attrib_stack_row, pages), srow_hash, srow_equal);
	}
	if (!a->maps || !a->causes || !a->seen || !a->cache || !a->rows.rows ||
	    (stacks && (!a->pystacks || !a->srows.rows)) || (stacks && native && !a->native)) {
		attrib_free(a);
		return NULL;
	}
	return a;
}

void attrib_free(struct attrib *a)
{
	size_t i;

	if (!a)
		return;
	if (a->maps)
		for (i = 0; i < COWTRACE_MAX_SLOTS; i++)
			free(a->maps[i].v);
	if (a->cache)
		for (i = 0; i < COWTRACE_MAX_SLOTS; i++)
			chain_close(&a->cache[i].chain);
	for (i = 0; i < a->nfamilies; i++)
		py_type_cache_free(a->families[i].types);
	free(a->families);
	free(a->maps);
	free(a->causes);
	free(a->seen);
	free(a->gc_headers);
	free(a->cache);
	sumtab_free(&a->rows);
	pystacks_free(a->pystacks);
	native_syms_free(a->native);
	sumtab_free(&a->srows);
	free(a);
}

static struct cow_proc_info slot_info(struct attrib *a, unsigned int slot)
{
	return tracees_proc_info(a->t, slot);
}

/* ---- memory maps ------------------------------------------------------------------------ */

static int add_map(const struct map_entry *e, void *ctx)
{
	struct maps *m = ctx;

	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		void *p = realloc(m->v, cap * sizeof(*m->v));

		if (!p)
			return -ENOMEM;
		m->v = p;
		m->cap = cap;
	}
	m->v[m->n++] = *e;
	return 0;
}

static bool read_maps(struct maps *m, int pid, unsigned long long now)
{
	m->n = 0;
	m->read_ns = now;
	m->valid = procfs_for_each_map("/proc", pid, add_map, m) == 0 && m->n > 0;
	m->gone = false;
	m->fallback = -1;
	return m->valid;
}

static const struct map_entry *find_map(const struct maps *m, unsigned long long addr,
					size_t *index)
{
	size_t lo = 0, hi = m->n;

	/* /proc/PID/maps lists mappings in address order */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < m->v[mid].start)
			hi = mid;
		else if (addr >= m->v[mid].end)
			lo = mid + 1;
		else {
			*index = mid;
			return &m->v[mid];
		}
	}
	return NULL;
}

/* The mappings that describe slot's address space: its own, else (exited before we read them)
 * those of the nearest ancestor it was forked from without exec since. A process that is gone
 * is not asked again: this runs for every event. */
static const struct maps *maps_for(struct attrib *a, unsigned int slot, int pid,
				   unsigned long long addr, unsigned long long now)
{
	struct maps *m = &a->maps[slot];
	struct cow_proc_info info;
	size_t idx, depth;

	if (m->valid && find_map(m, addr, &idx))
		return m;
	if (!m->gone && (!m->valid || now - m->read_ns >= MAPS_REFRESH_NS)) {
		struct maps fresh = { .v = m->v, .cap = m->cap };

		if (read_maps(&fresh, pid, now)) {
			*m = fresh;
			return m;
		}
		m->v = fresh.v;
		m->cap = fresh.cap;
		m->n = m->valid ? m->n : 0;
		m->gone = true;
	}
	if (m->valid)
		return m;
	if (m->fallback < 0) {
		m->fallback = COWTRACE_NO_SLOT;
		for (depth = 0; depth < READ_CHAIN; depth++) {
			info = slot_info(a, slot);
			if ((info.flags & PROC_EXECED) || info.parent_slot >= COWTRACE_MAX_SLOTS)
				break;
			slot = info.parent_slot;
			if (a->maps[slot].valid) {
				m->fallback = slot;
				break;
			}
		}
	}
	return m->fallback < COWTRACE_MAX_SLOTS ? &a->maps[m->fallback] : NULL;
}

static bool same_file(const struct map_entry *e, const struct py_binding *py)
{
	return py && e->inode == py->ino && makedev(e->dev_major, e->dev_minor) == py->dev;
}

static enum cow_region region_of(const struct maps *m, const struct py_binding *py,
				 unsigned long long addr, unsigned long long sp)
{
	const struct map_entry *e;
	size_t idx, sidx;

	if (!m || !(e = find_map(m, addr, &idx)))
		return REGION_UNKNOWN;
	if (!strcmp(e->path, "[heap]"))
		return REGION_MALLOC;
	if (!strcmp(e->path, "[stack]") || (find_map(m, sp, &sidx) && sidx == idx))
		return REGION_STACK;
	/* the interpreter's writable data, and its .bss: the anonymous mapping right after it */
	if (same_file(e, py) ||
	    (!e->path[0] && idx > 0 && m->v[idx - 1].end == e->start && same_file(&m->v[idx - 1], py)))
		return REGION_INTERP_DATA;
	return REGION_OTHER;
}

/* ---- type objects ----------------------------------------------------------------------- */

/* The writer's memory, else its family's (procfs_mem_read: never a copy of what it reads). */
static int chain_read(void *ctx, unsigned long long addr, void *buf, size_t len)
{
	struct read_chain *c = ctx;
	int i;

	for (i = 0; i < c->n; i++) {
		if (c->fds[i] == -2)
			continue;
		if (c->fds[i] < 0) {
			c->fds[i] = procfs_mem_open(c->pids[i]);
			if (c->fds[i] < 0) {
				c->fds[i] = -2; /* gone: don't try again */
				continue;
			}
		}
		if (!procfs_mem_read(c->fds[i], addr, buf, len))
			return 0;
	}
	return -EFAULT;
}

/* For tests: a reader of one live process, opening /proc/PID/mem for each read. */
static int pid_read(void *ctx, unsigned long long addr, void *buf, size_t len)
{
	int fd = procfs_mem_open(*(int *)ctx), err;

	if (fd < 0)
		return fd;
	err = procfs_mem_read(fd, addr, buf, len);
	close(fd);
	return err;
}

struct mem_reader mem_reader_pid(int *pid)
{
	return (struct mem_reader){.read = pid_read, .ctx = pid};
}

static void chain_close(struct read_chain *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	c->n = 0;
}

struct lookup_ctx {
	struct family *family;
	struct mem_reader reader;
};

static bool lookup_type(unsigned long long type_ptr, struct py_type_info *out, void *ctx)
{
	struct lookup_ctx *l = ctx;

	return py_type_lookup(l->family->types, &l->reader, type_ptr, out);
}

static unsigned int family_slot(struct attrib *a, unsigned int slot, struct read_chain *chain)
{
	struct cow_proc_info info;
	int depth;

	chain->n = 0;
	for (depth = 0; depth < READ_CHAIN; depth++) {
		info = slot_info(a, slot);
		if (info.pid && !(info.flags & PROC_EXITED)) {
			chain->fds[chain->n] = -1;
			chain->pids[chain->n++] = info.pid;
		}
		if ((info.flags & PROC_EXECED) || info.parent_slot >= COWTRACE_MAX_SLOTS)
			break;
		slot = info.parent_slot;
	}
	return slot;
}

/* The slot's cache with its family and read chain: looked up once per slot, not per event. */
static struct slot_cache *slot_family(struct attrib *a, unsigned int slot)
{
	struct slot_cache *c = &a->cache[slot];

	if (!c->have) {
		chain_close(&c->chain);
		c->family_slot = family_slot(a, slot, &c->chain);
		c->have = true;
	}
	return c;
}

static struct family *family_of(struct attrib *a, unsigned int fslot,
				const struct py_layout *layout)
{
	struct family *f;
	size_t i;

	for (i = 0; i < a->nfamilies; i++)
		if (a->families[i].slot == fslot && a->families[i].layout == layout)
			return &a->families[i];
	if (a->nfamilies == a->capfamilies) {
		size_t cap = a->capfamilies ? 2 * a->capfamilies : 8;
		void *p = realloc(a->families, cap * sizeof(*a->families));

		if (!p)
			return NULL;
		a->families = p;
		a->capfamilies = cap;
	}
	f = &a->families[a->nfamilies];
	f->slot = fslot;
	f->layout = layout;
	f->types = py_type_cache_new(layout);
	if (!f->types)
		return NULL;
	a->nfamilies++;
	return f;
}

/* ---- aggregation ------------------------------------------------------------------------ */

static unsigned long row_hash(const void *row)
{
	const struct attrib_row *r = row;
	const unsigned long long key[] = { r->cause, r->field, r->region };

	return sumtab_hash_str(sumtab_hash_u64s(SUMTAB_HASH_SEED, key, 3), r->type,
			       sizeof(r->type));
}

static bool row_equal(const void *x_, const void *y_)
{
	const struct attrib_row *x = x_, *y = y_;

	return x->cause == y->cause && x->field == y->field && x->region == y->region &&
	       !strcmp(x->type, y->type);
}

static unsigned long srow_hash(const void *row)
{
	const struct attrib_stack_row *r = row;
	const unsigned long long key[] = { r->role, r->cause, r->gc_gen, r->family,
					   r->stack_id, r->field, r->native_id,
					   (unsigned int)r->pid };
	unsigned long h = sumtab_hash_u64s(SUMTAB_HASH_SEED, key, sizeof(key) / sizeof(key[0]));

	h = sumtab_hash_str(h, r->comm, sizeof(r->comm));
	return sumtab_hash_str(h, r->type, sizeof(r->type));
}

static bool srow_equal(const void *x_, const void *y_)
{
	const struct attrib_stack_row *x = x_, *y = y_;

	return x->role == y->role && x->cause == y->cause && x->gc_gen == y->gc_gen &&
	       x->family == y->family && x->stack_id == y->stack_id && x->field == y->field &&
	       x->native_id == y->native_id && x->pid == y->pid &&
	       !strncmp(x->comm, y->comm, sizeof(x->comm)) && !strcmp(x->type, y->type);
}

static void attrib_stack(struct attrib *a, const struct cow_copy_event *e,
			 const struct py_binding *py, const struct slot_cache *c,
			 const struct mem_reader *reader, const struct py_decoded *d)
{
	struct attrib_stack_row row = { .pages = 1 };
	const struct py_frame_offsets *off = NULL;
	struct slot_cache *sc = &a->cache[e->slot];
	struct cow_proc_info info;

	/* a map lookup is a system call: once per process, not once per copy */
	if (!sc->have_info) {
		sc->info = slot_info(a, e->slot);
		sc->have_info = true;
	}
	info = sc->info;

	row.role = tracees_role(a->t, e->slot);
	if (a->per_process)
		row.pid = e->pid;
	memcpy(row.comm, info.comm, sizeof(row.comm));
	row.comm[sizeof(row.comm) - 1] = '\0';
	row.cause = d->cause;
	row.gc_gen = e->gc_state ? e->gc_state - 1 : 0;
	row.field = d->field;
	snprintf(row.type, sizeof(row.type), "%s", d->type);
	if (py && c && e->stack_id)
		off = py->frames;
	if (off) {
		row.family = c->family_slot;
		row.stack_id = e->stack_id;
		/* named now, while the processes whose memory holds the code objects live */
		row.stack = pystacks_get(a->pystacks, off, c->family_slot, e->stack_id, reader);
		if (!row.stack)
			row.stack_id = 0;
	}
	if (a->native && e->native_id) {
		int pids[READ_CHAIN + 1], n = 0, i;

		/* the writer, then the processes that share its mappings (also for processes
		 * that run no CPython, whose slot cache attrib_event did not fill) */
		sc = slot_family(a, e->slot);
		pids[n++] = e->pid;
		for (i = 0; i < sc->chain.n && n < READ_CHAIN + 1; i++)
			pids[n++] = sc->chain.pids[i];
		row.native_id = e->native_id;
		row.native = native_get(a->native, sc->family_slot, e->native_id, pids, n);
		if (!row.native)
			row.native_id = 0;
	}
	sumtab_add(&a->srows, &row);
}

static int by_stack_pages(const void *x, const void *y)
{
	const struct attrib_stack_row *a = x, *b = y;

	if (a->pages != b->pages)
		return a->pages < b->pages ? 1 : -1;
	return a->stack_id < b->stack_id ? -1 : a->stack_id > b->stack_id;
}

void attrib_stacks_per_process(struct attrib *a)
{
	a->per_process = true;
}

const struct attrib_stack_row *attrib_stack_rows(struct attrib *a, size_t *n)
{
	*n = 0;
	if (!a->srows.rows)
		return NULL;
	return sumtab_sorted(&a->srows, by_stack_pages, n);
}

void attrib_event(struct attrib *a, const struct cow_copy_event *e)
{
	unsigned long long now = monotonic_ns();
	const struct py_binding *py;
	const struct py_layout *layout = NULL;
	struct lookup_ctx l = {};
	struct py_decoded d;
	struct attrib_row row = { .pages = 1 };
	const struct maps *m;

	/* file copies are corrected after the fact; zero-page copies are not in pages */
	if (e->type != EV_COPY || e->kind == COW_ZERO || e->slot >= COWTRACE_MAX_SLOTS)
		return;
	py = a->t->slots[e->slot].python;
	if (py && !py->interp.free_threaded)
		layout = py->layout;
	m = maps_for(a, e->slot, e->pid, e->addr, now);
	if (layout) {
		struct slot_cache *c = slot_family(a, e->slot);

		l.family = family_of(a, c->family_slot, layout);
		l.reader.read = chain_read;
		l.reader.ctx = &c->chain;
	}
	py_decode(l.family ? layout : NULL, e, region_of(m, py, e->addr, e->sp),
		  l.family ? lookup_type : NULL, &l, &d);
	row.cause = d.cause;
	row.field = d.field;
	row.region = d.region;
	snprintf(row.type, sizeof(row.type), "%s", d.type);
	sumtab_add(&a->rows, &row);
	if (d.cause < CAUSE_COUNT)
		a->causes[e->slot][d.cause]++;
	if (d.cause == CAUSE_GC && d.field == FIELD_GC_HEADER)
		a->gc_headers[e->slot]++;
	a->seen[e->slot] = true;
	if (a->pystacks)
		attrib_stack(a, e, py, layout ? &a->cache[e->slot] : NULL, &l.reader, &d);
}

unsigned long long attrib_slot_gc_headers(const struct attrib *a, unsigned int slot)
{
	if (!a || slot >= COWTRACE_MAX_SLOTS)
		return 0;
	return a->gc_headers[slot];
}

const unsigned long long *attrib_slot_causes(const struct attrib *a, unsigned int slot)
{
	if (!a || slot >= COWTRACE_MAX_SLOTS || !a->seen[slot])
		return NULL;
	return a->causes[slot];
}

static int by_pages(const void *x, const void *y)
{
	const struct attrib_row *a = x, *b = y;

	if (a->pages != b->pages)
		return a->pages < b->pages ? 1 : -1;
	if (a->cause != b->cause)
		return a->cause < b->cause ? -1 : 1;
	return strcmp(a->type, b->type);
}

const struct attrib_row *attrib_rows(struct attrib *a, size_t *n)
{
	return sumtab_sorted(&a->rows, by_pages, n);
}

void attrib_on_exec(struct attrib *a, unsigned int slot)
{
	if (!a || slot >= COWTRACE_MAX_SLOTS)
		return;
	/* a new program: new mappings, and its objects are no longer its parent's */
	chain_close(&a->cache[slot].chain);
	a->cache[slot].have = false;
	a->cache[slot].have_info = false;
	a->maps[slot].valid = false;
	a->maps[slot].gone = false;
	a->maps[slot].fallback = -1;
}
