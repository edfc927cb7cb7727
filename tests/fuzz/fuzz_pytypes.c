// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The type validator (user/python/pytypes.c) on a fake address space. Input: a version byte (layout
 * of 3.8 + v % 8), a count byte (1 + c % 8 pointers), the candidate pointers (u64 each), then
 * the memory image (fuzz.h). Each pointer is looked up twice in one cache (the second time
 * from it), and once more after the cache is cleared; the answers must agree, and a type must
 * be one py_decode() can use: a named, terminated, plausible size. The caches (half a megabyte
 * each, which ASan would map and unmap on each allocation) are made once per layout and cleared
 * for each run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pylayout.h"
#include "pytypes.h"

#define PTRS_MAX 8

static void check(const struct py_type_info *ti, bool ok)
{
	if (ok != ti->valid)
		abort();
	if (!ok)
		return;
	if (!ti->name[0] || !fz_terminated(ti->name, sizeof(ti->name)) ||
	    ti->basicsize < PY_OBJECT_HEAD || ti->basicsize > (1UL << 20) ||
	    !(ti->flags & PY_TPFLAGS_READY))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = {data, size};
	static struct py_type_cache *caches[8];
	unsigned int v = fz_u8(&in) % 8, n = 1 + fz_u8(&in) % PTRS_MAX;
	struct py_type_info first[PTRS_MAX], ti;
	bool ok[PTRS_MAX], again;
	unsigned long long ptr[PTRS_MAX];
	struct py_type_cache *c;
	struct mem_reader r;
	struct fz_mem m;

	for (unsigned int i = 0; i < n; i++)
		ptr[i] = fz_u64(&in);
	fz_mem_load(&m, &in);
	r = fz_mem_reader(&m);
	if (!caches[v])
		caches[v] = py_type_cache_new(py_layout_for(3, 8 + v));
	c = caches[v];
	if (!c)
		abort();
	py_type_cache_clear(c);
	for (unsigned int i = 0; i < n; i++) {
		ok[i] = py_type_lookup(c, &r, ptr[i], &first[i]);
		check(&first[i], ok[i]);
	}
	for (unsigned int i = 0; i < n; i++) {
		again = py_type_lookup(c, &r, ptr[i], &ti);
		check(&ti, again);
		/* nothing changed in memory: a type stays one, with the same name */
		if (ok[i] && (!again || strcmp(ti.name, first[i].name)))
			abort();
	}
	py_type_cache_clear(c);
	for (unsigned int i = 0; i < n; i++) {
		again = py_type_lookup(c, &r, ptr[i], &ti);
		check(&ti, again);
	}
	fz_mem_free(&m);
	return 0;
}
