/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside the flame graph: the tree flamegraph.c builds as stacks arrive, and what its three
 * writers share (flamegraph.c: folded; flame_svg.c: SVG; flame_speedscope.c: speedscope).
 * Not for the rest of cowtrace, which uses flamegraph.h.
 */
#ifndef COWTRACE_FLAME_TREE_H
#define COWTRACE_FLAME_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "flamegraph.h"
#include "hindex.h"

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
	struct hindex edges; /* (parent, name) -> node index */
	/* interned names, found by their flame_hash() */
	const char **names;
	size_t nnames, names_cap;
	struct hindex name_index; /* into names */
	struct arena_chunk *arena;
	char *scratch; /* a name being normalized */
	size_t scratch_cap;
	unsigned long long total;
	size_t nstacks;
};

/* The ordered tree the exports walk */
struct tree {
	const struct flame *f;
	unsigned long long *total; /* count of the subtree */
	uint32_t *first;	   /* first child in name order; 0: none (the root is no child) */
	uint32_t *next;		   /* next sibling in name order; 0: none */
};

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

/* FNV-1a of a string */
uint64_t flame_hash(const char *s);
/*
 * Calls emit(ctx, bytes, len) for s made safe for every output: control characters become ' ',
 * ill-formed UTF-8 and U+FFFE/U+FFFF (not XML characters) become U+FFFD; with folded, ';' becomes
 * FLAME_SEMICOLON_REPLACEMENT.
 */
void flame_sanitize(const char *str, bool folded, void (*emit)(void *, const char *, size_t),
		    void *ctx);
/* f's nodes ordered by name under each parent, with subtree totals: 0 or -ENOMEM */
int flame_tree_build(struct tree *t, const struct flame *f);
void flame_tree_free(struct tree *t);
/* a pre-order walk of t: flame_walk_next() returns 1 (at w->path[w->len - 1]), 0 at the end,
 * or -ENOMEM; descend: into the current node's children */
int flame_walk_init(struct walk *w, const struct tree *t);
int flame_walk_next(struct walk *w, bool descend);
void flame_walk_free(struct walk *w);
const char *flame_node_name(const struct flame *f, uint32_t i);
/* 0, or -errno of a write error on out (now or earlier) */
int flame_finish(FILE *out);

#endif
