// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Flame graphs: a tree of frames merged as stacks arrive, and its folded stacks (the SVG and
 * speedscope writers are flame_svg.c and flame_speedscope.c; see flamegraph.h for the formats
 * and conventions, flame_tree.h for what they share).
 *
 * The tree is an array of nodes (parent index, interned name, own count) and a hash index from
 * (parent, name) to node, so adding a stack costs one lookup per frame and nothing is sorted until
 * an export needs it. A child is always created after its parent, hence has a larger index: totals
 * are then one backward pass, without recursion, however deep the stacks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flame_tree.h"
#include "sumtab.h"
#include "utf8.h"





/* ---------------------------------------------------------------------------------------- */
/* Hashing, memory */

uint64_t flame_hash(const char *s)
{
	return sumtab_hash_str(SUMTAB_HASH_SEED, s, SIZE_MAX);
}

/* splitmix64's finalizer: parent and name indexes are small and dense, their bits need mixing. */
static uint64_t hash_edge(uint32_t parent, uint32_t name)
{
	uint64_t x = ((uint64_t)parent << 32) | name;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Grows *p (elements of size sz) to hold at least need; false when memory is short. */
static bool grow(void *p, size_t *cap, size_t need, size_t sz)
{
	size_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return true;
	while (n < need) {
		if (n > SIZE_MAX / 2 / sz)
			return false;
		n *= 2;
	}
	q = realloc(*(void **)p, n * sz);
	if (!q)
		return false;
	*(void **)p = q;
	*cap = n;
	return true;
}

/* Names live in large chunks: one malloc per name would double the memory of 100k frames. */
static char *arena_strdup(struct flame *f, const char *s)
{
	size_t len = strlen(s) + 1;
	struct arena_chunk *c = f->arena;
	char *p;

	if (!c || c->size - c->used < len) {
		size_t size = len > ARENA_CHUNK ? len : ARENA_CHUNK;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = size;
		c->next = f->arena;
		f->arena = c;
	}
	p = c->data + c->used;
	memcpy(p, s, len);
	c->used += len;
	return p;
}

/* ---------------------------------------------------------------------------------------- */
/* UTF-8 and name normalization */

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

static const char replacement_char[] = "\xef\xbf\xbd"; /* U+FFFD */

/*
 * Calls emit(ctx, bytes, len) for s made safe for every output: control characters become ' ',
 * ill-formed UTF-8 and U+FFFE/U+FFFF (not XML characters) become U+FFFD; with folded, ';' becomes
 * FLAME_SEMICOLON_REPLACEMENT. Runs of bytes that need nothing are emitted in one call.
 */
void flame_sanitize(const char *str, bool folded, void (*emit)(void *, const char *, size_t),
		     void *ctx)
{
	const unsigned char *s = (const unsigned char *)str, *run = s;
	static const char semi[] = {FLAME_SEMICOLON_REPLACEMENT};
	size_t len, bad;
	uint32_t cp;

	while (*s) {
		const char *rep = NULL;
		size_t rep_len = 0, skip;

		len = utf8_decode(s, &cp, &bad);
		if (!len) {
			rep = replacement_char;
			rep_len = 3;
			skip = bad;
		} else if (is_control(cp)) {
			rep = " ";
			rep_len = 1;
			skip = len;
		} else if (cp == 0xfffe || cp == 0xffff) {
			rep = replacement_char;
			rep_len = 3;
			skip = len;
		} else if (cp == ';' && folded) {
			rep = semi;
			rep_len = 1;
			skip = 1;
		} else {
			s += len;
			continue;
		}
		if (s > run)
			emit(ctx, (const char *)run, s - run);
		emit(ctx, rep, rep_len);
		s += skip;
		run = s;
	}
	if (s > run)
		emit(ctx, (const char *)run, s - run);
}

struct scratch_ctx {
	char *buf;
	size_t len;
};

static void scratch_emit(void *ctx, const char *p, size_t n)
{
	struct scratch_ctx *c = ctx;

	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

/* The normalized copy of name in f->scratch, or NULL when memory is short. */
static const char *normalize(struct flame *f, const char *name)
{
	size_t in = strlen(name);
	struct scratch_ctx c;

	/* one input byte becomes at most 3 (a lone bad byte becomes U+FFFD) */
	if (in > (SIZE_MAX - 1) / 3 || !grow(&f->scratch, &f->scratch_cap, in * 3 + 1, 1))
		return NULL;
	c.buf = f->scratch;
	c.len = 0;
	if (!*name)
		name = "[empty]"; /* fits: the scratch buffer is at least 64 bytes */
	flame_sanitize(name, true, scratch_emit, &c);
	c.buf[c.len] = '\0';
	return c.buf;
}

/* ---------------------------------------------------------------------------------------- */
/* The tree */

struct flame *flame_new(void)
{
	struct flame *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	/* slots to start with, the sizes the hand-written tables had */
	if (!grow(&f->nodes, &f->nodes_cap, 1, sizeof(*f->nodes)) ||
	    !hindex_init(&f->name_index, 256) || !hindex_init(&f->edges, 1024)) {
		flame_free(f);
		return NULL;
	}
	f->nodes[0] = (struct flame_node){.parent = 0, .name = NO_NAME};
	f->nnodes = 1;
	return f;
}

void flame_free(struct flame *f)
{
	struct arena_chunk *c, *next;

	if (!f)
		return;
	for (c = f->arena; c; c = next) {
		next = c->next;
		free(c);
	}
	free(f->nodes);
	hindex_free(&f->edges);
	free(f->names);
	hindex_free(&f->name_index);
	free(f->scratch);
	free(f);
}

unsigned long long flame_total(const struct flame *f)
{
	return f ? f->total : 0;
}

size_t flame_stacks(const struct flame *f)
{
	return f ? f->nstacks : 0;
}

/* The index of name (already normalized), added if new; -ENOMEM. */
static int64_t intern(struct flame *f, const char *name)
{
	uint64_t h = flame_hash(name);
	size_t at;
	uint32_t i;
	char *copy;

	for (i = hindex_first(&f->name_index, h, &at); i != HINDEX_NONE;
	     i = hindex_next(&f->name_index, h, &at))
		if (!strcmp(f->names[i], name))
			return i;
	if (f->nnames >= MAX_NODES ||
	    !grow(&f->names, &f->names_cap, f->nnames + 1, sizeof(*f->names)))
		return -ENOMEM;
	copy = arena_strdup(f, name);
	/* indexed last: a failure leaves no index entry naming a slot past nnames */
	if (!copy || !hindex_add(&f->name_index, h, f->nnames, at))
		return -ENOMEM;
	f->names[f->nnames] = copy;
	return f->nnames++;
}

/* The child of parent named name, created if new; -ENOMEM. */
static int64_t child(struct flame *f, uint32_t parent, uint32_t name, enum flame_class cls)
{
	uint64_t h = hash_edge(parent, name);
	size_t at;
	uint32_t i;

	for (i = hindex_first(&f->edges, h, &at); i != HINDEX_NONE;
	     i = hindex_next(&f->edges, h, &at)) {
		struct flame_node *n = &f->nodes[i];

		if (n->parent == parent && n->name == name) {
			if (n->cls == FLAME_CLASS_AUTO)
				n->cls = cls;
			return i;
		}
	}
	if (f->nnodes >= MAX_NODES ||
	    !grow(&f->nodes, &f->nodes_cap, f->nnodes + 1, sizeof(*f->nodes)) ||
	    !hindex_add(&f->edges, h, f->nnodes, at))
		return -ENOMEM;
	f->nodes[f->nnodes] = (struct flame_node){.parent = parent, .name = name, .cls = cls};
	return f->nnodes++;
}

int flame_add_classed(struct flame *f, const char *const *frames, const enum flame_class *classes,
		      size_t nframes, unsigned long long count)
{
	uint32_t node = 0;

	if (!f || !frames || !nframes)
		return -EINVAL;
	for (size_t i = 0; i < nframes; i++) {
		if (!frames[i] || (classes && (unsigned)classes[i] >= FLAME_CLASS_COUNT))
			return -EINVAL;
	}
	if (!count)
		return 0;
	if (count > ~0ULL - f->total)
		return -EOVERFLOW;
	/*
	 * A failure part way leaves the nodes made so far with a zero count: no export shows them
	 * (they have no weight), so the recorded stacks are as before.
	 */
	for (size_t i = 0; i < nframes; i++) {
		const char *name = normalize(f, frames[i]);
		int64_t id, n;

		if (!name)
			return -ENOMEM;
		id = intern(f, name);
		if (id < 0)
			return id;
		n = child(f, node, id, classes ? classes[i] : FLAME_CLASS_AUTO);
		if (n < 0)
			return n;
		node = n;
	}
	if (!f->nodes[node].self)
		f->nstacks++;
	f->nodes[node].self += count;
	f->total += count;
	return 0;
}

int flame_add(struct flame *f, const char *const *frames, size_t nframes, unsigned long long count)
{
	return flame_add_classed(f, frames, NULL, nframes, count);
}

/* ---------------------------------------------------------------------------------------- */
/* The ordered tree the exports walk */


void flame_tree_free(struct tree *t)
{
	free(t->total);
	free(t->first);
	free(t->next);
}

struct name_ref {
	const char *name;
	uint32_t id;
};

static int cmp_name_ref(const void *a, const void *b)
{
	return strcmp(((const struct name_ref *)a)->name, ((const struct name_ref *)b)->name);
}

struct child_key {
	uint32_t parent, rank, node;
};

static int cmp_child(const void *a, const void *b)
{
	const struct child_key *x = a, *y = b;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

int flame_tree_build(struct tree *t, const struct flame *f)
{
	size_t n = f->nnodes;
	struct name_ref *order = NULL;
	uint32_t *rank = NULL;
	struct child_key *keys = NULL;
	int err = -ENOMEM;

	memset(t, 0, sizeof(*t));
	t->f = f;
	t->total = calloc(n, sizeof(*t->total));
	t->first = calloc(n, sizeof(*t->first));
	t->next = calloc(n, sizeof(*t->next));
	order = malloc((f->nnames ? f->nnames : 1) * sizeof(*order));
	rank = malloc((f->nnames ? f->nnames : 1) * sizeof(*rank));
	keys = malloc(n * sizeof(*keys));
	if (!t->total || !t->first || !t->next || !order || !rank || !keys)
		goto out;

	for (size_t i = 0; i < n; i++)
		t->total[i] = f->nodes[i].self;
	for (size_t i = n - 1; i > 0; i--)
		t->total[f->nodes[i].parent] += t->total[i];

	/* Sort the names once; siblings then compare by rank, an integer. */
	for (size_t i = 0; i < f->nnames; i++)
		order[i] = (struct name_ref){f->names[i], i};
	qsort(order, f->nnames, sizeof(*order), cmp_name_ref);
	for (size_t i = 0; i < f->nnames; i++)
		rank[order[i].id] = i;
	for (size_t i = 1; i < n; i++)
		keys[i - 1] = (struct child_key){f->nodes[i].parent, rank[f->nodes[i].name], i};
	qsort(keys, n - 1, sizeof(*keys), cmp_child);
	for (size_t i = n - 1; i-- > 0;) {
		/* backwards, so that each node's first child ends as the smallest */
		if (i + 1 < n - 1 && keys[i + 1].parent == keys[i].parent)
			t->next[keys[i].node] = keys[i + 1].node;
		t->first[keys[i].parent] = keys[i].node;
	}
	err = 0;
out:
	free(order);
	free(rank);
	free(keys);
	if (err)
		flame_tree_free(t);
	return err;
}

/* i or its first next sibling with a count; 0 when none. */
static uint32_t live(const struct tree *t, uint32_t i)
{
	while (i && !t->total[i])
		i = t->next[i];
	return i;
}


int flame_walk_init(struct walk *w, const struct tree *t)
{
	memset(w, 0, sizeof(*w));
	w->t = t;
	w->cap = 64;
	w->path = malloc(w->cap * sizeof(*w->path));
	w->start = malloc(w->cap * sizeof(*w->start));
	if (!w->path || !w->start) {
		free(w->path);
		free(w->start);
		return -ENOMEM;
	}
	w->path[0] = 0;
	w->start[0] = 0;
	w->len = 1;
	return 0;
}

void flame_walk_free(struct walk *w)
{
	free(w->path);
	free(w->start);
}

/*
 * Moves to the next node: the first child of the current one if descend, else the next sibling
 * of the current one or of its nearest ancestor that has one. Nodes with no count are skipped.
 * Returns 1 (w->path[w->len - 1] is the node), 0 at the end, or -ENOMEM.
 */
int flame_walk_next(struct walk *w, bool descend)
{
	const struct tree *t = w->t;
	uint32_t c;

	if (descend) {
		c = live(t, t->first[w->path[w->len - 1]]);
		if (c) {
			if (w->len == w->cap) {
				size_t cap = w->cap * 2;
				uint32_t *p = realloc(w->path, cap * sizeof(*p));
				unsigned long long *s;

				if (!p)
					return -ENOMEM;
				w->path = p;
				s = realloc(w->start, cap * sizeof(*s));
				if (!s)
					return -ENOMEM;
				w->start = s;
				w->cap = cap;
			}
			w->path[w->len] = c;
			w->start[w->len] = w->start[w->len - 1];
			w->len++;
			return 1;
		}
	}
	while (w->len > 1) {
		uint32_t cur = w->path[w->len - 1];

		c = live(t, t->next[cur]);
		if (c) {
			/* skipped siblings weigh nothing */
			w->start[w->len - 1] += t->total[cur];
			w->path[w->len - 1] = c;
			return 1;
		}
		w->len--;
	}
	return 0;
}

const char *flame_node_name(const struct flame *f, uint32_t i)
{
	return f->names[f->nodes[i].name];
}

/* 0, or -errno of a write error on out (now or earlier). */
int flame_finish(FILE *out)
{
	errno = 0;
	if (fflush(out) || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Folded stacks */

int flame_write_folded(const struct flame *f, FILE *out)
{
	struct tree t;
	struct walk w;
	int err;

	if (!f || !out)
		return -EINVAL;
	err = flame_tree_build(&t, f);
	if (err)
		return err;
	err = flame_walk_init(&w, &t);
	if (err) {
		flame_tree_free(&t);
		return err;
	}
	while ((err = flame_walk_next(&w, true)) > 0) {
		uint32_t node = w.path[w.len - 1];

		if (!f->nodes[node].self)
			continue;
		for (size_t d = 1; d < w.len; d++) {
			if (d > 1)
				putc(';', out);
			fputs(flame_node_name(f, w.path[d]), out);
		}
		fprintf(out, " %llu\n", f->nodes[node].self);
		if (ferror(out))
			break;
	}
	flame_walk_free(&w);
	flame_tree_free(&t);
	if (err < 0)
		return err;
	return flame_finish(out);
}
