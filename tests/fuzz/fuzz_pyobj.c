// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The copy-event decoder (user/python/pyobj.c), with its type lookups served by the type validator
 * (user/python/pytypes.c) from a fake address space. Input:
 *   u8  layout of 3.8 + v % 8
 *   u8  the region /proc/PID/maps gave (any value: out-of-range ones too)
 *   u16 length of the ring-buffer record, then the record: a struct cow_copy_event or a prefix
 *       of it, as BPF writes it (user/trace/copy_event.c makes it whole)
 *   the memory image (fuzz.h) that the type lookups read
 * The event is decoded with the lookup, without one, and without a layout. The answer may be
 * anything coherent: named values in range, an object only with its type's name. The type
 * caches are made once per layout (fuzz_pytypes.c says why) and cleared for each run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "copy_event.h"
#include "fuzz.h"
#include "pylayout.h"
#include "pyobj.h"
#include "pytypes.h"

/* tests/fuzz/make_seeds.py writes events of this size */
_Static_assert(sizeof(struct cow_copy_event) == 272, "struct cow_copy_event changed size");

static void check(const struct py_decoded *d)
{
	if ((unsigned int)d->region >= REGION_COUNT || (unsigned int)d->field >= FIELD_COUNT ||
	    (unsigned int)d->cause >= CAUSE_COUNT)
		abort();
	if (!fz_terminated(d->type, sizeof(d->type)))
		abort();
	if ((d->object != 0) != (d->type[0] != 0) || (d->object != 0) != (d->type_ptr != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct py_type_cache *caches[8];
	struct fz in = {data, size};
	unsigned int v = fz_u8(&in) % 8;
	const struct py_layout *L = py_layout_for(3, 8 + v);
	enum cow_region region = (enum cow_region)fz_u8(&in);
	size_t len = fz_u16(&in);
	struct cow_copy_event e;
	struct py_type_lookup_ctx lctx;
	struct py_decoded d;
	struct mem_reader r;
	struct fz_mem m;
	uint8_t *rec;

	if (len > in.n)
		len = in.n;
	rec = malloc(len ? len : 1);
	if (!rec)
		abort();
	fz_take(&in, rec, len);
	if (copy_event_read(rec, len, &e)) {
		free(rec);
		return 0;
	}
	free(rec);
	fz_mem_load(&m, &in);
	r = fz_mem_reader(&m);
	lctx.reader = &r;
	if (!caches[v])
		caches[v] = py_type_cache_new(L);
	lctx.cache = caches[v];
	if (!lctx.cache)
		abort();
	py_type_cache_clear(lctx.cache);

	py_decode(L, &e, region, py_type_lookup_cb, &lctx, &d);
	check(&d);
	py_decode(L, &e, region, NULL, NULL, &d);
	check(&d);
	if (d.object)
		abort(); /* no way to read types: no object is ever named */
	py_decode(NULL, &e, region, py_type_lookup_cb, &lctx, &d);
	check(&d);
	if (d.object)
		abort();
	fz_mem_free(&m);
	return 0;
}
