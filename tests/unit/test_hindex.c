// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/lib/hindex.c: the hash index into a caller's array. Keys are found through growth, with
 * hashes that collide on purpose, chains that wrap around the end of the table, and absent keys
 * that must end their lookup at a free slot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hindex.h"

/* The caller's side: an array of keys, in the order added, each with its hash. */
struct items {
	uint64_t key[8192];
	size_t n;
	uint64_t (*hash)(uint64_t key);
	struct hindex x;
};

/* The index of key, or HINDEX_NONE; *candidates counts the indexes the lookup handed back. */
static uint32_t find(const struct items *it, uint64_t key, size_t *candidates, size_t *at)
{
	uint64_t h = it->hash(key);
	uint32_t i;

	*candidates = 0;
	for (i = hindex_first(&it->x, h, at); i != HINDEX_NONE; i = hindex_next(&it->x, h, at)) {
		++*candidates;
		/* only indexes added under this very hash */
		assert_true(i < it->n);
		assert_true(it->hash(it->key[i]) == h);
		if (it->key[i] == key)
			return i;
	}
	return HINDEX_NONE;
}

/* Adds key if absent (as every caller does it: a lookup, then hindex_add at its cursor). */
static void add(struct items *it, uint64_t key)
{
	size_t candidates, at;

	if (find(it, key, &candidates, &at) != HINDEX_NONE)
		return;
	assert_true(hindex_add(&it->x, it->hash(key), it->n, at));
	it->key[it->n++] = key;
	assert_int_equal(it->x.n, it->n);
}

/* keys first .. first + count - 1, added in that order to an empty index (so key first + k is
 * index k) */
static void add_keys(struct items *it, uint64_t first, size_t count)
{
	for (size_t k = 0; k < count; k++)
		add(it, first + k);
}

/* each of keys first .. first + count - 1 found at index k; candidates: if not 0, how many
 * indexes each lookup must have handed back */
static void expect_keys(const struct items *it, uint64_t first, size_t count, size_t candidates)
{
	size_t seen, at;

	for (size_t k = 0; k < count; k++) {
		assert_int_equal(find(it, first + k, &seen, &at), k);
		if (candidates)
			assert_int_equal(seen, candidates);
	}
}

/* a poor hash on purpose: runs of four keys share one */
static uint64_t quarter(uint64_t key)
{
	return key / 4;
}

/* the last slot of an 8-slot table (and of every larger one: 7 is below each cap) */
static uint64_t last_of_8(uint64_t key)
{
	return 7;
}

/* the same slot at every size (low bits all 1), but hashes that differ above them */
static uint64_t high_bits(uint64_t key)
{
	return (key << 40) | 0xffffffffffULL;
}

static struct items *items_new(uint64_t (*hash)(uint64_t), size_t cap)
{
	struct items *it = calloc(1, sizeof(*it));

	assert_non_null(it);
	it->hash = hash;
	assert_true(hindex_init(&it->x, cap));
	assert_int_equal(it->x.cap, cap);
	return it;
}

static void items_free(struct items *it)
{
	hindex_free(&it->x);
	hindex_free(&it->x); /* twice is harmless */
	free(it);
}

/* 5000 keys from 4 slots up: every growth keeps every key, and the table is never more than half
 * full; keys never added are not found, and a key added twice is there once */
static void test_growth_and_collisions(void **state)
{
	struct items *it = items_new(quarter, 4);
	size_t candidates, at;
	uint64_t k;

	for (k = 0; k < 5000; k++) {
		add(it, 3 * k);
		add(it, 3 * k); /* found, not added again */
		assert_true(2 * it->x.n <= it->x.cap);
	}
	assert_int_equal(it->n, 5000);
	assert_int_equal(it->x.cap, 16384); /* doubled as it passed 2, 4, ... 4096 indexes */
	for (k = 0; k < 5000; k++) {
		assert_int_equal(find(it, 3 * k, &candidates, &at), k);
		/* 3k / 4 is shared by at most two of the keys 0, 3, 6, ... */
		assert_true(candidates <= 2);
		/* absent: 3k + 1 and 3k + 2, some under the hash of a present key */
		assert_int_equal(find(it, 3 * k + 1, &candidates, &at), HINDEX_NONE);
		assert_int_equal(find(it, 3 * k + 2, &candidates, &at), HINDEX_NONE);
		assert_int_equal(it->x.slots[at].entry, 0); /* a lookup ends at a free slot */
	}
	items_free(it);
}

