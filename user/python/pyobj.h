// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Which Python object, which field of it, and which cause: the decoder of one copy event.
 *
 * Everything it looks at is memory of another process, captured in BPF just before the write
 * (the event's window, pool header and block head) or read through the caller's type lookup.
 * All of it is untrusted: a garbage image decodes to "unknown", never to a wrong type or field.
 * The rules, and why each holds in CPython, are in pyobj.c.
 */
#ifndef COWTRACE_PYOBJ_H
#define COWTRACE_PYOBJ_H

#include <stdbool.h>
#include <linux/types.h>
#include "cowtrace.h"
#include "pylayout.h"

/* JSON names: cow_cause_name() etc.; other code and the report rely on the exact strings. */
enum cow_cause {
	CAUSE_GC,		 /* "gc": written while the thread ran a collection */
	CAUSE_REFCOUNT,		 /* "refcount": ob_refcnt of a live object */
	CAUSE_GC_LIST,		 /* "gc_list": a GC header outside a collection (track/untrack) */
	CAUSE_ALLOC_INTO_SHARED, /* "alloc_into_shared": a block that was free when shared */
	CAUSE_MUTATION,		 /* "mutation": pre-header, ob_type or payload of a live object */
	CAUSE_ALLOCATOR,	 /* "allocator": pymalloc's pool header */
	CAUSE_NATIVE,		 /* "native": not a Python object: malloc, stacks, C data */
	CAUSE_UNKNOWN,		 /* "unknown" */
	CAUSE_COUNT,
};

enum cow_field {
	FIELD_GC_HEADER,   /* "gc_header": PyGC_Head, 16 bytes before the object */
	FIELD_PRE_HEADER,  /* "pre_header": managed dict / weakref pointers (3.11+) */
	FIELD_REFCNT,	   /* "ob_refcnt" */
	FIELD_TYPE,	   /* "ob_type" */
	FIELD_PAYLOAD,	   /* "payload": the rest of the object */
	FIELD_POOL_HEADER, /* "pool_header": pymalloc's struct pool_header */
	FIELD_FREE_BLOCK,  /* "free_block": a pymalloc block with no live object */
	FIELD_UNKNOWN,	   /* "unknown" */
	FIELD_COUNT,
};

enum cow_region {
	REGION_PYMALLOC,    /* "pymalloc": inside a pool whose header validates */
	REGION_MALLOC,	    /* "malloc": the [heap] */
	REGION_INTERP_DATA, /* "interp_data": libpython / the executable's .data and .bss */
	REGION_STACK,	    /* "stack": the writing thread's stack */
	REGION_OTHER,	    /* "other": any other mapping (anonymous mmaps, other libraries) */
	REGION_UNKNOWN,	    /* "unknown": no mapping known */
	REGION_COUNT,
};

/* "unknown" for values out of range */
const char *cow_cause_name(enum cow_cause c);
const char *cow_field_name(enum cow_field f);
const char *cow_region_name(enum cow_region r);

struct py_type_info {
	bool valid;
	unsigned long flags;	 /* tp_flags */
	unsigned long basicsize; /* tp_basicsize (>= 16 when valid) */
	char name[64];		 /* tp_name, NUL-terminated */
};

/*
 * Validates and describes a candidate type pointer in the target (pytypes.h implements it on a
 * cache and a memory reader); false, with out->valid false, when it is not a type object. The
 * decoder needs all of valid, flags, basicsize and name: it takes a type with basicsize < 16
 * or an empty name for no type.
 */
typedef bool (*py_type_lookup_fn)(unsigned long long type_ptr, struct py_type_info *out, void *ctx);

struct py_decoded {
	enum cow_region region;
	enum cow_field field;
	enum cow_cause cause;
	unsigned long long object;   /* object start (address of ob_refcnt), 0 if unknown */
	unsigned long long type_ptr; /* 0 if unknown */
	char type[64];		     /* tp_name, "" if unknown */
};

/*
 * Decode one EV_COPY event. map_region is what /proc/PID/maps says about e->addr (the caller
 * tells the [heap], the interpreter's data and bss, the writing thread's stack and other
 * mappings apart); it becomes REGION_PYMALLOC when the captured pool header validates. L NULL
 * (not a CPython process) or lookup NULL (no way to read types): no object is ever named.
 * Never fails; *out is always fully written.
 */
void py_decode(const struct py_layout *L, const struct cow_copy_event *e,
	       enum cow_region map_region, py_type_lookup_fn lookup, void *ctx,
	       struct py_decoded *out);

#endif
