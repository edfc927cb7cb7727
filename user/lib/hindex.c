// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A hash index into the caller's array (see hindex.h): what is not on the lookup path. */
#include <stdlib.h>
#include <string.h>
#include "hindex.h"

bool hindex_init(struct hindex *x, size_t cap)
{
	memset(x, 0, sizeof(*x));
	/* a power of two: slots are hashes masked */
	if (cap < 2 || (cap & (cap - 1)))
		return false;
	x->slots = calloc(cap, sizeof(*x->slots));
	if (!x->slots)
		return false;
	x->cap = cap;
	return true;
}

void hindex_free(struct hindex *x)
{
	free(x->slots);
	memset(x, 0, sizeof(*x));
}

void hindex_clear(struct hindex *x)
{
	if (x->slots)
		memset(x->slots, 0, x->cap * sizeof(*x->slots));
	x->n = 0;
}

/* Puts hash and entry in the first free slot of hash's chain; there is one (at most half full). */
static void put(struct hindex_slot *slots, size_t cap, uint64_t hash, uint32_t entry)
{
	size_t j = hash & (cap - 1);

	while (slots[j].entry)
		j = (j + 1) & (cap - 1);
	slots[j].hash = hash;
	slots[j].entry = entry;
}

/*
 * Twice the slots, filled from the hashes kept in the old ones. The old slots are taken in slot
 * order: the new table is then laid out as the hand-written tables this one replaced laid
 * theirs, which sumtab_sorted() relies on (see there).
 */
static bool grow(struct hindex *x)
{
	struct hindex_slot *bigger;
	size_t j;

	if (x->cap > SIZE_MAX / 2 / sizeof(*bigger))
		return false;
	bigger = calloc(2 * x->cap, sizeof(*bigger));
	if (!bigger)
		return false;
	for (j = 0; j < x->cap; j++)
		if (x->slots[j].entry)
			put(bigger, 2 * x->cap, x->slots[j].hash, x->slots[j].entry);
	free(x->slots);
	x->slots = bigger;
	x->cap *= 2;
	return true;
}

bool hindex_add_grow(struct hindex *x, uint64_t hash, size_t index)
{
	if (index >= HINDEX_NONE)
		return false;
	if (2 * (x->n + 1) > x->cap && !grow(x))
		return false;
	put(x->slots, x->cap, hash, index + 1);
	x->n++;
	return true;
}