/* one chain that starts in the last slot and wraps around to slot 0, then moves with growth */
static void test_wrap_around(void **state)
{
	struct items *it = items_new(last_of_8, 8);
	size_t candidates, at, j;
	uint64_t k;

	add_keys(it, 100, 4);
	assert_int_equal(it->x.cap, 8); /* 4 of 8: half full, not more */
	/* slot 7, then 0, 1, 2 */
	assert_int_equal(hindex_at(&it->x, 7), 0);
	assert_int_equal(hindex_at(&it->x, 0), 1);
	assert_int_equal(hindex_at(&it->x, 1), 2);
	assert_int_equal(hindex_at(&it->x, 2), 3);
	for (j = 3; j < 7; j++)
		assert_int_equal(hindex_at(&it->x, j), HINDEX_NONE);
	for (k = 0; k < 4; k++) {
		assert_int_equal(find(it, 100 + k, &candidates, &at), k);
		assert_int_equal(candidates, k + 1); /* each earlier one was a candidate */
	}
	/* absent: the whole chain is compared, and the lookup stops at slot 3 */
	assert_int_equal(find(it, 99, &candidates, &at), HINDEX_NONE);
	assert_int_equal(candidates, 4);
	assert_int_equal(at, 3);

	/* a fifth would make it more than half full: 16 slots, rehashed from the kept hashes in
	 * slot order (the wrapped 0, 1, 2 first, then 7), so the chain is 7..11, unwrapped */
	add(it, 104);
	assert_int_equal(it->x.cap, 16);
	assert_int_equal(hindex_at(&it->x, 7), 1);
	assert_int_equal(hindex_at(&it->x, 8), 2);
	assert_int_equal(hindex_at(&it->x, 9), 3);
	assert_int_equal(hindex_at(&it->x, 10), 0);
	assert_int_equal(hindex_at(&it->x, 11), 4);
	expect_keys(it, 100, 5, 0);
	assert_int_equal(hindex_at(&it->x, 0), HINDEX_NONE);
	items_free(it);
}

/* hashes that differ only above the slot bits: one chain, but each lookup gets one candidate,
 * the stored hash ruling out the others */
static void test_hash_compared_whole(void **state)
{
	struct items *it = items_new(high_bits, 2);
	size_t candidates, at;

	add_keys(it, 0, 1000);
	expect_keys(it, 0, 1000, 1);
	assert_int_equal(find(it, 1000, &candidates, &at), HINDEX_NONE);
	assert_int_equal(candidates, 0);
	items_free(it);
}

/* a cache that starts over: empty again, same slots, and filled anew */
static void test_clear(void **state)
{
	struct items *it = items_new(quarter, 64);
	size_t candidates, at;
	uint64_t k;

	add_keys(it, 0, 20);
	hindex_clear(&it->x);
	assert_int_equal(it->x.n, 0);
	assert_int_equal(it->x.cap, 64);
	for (k = 0; k < 20; k++)
		assert_int_equal(find(it, k, &candidates, &at), HINDEX_NONE);
	it->n = 0;
	add_keys(it, 50, 20);
	expect_keys(it, 50, 20, 0);
	items_free(it);
}

/* what is refused leaves the index as it was; a cursor that is no free slot is not trusted */
static void test_refused_and_stale_cursor(void **state)
{
	struct items *it = items_new(last_of_8, 8);
	struct hindex z = {0};
	size_t candidates, at;

	assert_false(hindex_init(&z, 6)); /* not a power of two */
	assert_false(hindex_init(&z, 1));
	hindex_free(&z);
	hindex_clear(&z); /* harmless on an empty index */

	add(it, 1);
	assert_int_equal(find(it, 2, &candidates, &at), HINDEX_NONE);
	assert_false(hindex_add(&it->x, 7, HINDEX_NONE, at));
	assert_int_equal(it->x.n, 1);
	assert_int_equal(hindex_at(&it->x, at), HINDEX_NONE);

	/* at names slot 7, taken by key 1: the index probes for itself */
	assert_true(hindex_add(&it->x, 7, 1, 7));
	it->key[it->n++] = 2;
	assert_int_equal(hindex_at(&it->x, 7), 0);
	assert_int_equal(find(it, 1, &candidates, &at), 0);
	assert_int_equal(find(it, 2, &candidates, &at), 1);
	items_free(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_and_collisions),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_hash_compared_whole),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_refused_and_stale_cursor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
