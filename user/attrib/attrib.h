/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Attribution: each copy event decoded (user/python/pyobj.c) into cause, object type, field and
 * memory region, and aggregated per process and per (cause, type, field, region).
 */
#ifndef COWTRACE_ATTRIB_H
#define COWTRACE_ATTRIB_H

#include <linux/types.h>
#include "cowtrace.h"
#include "pyobj.h"
#include "pystacks.h"

struct tracees;

struct attrib_row {
	enum cow_cause cause;
	enum cow_field field;
	enum cow_region region;
	char type[64]; /* "" when unknown */
	unsigned long long pages;
};

/* Copies by where they were made: process role and comm, cause, Python stack, object. */
struct attrib_stack_row {
	unsigned int role;
	int pid; /* with attrib_stacks_per_process(), else 0: rows merged by role and comm */
	char comm[16];
	enum cow_cause cause;
	unsigned int gc_gen; /* for cause gc: 0-2, or GC_GEN_UNKNOWN */
	unsigned int family;
	unsigned long long stack_id; /* 0: no Python stack known */
	enum cow_field field;
	char type[64];
	const struct pystack *stack; /* named frames, NULL when unknown */
	unsigned int native_id;	      /* --native: 1 + BPF stack id, 0 none */
	const struct pystack *native; /* its named frames, NULL when none */
	unsigned long long pages;
};

struct attrib;

/* stacks: also aggregate by Python stack (the BPF side walks them); native: and by native
 * stack */
struct attrib *attrib_new(struct tracees *t, bool stacks, bool native);
void attrib_free(struct attrib *a);
void attrib_event(struct attrib *a, const struct cow_copy_event *e);
/* slot has called exec: forget what was learnt about its address space */
void attrib_on_exec(struct attrib *a, unsigned int slot);

/* Copies of slot attributed to each cause (NULL for a slot never seen). */
const unsigned long long *attrib_slot_causes(const struct attrib *a, unsigned int slot);
/*
 * Of a slot's gc copies (decoded), those where the collector wrote the GC header of an object:
 * the first write to a page the worker had not written yet, so an object the master had
 * before fork, in a generation the worker's collector traversed. gc.freeze() at the right time
 * leaves none; what else it leaves is the collector freeing objects (pool and free-list
 * writes).
 */
unsigned long long attrib_slot_gc_headers(const struct attrib *a, unsigned int slot);
/* Stack rows per process, not merged by role and program (--per-process). */
void attrib_stacks_per_process(struct attrib *a);
/* A reader of one live process's memory (/proc/PID/mem, procfs_mem_read()), for tests. */
struct mem_reader mem_reader_pid(int *pid);
/* Rows by stack (attrib_new with stacks), most pages first. */
const struct attrib_stack_row *attrib_stack_rows(struct attrib *a, size_t *n);
/* All rows, most pages first (sorted on each call). */
const struct attrib_row *attrib_rows(struct attrib *a, size_t *n);

#endif
