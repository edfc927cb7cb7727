/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef COWTRACE_HINDEX_H
#define COWTRACE_HINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A hash index into an array the caller owns: the one open-addressing table of cowtrace (interned
 * frame names, flame graph edges, Python code objects and stacks, summed report rows). The caller
 * keeps its items in an array of its own, in the order it made them, hashes and compares them
 * itself; the index only maps a 64-bit hash to the array indexes that might hold the key.
 *
 * Each slot keeps the item's hash beside its index, so that growing rehashes without asking the
 * caller anything, and a probe compares keys only where the whole hash matched. Linear probing in
 * a power-of-two table, doubled before it is more than half full: chains stay short, and a free
 * slot ends every one of them.
 *
 * The slot is taken from the hash's low bits: a hash whose low bits are poor (a product's) is
 * shifted down by its caller. Equal hashes are fine (each candidate is handed back in turn), only
 * slower.
 *
 * Looking up is inline and allocates nothing (the Python stacks are looked up once per copy):
 *
 *	size_t at;
 *	uint32_t i;
 *
 *	for (i = hindex_first(&x, h, &at); i != HINDEX_NONE; i = hindex_next(&x, h, &at))
 *		if (same_key(&items[i], key))
 *			return &items[i];
 *	if (!hindex_add(&x, h, n, at))	(items has room for one more)
 *		return memory short;
 *	items[n++] = the new item;
 *
 * The lookup that failed left at on the free slot that ends h's chain: hindex_add() puts the new
 * index there, without probing again, unless the table must grow first.
 */

#define HINDEX_NONE UINT32_MAX /* the end of a lookup; so no index is UINT32_MAX or above */

struct hindex_slot {
	uint64_t hash;
	uint32_t entry; /* the caller's index + 1; 0: a free slot */
};

struct hindex {
	struct hindex_slot *slots;
	size_t cap; /* slots, a power of two */
	size_t n;   /* indexes added */
};

/* A key of 64 bits in a small family (an address space's: the same key means another thing in
 * another family), hashed for an index. Fibonacci hashing: the product's high bits are its
 * well-mixed ones, and the index slots by the low bits, so they are shifted down. */
static inline uint64_t hindex_hash_key(unsigned int family, uint64_t key)
{
	return ((key ^ ((uint64_t)family << 48)) * 0x9e3779b97f4a7c15ULL) >> 17;
}

/* An empty index of cap slots (a power of two, at least 2), before any other call; false when
 * memory is short. */
bool hindex_init(struct hindex *x, size_t cap);
/* Harmless on a zeroed index, or twice. */
void hindex_free(struct hindex *x);
/* Empty again, keeping its slots: for a cache that starts over. */
void hindex_clear(struct hindex *x);
/* hindex_add() when the table must grow first (or at is no free slot): probes for the slot. */
bool hindex_add_grow(struct hindex *x, uint64_t hash, size_t index);

/* The probe from slot *at on: the index in the first slot that holds hash (*at is that slot),
 * or HINDEX_NONE at the free slot that ends the chain. For hindex_first() and hindex_next(). */
static inline uint32_t hindex_scan(const struct hindex *x, uint64_t hash, size_t *at)
{
	size_t mask = x->cap - 1, j = *at;
	const struct hindex_slot *s;

	for (s = &x->slots[j]; s->entry; j = (j + 1) & mask, s = &x->slots[j])
		if (s->hash == hash) {
			*at = j;
			return s->entry - 1;
		}
	*at = j;
	return HINDEX_NONE;
}

/* The first index added under hash, or HINDEX_NONE; *at is the cursor hindex_next() goes on
 * from. Hash collisions are the caller's to rule out, by comparing its keys. */
static inline uint32_t hindex_first(const struct hindex *x, uint64_t hash, size_t *at)
{
	*at = hash & (x->cap - 1);
	return hindex_scan(x, hash, at);
}

/* The next index added under hash after the one at *at, or HINDEX_NONE. Valid until the next
 * hindex_add() or hindex_clear(). */
static inline uint32_t hindex_next(const struct hindex *x, uint64_t hash, size_t *at)
{
	*at = (*at + 1) & (x->cap - 1);
	return hindex_scan(x, hash, at);
}

/*
 * Adds index (below HINDEX_NONE) under hash, after a lookup of hash (hindex_first() and
 * hindex_next() up to HINDEX_NONE) with no hindex_add() or hindex_clear() since: at is that
 * lookup's cursor. The table doubles first if it would be more than half full. False, with the
 * index as it was, when memory is short or index is too large.
 */
static inline bool hindex_add(struct hindex *x, uint64_t hash, size_t index, size_t at)
{
	if (2 * (x->n + 1) > x->cap || index >= HINDEX_NONE || at >= x->cap || x->slots[at].entry)
		return hindex_add_grow(x, hash, index);
	x->slots[at].hash = hash;
	x->slots[at].entry = index + 1;
	x->n++;
	return true;
}

/* The index in slot j (below cap), or HINDEX_NONE for a free slot: for walks in slot order. */
static inline uint32_t hindex_at(const struct hindex *x, size_t j)
{
	return x->slots[j].entry ? x->slots[j].entry - 1 : HINDEX_NONE;
}

#endif
