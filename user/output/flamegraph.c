// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Flame graphs: a tree of frames merged as stacks arrive, written as folded stacks, an
 * interactive SVG or a speedscope profile (see flamegraph.h for the formats and conventions).
 *
 * The tree is an array of nodes (parent index, interned name, own count) and a hash table from
 * (parent, name) to node, so adding a stack costs one lookup per frame and nothing is sorted until
 * an export needs it. A child is always created after its parent, hence has a larger index: totals
 * are then one backward pass, without recursion, however deep the stacks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"
#include "utf8.h"
#include "json.h"

#define NO_NAME	    UINT32_MAX
#define MAX_NODES   (UINT32_MAX - 1)
#define ARENA_CHUNK 65536

struct flame_node {
	uint32_t parent;	 /* 0 (the root) for the first frame of a stack */
	uint32_t name;		 /* index into flame.names; NO_NAME for the root */
	uint8_t cls;		 /* enum flame_class */
	unsigned long long self; /* count of the stacks that end here */
};

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	char data[];
};

struct flame {
	struct flame_node *nodes; /* nodes[0] is the root, the implicit "all" frame */
	size_t nnodes, nodes_cap;
	/* (parent, name) -> node index; 0 marks a free slot, since the root is nobody's child */
	uint32_t *edges;
	size_t edges_cap; /* a power of two */
	/* interned names; slots hold index + 1, 0 marks a free slot */
	const char **names;
	uint64_t *name_hash;
	size_t nnames, names_cap;
	uint32_t *name_slots;
	size_t name_slots_cap; /* a power of two */
	struct arena_chunk *arena;
	char *scratch; /* a name being normalized */
	size_t scratch_cap;
	unsigned long long total;
	size_t nstacks;
};

/* ---------------------------------------------------------------------------------------- */
/* Hashing, memory */

