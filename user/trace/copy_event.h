/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A copy event as BPF wrote it into the ring, of any of its lengths, made whole. */
#ifndef COWTRACE_COPY_EVENT_H
#define COWTRACE_COPY_EVENT_H

#include <stddef.h>
#include <linux/types.h>
#include "cowtrace.h"

/*
 * Fills *e from the record of len bytes at data: the fields the record does not carry are zero
 * and their COW_HAVE_* bits clear, whatever the bits said. 0, or -1 when the record is too
 * short to be a copy event.
 */
int copy_event_read(const void *data, size_t len, struct cow_copy_event *e);

#endif
