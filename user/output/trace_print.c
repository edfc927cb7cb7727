// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include "trace_print.h"

/* A thread's line waits only for the rest of its own fault: a few threads' worth is plenty. */
#define HELD_MAX 64

struct trace_printer {
	FILE *f;
	unsigned long long start_ns;
	struct cow_copy_event held[HELD_MAX];
	unsigned int nheld;
};

static const char *const kind_names[COW_KINDS] = { "anon", "file", "zero" };

struct trace_printer *trace_printer_new(FILE *f, unsigned long long start_ns)
{
	struct trace_printer *tp = calloc(1, sizeof(*tp));

	if (!tp)
		return NULL;
	tp->f = f;
	tp->start_ns = start_ns;
	fprintf(f, "# time_s pid tid kind cause addr ip\n");
	return tp;
}

static void print_line(struct trace_printer *tp, const struct cow_copy_event *e)
{
	char cause[8] = "other";

	if (e->gc_state > GC_GENS)
		snprintf(cause, sizeof(cause), "gc?");
	else if (e->gc_state)
		snprintf(cause, sizeof(cause), "gc%u", e->gc_state - 1);
	fprintf(tp->f, "%.6f %u %u %s %s 0x%llx 0x%llx\n",
		((double)e->ts - (double)tp->start_ns) / 1e9, e->pid, e->tid,
		e->kind < COW_KINDS ? kind_names[e->kind] : "?", cause, (unsigned long long)e->addr,
		(unsigned long long)e->ip);
}

static void release(struct trace_printer *tp, unsigned int i)
{
	print_line(tp, &tp->held[i]);
	tp->held[i] = tp->held[--tp->nheld];
}

void trace_printer_event(struct trace_printer *tp, const struct cow_copy_event *e)
{
	unsigned int i, oldest = 0;

	for (i = 0; i < tp->nheld; i++) {
		if (tp->held[i].tid != e->tid)
			continue;
		if (e->type == EV_COPY_FILE) {
			tp->held[i].kind = COW_FILE;
			release(tp, i);
			return;
		}
		release(tp, i);
		break;
	}
	if (e->type != EV_COPY)
		return;
	if (tp->nheld == HELD_MAX) {
		for (i = 1; i < tp->nheld; i++)
			if (tp->held[i].ts < tp->held[oldest].ts)
				oldest = i;
		release(tp, oldest);
	}
	tp->held[tp->nheld++] = *e;
}

void trace_printer_flush(struct trace_printer *tp, unsigned long long now_ns,
			 unsigned long long age_ns)
{
	unsigned int i, oldest;

	/* oldest first, so that lines stay in time order */
	while (tp->nheld) {
		for (oldest = 0, i = 1; i < tp->nheld; i++)
			if (tp->held[i].ts < tp->held[oldest].ts)
				oldest = i;
		if (age_ns && tp->held[oldest].ts + age_ns > now_ns)
			break;
		release(tp, oldest);
	}
	fflush(tp->f);
}

void trace_printer_free(struct trace_printer *tp)
{
	if (!tp)
		return;
	trace_printer_flush(tp, 0, 0);
	free(tp);
}