static uint64_t hash_bytes(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
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
static void sanitize(const char *str, bool folded, void (*emit)(void *, const char *, size_t),
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
	sanitize(name, true, scratch_emit, &c);
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
	if (!grow(&f->nodes, &f->nodes_cap, 1, sizeof(*f->nodes))) {
		free(f);
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
	free(f->edges);
	free(f->names);
	free(f->name_hash);
	free(f->name_slots);
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

static bool rehash_names(struct flame *f, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return false;
	for (size_t i = 0; i < f->nnames; i++) {
		size_t j = f->name_hash[i] & (cap - 1);

		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = i + 1;
	}
	free(f->name_slots);
	f->name_slots = slots;
	f->name_slots_cap = cap;
	return true;
}

/* The index of name (already normalized), added if new; -ENOMEM. */
static int64_t intern(struct flame *f, const char *name)
{
	uint64_t h = hash_bytes(name);
	size_t j, names_cap = f->names_cap;
	char *copy;

	/* at most half full, so probes stay short */
	if ((f->nnames + 1) * 2 > f->name_slots_cap &&
	    !rehash_names(f, f->name_slots_cap ? f->name_slots_cap * 2 : 256))
		return -ENOMEM;
	for (j = h & (f->name_slots_cap - 1); f->name_slots[j];
	     j = (j + 1) & (f->name_slots_cap - 1)) {
		uint32_t i = f->name_slots[j] - 1;

		if (f->name_hash[i] == h && !strcmp(f->names[i], name))
			return i;
	}
	if (f->nnames >= MAX_NODES)
		return -ENOMEM;
	if (!grow(&f->names, &names_cap, f->nnames + 1, sizeof(*f->names)))
		return -ENOMEM;
	/* both arrays share names_cap: grow the second before recording the new capacity */
	if (!grow(&f->name_hash, &f->names_cap, f->nnames + 1, sizeof(*f->name_hash)))
		return -ENOMEM;
	copy = arena_strdup(f, name);
	if (!copy)
		return -ENOMEM;
	f->names[f->nnames] = copy;
	f->name_hash[f->nnames] = h;
	f->name_slots[j] = f->nnames + 1;
	return f->nnames++;
}

static bool rehash_edges(struct flame *f, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return false;
	for (size_t i = 1; i < f->nnodes; i++) {
		size_t j = hash_edge(f->nodes[i].parent, f->nodes[i].name) & (cap - 1);

		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = i;
	}
	free(f->edges);
	f->edges = slots;
	f->edges_cap = cap;
	return true;
}

/* The child of parent named name, created if new; -ENOMEM. */
static int64_t child(struct flame *f, uint32_t parent, uint32_t name, enum flame_class cls)
{
	size_t j;

	if (f->nnodes * 2 > f->edges_cap &&
	    !rehash_edges(f, f->edges_cap ? f->edges_cap * 2 : 1024))
		return -ENOMEM;
	for (j = hash_edge(parent, name) & (f->edges_cap - 1); f->edges[j];
	     j = (j + 1) & (f->edges_cap - 1)) {
		struct flame_node *n = &f->nodes[f->edges[j]];

		if (n->parent == parent && n->name == name) {
			if (n->cls == FLAME_CLASS_AUTO)
				n->cls = cls;
			return f->edges[j];
		}
	}
	if (f->nnodes >= MAX_NODES ||
	    !grow(&f->nodes, &f->nodes_cap, f->nnodes + 1, sizeof(*f->nodes)))
		return -ENOMEM;
	f->nodes[f->nnodes] = (struct flame_node){.parent = parent, .name = name, .cls = cls};
	f->edges[j] = f->nnodes;
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

struct tree {
	const struct flame *f;
	unsigned long long *total; /* count of the subtree */
	uint32_t *first;	   /* first child in name order; 0: none (the root is no child) */
	uint32_t *next;		   /* next sibling in name order; 0: none */
};

static void tree_free(struct tree *t)
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

static int tree_build(struct tree *t, const struct flame *f)
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
		tree_free(t);
	return err;
}

/* i or its first next sibling with a count; 0 when none. */
static uint32_t live(const struct tree *t, uint32_t i)
{
	while (i && !t->total[i])
		i = t->next[i];
	return i;
}

/*
 * A pre-order walk without recursion (stacks can be thousands deep). path[0] is the root,
 * path[len - 1] the current node; start[d] is the count before path[d] in the whole graph, its
 * left edge.
 */
struct walk {
	const struct tree *t;
	uint32_t *path;
	unsigned long long *start;
	size_t len, cap;
};

static int walk_init(struct walk *w, const struct tree *t)
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

static void walk_free(struct walk *w)
{
	free(w->path);
	free(w->start);
}

/*
 * Moves to the next node: the first child of the current one if descend, else the next sibling
 * of the current one or of its nearest ancestor that has one. Nodes with no count are skipped.
 * Returns 1 (w->path[w->len - 1] is the node), 0 at the end, or -ENOMEM.
 */
static int walk_next(struct walk *w, bool descend)
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

static const char *node_name(const struct flame *f, uint32_t i)
{
	return f->names[f->nodes[i].name];
}

/* 0, or -errno of a write error on out (now or earlier). */
static int finish_output(FILE *out)
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
	err = tree_build(&t, f);
	if (err)
		return err;
	err = walk_init(&w, &t);
	if (err) {
		tree_free(&t);
		return err;
	}
	while ((err = walk_next(&w, true)) > 0) {
		uint32_t node = w.path[w.len - 1];

		if (!f->nodes[node].self)
			continue;
		for (size_t d = 1; d < w.len; d++) {
			if (d > 1)
				putc(';', out);
			fputs(node_name(f, w.path[d]), out);
		}
		fprintf(out, " %llu\n", f->nodes[node].self);
		if (ferror(out))
			break;
	}
	walk_free(&w);
	tree_free(&t);
	if (err < 0)
		return err;
	return finish_output(out);
}

/* ---------------------------------------------------------------------------------------- */
/* SVG */

#define SVG_WIDTH   1200
#define SVG_PAD	    10 /* left and right margins */
#define SVG_TOP	    80 /* title, subtitle, hint and controls above the frames */
#define SVG_BOTTOM  36 /* the details line below */
#define FRAME_H	    16 /* one stack level */
#define FONT_PX	    12
#define CHAR_W	    (0.6 * FONT_PX) /* monospace advance, for fitting labels */
#define MIN_FRAME_W 0.1		    /* narrower frames are not drawn */
#define HIGHLIGHT   "#e040e0"	    /* search matches: no palette comes near magenta */

static void xml_emit(void *ctx, const char *p, size_t n)
{
	FILE *out = ctx;
	const char *run = p;

	for (const char *e = p + n; p < e; p++) {
		const char *ent;

		switch (*p) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		fwrite(run, 1, p - run, out);
		fputs(ent, out);
		run = p + 1;
	}
	fwrite(run, 1, p - run, out);
}

/* s as XML character data or attribute value: escaped, and repaired like frame names. */
static void put_xml(FILE *out, const char *s)
{
	sanitize(s, false, xml_emit, out);
}

/* Numbers for coordinates: 4 decimals keep zooming 10000x precise to a fraction of a pixel. */
static void put_num(FILE *out, double v)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%.4f", v);

	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (!strcmp(buf, "-0"))
		strcpy(buf, "0");
	fputs(buf, out);
}

struct palette {
	double hue, hue_span, sat, sat_span, light, light_span;
};

/* Indexed by enum flame_class: ranges in HSL, the name's hash picks a point in them. */
static const struct palette palettes[FLAME_CLASS_COUNT] = {
    [FLAME_CLASS_AUTO] = {0, 50, 0.78, 0.17, 0.55, 0.10},
    [FLAME_CLASS_PYTHON] = {0, 50, 0.78, 0.17, 0.55, 0.10},
    [FLAME_CLASS_NATIVE] = {25, 15, 0.25, 0.15, 0.58, 0.08},
    [FLAME_CLASS_PROCESS] = {205, 20, 0.15, 0.15, 0.66, 0.08},
    [FLAME_CLASS_CAUSE] = {200, 30, 0.70, 0.20, 0.64, 0.08},
    [FLAME_CLASS_OBJECT] = {95, 50, 0.45, 0.20, 0.55, 0.08},
    [FLAME_CLASS_MARK] = {0, 0, 0, 0, 0.72, 0.06},
};

static double hue_channel(double p, double q, double t)
{
	if (t < 0)
		t += 1;
	if (t > 1)
		t -= 1;
	if (t < 1.0 / 6)
		return p + (q - p) * 6 * t;
	if (t < 0.5)
		return q;
	if (t < 2.0 / 3)
		return p + (q - p) * (2.0 / 3 - t) * 6;
	return p;
}

/* "#rrggbb" for a frame: same class and name, same color, in every graph. */
static void frame_color(char buf[8], enum flame_class cls, const char *name)
{
	const struct palette *p = &palettes[cls < FLAME_CLASS_COUNT ? cls : FLAME_CLASS_AUTO];
	uint64_t h = hash_bytes(name);
	double hue = (p->hue + p->hue_span * ((h & 0xffff) / 65535.0)) / 360;
	double s = p->sat + p->sat_span * (((h >> 16) & 0xffff) / 65535.0);
	double l = p->light + p->light_span * (((h >> 32) & 0xffff) / 65535.0);
	double q = l < 0.5 ? l * (1 + s) : l + s - l * s;
	double pp = 2 * l - q;

	/* rounding by hand: the tool links no libm */
	snprintf(buf, 8, "#%02x%02x%02x", (int)(255 * hue_channel(pp, q, hue + 1.0 / 3) + 0.5),
		 (int)(255 * hue_channel(pp, q, hue) + 0.5),
		 (int)(255 * hue_channel(pp, q, hue - 1.0 / 3) + 0.5));
}

/* count and unit, "1 page" rather than "1 pages". */
static void put_count(FILE *out, unsigned long long count, const char *unit)
{
	size_t len = strlen(unit);

	fprintf(out, "%llu ", count);
	if (count == 1 && len > 1 && unit[len - 1] == 's') {
		char *one = strndup(unit, len - 1);

		if (one) {
			put_xml(out, one);
			free(one);
			return;
		}
	}
	put_xml(out, unit);
}

/*
 * How much of name fits in a frame width px wide: the number of its bytes to show (0: no label),
 * and whether ".." follows them.
 */
static size_t label_fit(const char *name, double width, bool *dots)
{
	/* truncation is floor here: a negative room gives at most 0 */
	long fit = (long)((width - 6) / CHAR_W);
	size_t chars = 0, cut = 0;
	const char *p;

	*dots = false;
	if (fit < 3)
		return 0;
	for (p = name; *p; p++) {
		if (((unsigned char)*p & 0xc0) == 0x80)
			continue; /* names are valid UTF-8: count code points */
		if (chars == (size_t)fit - 2)
			cut = p - name;
		chars++;
	}
	if (chars <= (size_t)fit)
		return p - name;
	*dots = true;
	return cut;
}

static void put_frame(FILE *out, const char *name, enum flame_class cls, const char *fill,
		      unsigned long long count, unsigned long long total, const char *unit,
		      double x, double y, double w)
{
	char color[8];
	size_t len;
	bool dots;

	if (!fill) {
		frame_color(color, cls, name);
		fill = color;
	}
	fputs("<g><title>", out);
	put_xml(out, name);
	/* an em dash: the script takes the name from before the last one */
	fputs(" \xe2\x80\x94 ", out);
	put_count(out, count, unit);
	fprintf(out, " (%.2f%%)</title><rect x=\"", 100.0 * count / total);
	put_num(out, x);
	fprintf(out, "\" y=\"%d\" width=\"", (int)y);
	put_num(out, w);
	fprintf(out, "\" height=\"%d\" fill=\"%s\"/>", FRAME_H - 1, fill);
	/*
	 * No <text> when no label fits: most frames of a large graph are narrow, and an element
	 * less for each makes the browser's load a third faster. The script adds one on zoom.
	 */
	len = label_fit(name, w, &dots);
	if (len) {
		fputs("<text x=\"", out);
		put_num(out, x + 3);
		fprintf(out, "\" y=\"%d\">", (int)y + FRAME_H - 4);
		xml_emit(out, name, len); /* a normalized name: only the XML specials to escape */
		fputs(dots ? "..</text>" : "</text>", out);
	}
	fputs("</g>\n", out);
}

static const char svg_style[] =
    "text { font-family: monospace; font-size: 12px; fill: #000; }\n"
    "#title { font-size: 17px; font-weight: bold; text-anchor: middle; }\n"
    "#subtitle { fill: #444; text-anchor: middle; }\n"
    "#hint { fill: #777; font-size: 11px; text-anchor: middle; }\n"
    "#empty { fill: #777; font-size: 16px; text-anchor: middle; }\n"
    ".ctl { fill: #1c5fb0; cursor: pointer; }\n"
    ".ctl:hover { text-decoration: underline; }\n"
    ".ctl.off { fill: #aaa; cursor: default; text-decoration: none; }\n"
    "#frames rect { rx: 2px; ry: 2px; cursor: pointer; }\n"
    "#frames g:hover rect { stroke: #000; stroke-width: 0.6; }\n"
    "#frames text { pointer-events: none; }\n"
    "#frames .anc { opacity: 0.55; }\n";

/* The script: user/output/flamegraph.js, as a C string (the Makefile makes the header). */
#include "flamegraph_js.h"

static void svg_head(FILE *out, int height, const char *title, const char *subtitle)
{
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\">\n<title>",
		SVG_WIDTH, height, SVG_WIDTH, height);
	put_xml(out, title);
	fprintf(out, "</title>\n<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", svg_style);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f4\"/>\n",
		SVG_WIDTH, height);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"24\">", SVG_WIDTH / 2);
	put_xml(out, title);
	fprintf(out, "</text>\n<text id=\"subtitle\" x=\"%d\" y=\"44\">", SVG_WIDTH / 2);
	if (subtitle)
		put_xml(out, subtitle);
	fputs("</text>\n", out);
}

