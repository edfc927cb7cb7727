/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * --trace: one line per copied page. A file copy is first seen as anonymous and corrected by a
 * second event from the same fault (see rss_stat in bpf/cowtrace.bpf.c), so each thread's last
 * line is held back briefly until it is known which it was.
 */
#ifndef COWTRACE_TRACE_PRINT_H
#define COWTRACE_TRACE_PRINT_H

#include <linux/types.h>
#include <stdio.h>
#include "cowtrace.h"

struct trace_printer;

struct trace_printer *trace_printer_new(FILE *f, unsigned long long start_ns);
void trace_printer_event(struct trace_printer *tp, const struct cow_copy_event *e);
/* Prints held lines older than age_ns (by event time); age_ns 0 prints all. */
void trace_printer_flush(struct trace_printer *tp, unsigned long long now_ns,
			 unsigned long long age_ns);
void trace_printer_free(struct trace_printer *tp); /* flushes first */

#endif
