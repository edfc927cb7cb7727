/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Attribution: each copy event decoded (user/pyobj.c) into cause, object type, field and memory
 * region, and aggregated per process and per (cause, type, field, region).
 */
#ifndef COWTRACE_ATTRIB_H
#define COWTRACE_ATTRIB_H

#include <linux/types.h>
#include "cowtrace.h"
#include "pyobj.h"

struct tracees;

struct attrib_row {
	enum cow_cause cause;
	enum cow_field field;
	enum cow_region region;
	char type[64]; /* "" when unknown */
	unsigned long long pages;
};

struct attrib;

struct attrib *attrib_new(struct tracees *t);
void attrib_free(struct attrib *a);
void attrib_event(struct attrib *a, const struct cow_copy_event *e);
/* slot has called exec: forget what was learnt about its address space */
void attrib_on_exec(struct attrib *a, unsigned int slot);

/* Copies of slot attributed to each cause (NULL for a slot never seen). */
const unsigned long long *attrib_slot_causes(const struct attrib *a, unsigned int slot);
/* All rows, most pages first (sorted on each call). */
const struct attrib_row *attrib_rows(struct attrib *a, size_t *n);

#endif