int flame_write_svg(const struct flame *f, FILE *out, const char *title, const char *subtitle,
		    const char *unit)
{
	double scale, y_base;
	size_t max_depth = 0;
	struct tree t;
	struct walk w;
	int err, height;
	bool descend;

	if (!f || !out)
		return -EINVAL;
	if (!title)
		title = "Flame graph";
	if (!unit)
		unit = "pages";

	if (!f->total) {
		height = SVG_TOP + 4 * FRAME_H + SVG_BOTTOM;
		svg_head(out, height, title, subtitle);
		fprintf(out, "<text id=\"empty\" x=\"%d\" y=\"%d\">no copies recorded</text>\n",
			SVG_WIDTH / 2, SVG_TOP + 2 * FRAME_H);
		fputs("</svg>\n", out);
		return finish_output(out);
	}

	err = tree_build(&t, f);
	if (err)
		return err;
	err = walk_init(&w, &t);
	if (err)
		goto out_tree;
	scale = (double)(SVG_WIDTH - 2 * SVG_PAD) / (double)f->total;

	/* First pass: how deep the drawn frames go, for the height. */
	descend = true;
	while ((err = walk_next(&w, descend)) > 0) {
		descend = t.total[w.path[w.len - 1]] * scale >= MIN_FRAME_W;
		if (descend && w.len - 1 > max_depth)
			max_depth = w.len - 1;
	}
	if (err < 0)
		goto out_walk;
	if (max_depth > (size_t)(INT32_MAX / FRAME_H - SVG_TOP - SVG_BOTTOM - 1)) {
		err = -E2BIG;
		goto out_walk;
	}
	height = SVG_TOP + (int)(max_depth + 1) * FRAME_H + SVG_BOTTOM;
	y_base = SVG_TOP + (double)max_depth * FRAME_H; /* the root's row, at the bottom */

	svg_head(out, height, title, subtitle);
	fprintf(out,
		"<text id=\"hint\" x=\"%d\" y=\"62\">root at the bottom, callees above it; hover a "
		"frame for its count, click to zoom, Ctrl+F to search</text>\n",
		SVG_WIDTH / 2);
	fprintf(out, "<text id=\"reset\" class=\"ctl off\" x=\"%d\" y=\"24\">Reset zoom</text>\n",
		SVG_PAD);
	fprintf(out,
		"<text id=\"search\" class=\"ctl\" x=\"%d\" y=\"24\" "
		"text-anchor=\"end\">Search</text>\n",
		SVG_WIDTH - SVG_PAD);
	fprintf(out,
		"<g id=\"frames\" data-x0=\"%d\" data-width=\"%d\" data-fh=\"%d\" data-base=\"%d\" "
		"data-charw=\"%.1f\" data-total=\"%llu\" data-highlight=\"%s\" data-unit=\"",
		SVG_PAD, SVG_WIDTH - 2 * SVG_PAD, FRAME_H, (int)y_base, CHAR_W, f->total,
		HIGHLIGHT);
	put_xml(out, unit);
	fputs("\">\n", out);

	/* Second pass, the same walk: the frames in pre-order, which the script relies on. */
	put_frame(out, "all", FLAME_CLASS_MARK, "#d0d0cc", f->total, f->total, unit, SVG_PAD,
		  y_base, SVG_WIDTH - 2 * SVG_PAD);
	walk_free(&w);
	err = walk_init(&w, &t);
	if (err)
		goto out_tree;
	descend = true;
	while ((err = walk_next(&w, descend)) > 0) {
		uint32_t node = w.path[w.len - 1];
		size_t depth = w.len - 1;
		double width = t.total[node] * scale;

		descend = width >= MIN_FRAME_W;
		if (!descend)
			continue;
		put_frame(out, node_name(f, node), f->nodes[node].cls, NULL, t.total[node],
			  f->total, unit, SVG_PAD + w.start[w.len - 1] * scale,
			  y_base - (double)depth * FRAME_H, width);
		if (ferror(out))
			break;
	}
	if (err < 0)
		goto out_walk;
	fputs("</g>\n", out);
	fprintf(out,
		"<text id=\"details\" x=\"%d\" y=\"%d\">Hover a frame for its name and count; "
		"click it to zoom.</text>\n",
		SVG_PAD, height - 14);
	fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"></text>\n",
		SVG_WIDTH - SVG_PAD, height - 14);
	fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n</svg>\n",
		svg_script);
	err = finish_output(out);
