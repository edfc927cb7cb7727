/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Copies by Python stack, as flame graph files (folded, SVG, speedscope) and as text. */
#ifndef COWTRACE_STACKOUT_H
#define COWTRACE_STACKOUT_H

#include <stdbool.h>
#include <stdio.h>
#include "attrib.h"
#include "flamegraph.h"

/*
 * The frames of one row, root first, with their color classes: "<role> <comm>", the cause ("gc
 * gen2", "refcount", ...), the Python frames outermost to innermost ("[truncated]" first when BPF
 * cut the stack, "[no Python stack]" when there is none), native frames (--native), and a leaf
 * "<type> <field>". bufs holds the strings made here; frames point into it or into the row.
 */
size_t stackout_frames_classed(const struct attrib_stack_row *row, const char **frames,
			       enum flame_class *classes, size_t max, char bufs[3][96]);

/* All rows in one flame graph; weights in pages, or bytes. NULL on error. */
struct flame *stackout_flame(const struct attrib_stack_row *rows, size_t n, bool bytes);

/* Top stacks for each cause, for --by stack. */
void stackout_text(FILE *f, const struct attrib_stack_row *rows, size_t n,
		   unsigned long long total_pages);

#endif
