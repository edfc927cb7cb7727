// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Is a pointer found in a traced process a CPython type object, and what is its name? Reads
 * the target through an abstract reader (/proc/PID/mem in cowtrace, synthetic memory in
 * the unit tests) and caches the answers per pointer. The target's memory is untrusted: every
 * pointer is checked before it is followed and every walk is bounded.
 */
#ifndef COWTRACE_PYTYPES_H
#define COWTRACE_PYTYPES_H

#include <stdbool.h>
#include <stddef.h>
#include "pylayout.h"
#include "pyobj.h"

struct mem_reader {
	/* 0, or -errno; never a partial read (a read that falls short is an error) */
	int (*read)(void *ctx, unsigned long long addr, void *buf, size_t len);
	void *ctx;
};

struct py_type_cache;

/* NULL when L is NULL or memory is short. One cache per address space (or per tree of forks
 * of one exec, which share their types). */
struct py_type_cache *py_type_cache_new(const struct py_layout *L);
void py_type_cache_free(struct py_type_cache *c);
/* forget everything (the process has called exec) */
void py_type_cache_clear(struct py_type_cache *c);

/*
 * type_ptr is a type object T when: T is 8-byte aligned and readable; T->ob_type = M is
 * PyType_Type (the one type whose ob_type is itself, named "type") or a metatype (M->ob_type is
 * PyType_Type), and M's tp_flags have Py_TPFLAGS_TYPE_SUBCLASS; T's reference count is a live
 * one; tp_flags have Py_TPFLAGS_READY; tp_basicsize is sane; tp_name is NUL-terminated within 64
 * bytes and made of identifier characters, '.', '<', '>' and '-' ("method-wrapper"). Types with
 * longer or non-ASCII names are not recognised (their objects stay unknown). Every answer, yes or
 * no, is cached per pointer; a "no" is re-checked after a while, since a type may be created there
 * later. out is always written (out->valid false when not a type).
 */
bool py_type_lookup(struct py_type_cache *c, const struct mem_reader *r,
		    unsigned long long type_ptr, struct py_type_info *out);

/* Cache effectiveness, for -v output. */
void py_type_cache_stats(const struct py_type_cache *c, unsigned long long *hits,
			 unsigned long long *misses);

/* A py_type_lookup_fn for py_decode(): ctx is a struct py_type_lookup_ctx. */
struct py_type_lookup_ctx {
	struct py_type_cache *cache;
	const struct mem_reader *reader;
};
bool py_type_lookup_cb(unsigned long long type_ptr, struct py_type_info *out, void *ctx);

#endif