out_walk:
	walk_free(&w);
out_tree:
	tree_free(&t);
	return err;
}

/* ---------------------------------------------------------------------------------------- */
/* speedscope */

int flame_write_speedscope(const struct flame *f, FILE *out, const char *name, const char *unit)
{
	struct json_writer *j;
	uint32_t *frame_of = NULL; /* name index -> frame index, in order of first use */
	uint32_t nframes = 0;
	struct tree t;
	struct walk w;
	int err;

	if (!f || !out)
		return -EINVAL;
	if (!name)
		name = "cowtrace";
	err = tree_build(&t, f);
	if (err)
		return err;
	err = -ENOMEM;
	frame_of = malloc((f->nnames ? f->nnames : 1) * sizeof(*frame_of));
	j = json_writer_new(out);
	if (!frame_of || !j)
		goto out;
	memset(frame_of, 0xff, (f->nnames ? f->nnames : 1) * sizeof(*frame_of));

	json_begin_object(j);
	json_key(j, "$schema");
	json_string(j, "https://www.speedscope.app/file-format-schema.json");
	json_key(j, "exporter");
	json_string(j, "cowtrace");
	json_key(j, "name");
	json_string(j, name);
	json_key(j, "activeProfileIndex");
	json_uint(j, 0);
	json_key(j, "shared");
	json_begin_object(j);
	json_key(j, "frames");
	json_begin_array(j);
	err = walk_init(&w, &t);
	if (err)
		goto out;
	while ((err = walk_next(&w, true)) > 0) {
		uint32_t id = f->nodes[w.path[w.len - 1]].name;

		if (frame_of[id] != UINT32_MAX)
			continue;
		frame_of[id] = nframes++;
		json_begin_object(j);
		json_key(j, "name");
		json_string(j, f->names[id]);
		json_end_object(j);
	}
	walk_free(&w);
	if (err < 0)
		goto out;
	json_end_array(j);
	json_end_object(j);

	json_key(j, "profiles");
	json_begin_array(j);
	json_begin_object(j);
	json_key(j, "type");
	json_string(j, "sampled");
	json_key(j, "name");
	json_string(j, name);
	json_key(j, "unit");
	json_string(j, unit && !strcmp(unit, "bytes") ? "bytes" : "none");
	json_key(j, "startValue");
	json_uint(j, 0);
	json_key(j, "endValue");
	json_uint(j, f->total);

	/* samples and weights: the same walk twice, so both follow the folded order */
	for (int pass = 0; pass < 2; pass++) {
		json_key(j, pass ? "weights" : "samples");
		json_begin_array(j);
		err = walk_init(&w, &t);
		if (err)
			goto out;
		while ((err = walk_next(&w, true)) > 0 && !json_writer_error(j)) {
			uint32_t node = w.path[w.len - 1];

			if (!f->nodes[node].self)
				continue;
			if (pass) {
				json_uint(j, f->nodes[node].self);
				continue;
			}
			json_begin_array(j);
			for (size_t d = 1; d < w.len; d++)
				json_uint(j, frame_of[f->nodes[w.path[d]].name]);
			json_end_array(j);
		}
		walk_free(&w);
		if (err < 0)
			goto out;
		json_end_array(j);
	}
	json_end_object(j);
	json_end_array(j);
	json_end_object(j);
	err = json_writer_error(j);
	if (!err) {
		fputc('\n', out);
		err = finish_output(out);
	}
out:
	json_writer_free(j);
	free(frame_of);
	tree_free(&t);
	return err;
}
