/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which thread runs a CPython collection, and of which generation (USDT or uprobe hooks call
 * these).
 */
#ifndef COWTRACE_GC_PROBES_BPF_H
#define COWTRACE_GC_PROBES_BPF_H

static __always_inline void gc_enter(long generation)
{
	struct cow_thread_state *ts;

	ts = traced_thread();
	if (!ts)
		return;
	if (ts->gc_depth++ == 0)
		ts->gc_state = 1 + (generation >= 0 && generation < GC_GENS ? generation
									  : GC_GEN_UNKNOWN);
}

static __always_inline void gc_leave(void)
{
	struct cow_thread_state *ts;

	ts = thread_state_get(false);
	if (!ts)
		return;
	/* a return without an entry: cowtrace attached in the middle of a collection */
	if (ts->gc_depth)
		ts->gc_depth--;
	if (!ts->gc_depth)
		ts->gc_state = GC_STATE_NONE;
}

#endif /* COWTRACE_GC_PROBES_BPF_H */
