// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "stackout.h"
#include "textesc.h"
#include "tracees.h"

#define PAGE_BYTES  COW_PAGE_SIZE
#define FRAMES_MAX  (COW_STACK_MAX + COW_NATIVE_MAX + 6)
#define TEXT_TOP    5  /* stacks shown per cause */
#define TEXT_FRAMES 8  /* innermost frames shown per stack */

size_t stackout_frames_classed(const struct attrib_stack_row *row, const char **frames,
			       enum flame_class *classes, size_t max, char bufs[3][96])
{
	size_t n = 0, i;

	if (max < 5)
		return 0;
	if (row->pid)
		snprintf(bufs[0], sizeof(bufs[0]), "%s %s [%d]", cow_role_name(row->role),
			 row->comm, row->pid);
	else
		snprintf(bufs[0], sizeof(bufs[0]), "%s %s", cow_role_name(row->role), row->comm);
	classes[n] = FLAME_CLASS_PROCESS;
	frames[n++] = bufs[0];
	if (row->cause == CAUSE_GC && row->gc_gen < GC_GENS)
		snprintf(bufs[1], sizeof(bufs[1]), "gc gen%u", row->gc_gen);
	else if (row->cause == CAUSE_GC)
		snprintf(bufs[1], sizeof(bufs[1]), "gc gen?");
	else
		snprintf(bufs[1], sizeof(bufs[1]), "%s", cow_cause_name(row->cause));
	classes[n] = FLAME_CLASS_CAUSE;
	frames[n++] = bufs[1];
	if (!row->stack || !row->stack->n) {
		classes[n] = FLAME_CLASS_MARK;
		frames[n++] = "[no Python stack]";
	} else {
		if (row->stack->truncated) {
			classes[n] = FLAME_CLASS_MARK;
			frames[n++] = "[truncated]";
		}
		for (i = 0; i < row->stack->n && n < max - 1; i++) {
			classes[n] = FLAME_CLASS_PYTHON;
			frames[n++] = row->stack->frames[i];
		}
	}
	/* native frames (--native) below the innermost Python frame: the interpreter and C code
	 * that made the write */
	if (row->native) {
		if (row->native->truncated && n < max - 1) {
			classes[n] = FLAME_CLASS_MARK;
			frames[n++] = "[native: truncated]";
		}
		for (i = 0; i < row->native->n && n < max - 1; i++) {
			classes[n] = FLAME_CLASS_NATIVE;
			frames[n++] = row->native->frames[i];
		}
	}
	snprintf(bufs[2], sizeof(bufs[2]), "%s %s", row->type[0] ? row->type : "?",
		 cow_field_name(row->field));
	classes[n] = FLAME_CLASS_OBJECT;
	frames[n++] = bufs[2];
	return n;
}

struct flame *stackout_flame(const struct attrib_stack_row *rows, size_t n, bool bytes)
{
	struct flame *f = flame_new();
	enum flame_class classes[FRAMES_MAX];
	const char *frames[FRAMES_MAX];
	char bufs[3][96];
	size_t i, k;

	if (!f)
		return NULL;
	for (i = 0; i < n; i++) {
		k = stackout_frames_classed(&rows[i], frames, classes, FRAMES_MAX, bufs);
		if (flame_add_classed(f, frames, classes, k,
				      bytes ? rows[i].pages * PAGE_BYTES : rows[i].pages)) {
			flame_free(f);
			return NULL;
		}
	}
	return f;
}

void stackout_text(FILE *f, const struct attrib_stack_row *rows, size_t n,
		   unsigned long long total_pages)
{
	int cause;

	for (cause = 0; cause < CAUSE_COUNT; cause++) {
		unsigned long long in_cause = 0;
		size_t i, shown = 0;

		for (i = 0; i < n; i++)
			if (rows[i].cause == (enum cow_cause)cause)
				in_cause += rows[i].pages;
		if (!in_cause)
			continue;
		fprintf(f, "\n%s: %llu pages (%.1f%%), top stacks:\n", cow_cause_name(cause),
			in_cause, total_pages ? 100.0 * in_cause / total_pages : 0.0);
		/* rows are sorted by pages: the first of each cause are its top stacks */
		for (i = 0; i < n && shown < TEXT_TOP; i++) {
			const struct attrib_stack_row *r = &rows[i];
			char type[4 * sizeof(r->type)], comm[4 * sizeof(r->comm)], frame[4 * 80];
			size_t j, from;

			if (r->cause != (enum cow_cause)cause)
				continue;
			shown++;
			fprintf(f, "  %9llu %5.1f%%  %s %s in %s %s", r->pages,
				100.0 * r->pages / in_cause,
				r->type[0] ? text_esc(type, sizeof(type), r->type) : "?",
				cow_field_name(r->field), cow_role_name(r->role),
				text_esc(comm, sizeof(comm), r->comm));
			if (r->pid)
				fprintf(f, " [%d]", r->pid);
			fputc('\n', f);
			if (!r->stack || !r->stack->n) {
				fprintf(f, "                    [no Python stack]\n");
				continue;
			}
			from = r->stack->n > TEXT_FRAMES ? r->stack->n - TEXT_FRAMES : 0;
			if (r->stack->truncated)
				fprintf(f, "                    ... (deeper than %d frames: cut)\n",
					COW_STACK_MAX);
			else if (from)
				fprintf(f, "                    ... %zu outer frames\n", from);
			for (j = from; j < r->stack->n; j++)
				fprintf(f, "                    %.78s\n",
					text_esc(frame, sizeof(frame), r->stack->frames[j]));
		}
	}
}
