// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* user/lib/sumtab.c: rows summed by key, through growth, and handed back in the caller's order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sumtab.h"

struct row {
	unsigned int key;
	unsigned long long pages;
};

/* a poor hash on purpose: runs of colliding keys exercise the probing */
static unsigned long hash(const void *r)
{
	return ((const struct row *)r)->key / 4;
}

static bool equal(const void *x, const void *y)
{
	return ((const struct row *)x)->key == ((const struct row *)y)->key;
}

static int by_key(const void *x, const void *y)
{
	unsigned int a = ((const struct row *)x)->key, b = ((const struct row *)y)->key;

	return a < b ? -1 : a > b;
}

static void test_sums_through_growth(void **state)
{
	struct sumtab t;
	const struct row *rows;
	size_t n, i;
	unsigned int k;

	(void)state;
	assert_true(sumtab_init(&t, sizeof(struct row), offsetof(struct row, pages), hash, equal));
	/* 5000 keys (the table starts at 1024 slots and doubles at half full), key k added k % 3
	 * + 1 times with k + 1 pages each */
	for (k = 0; k < 5000; k++)
		for (i = 0; i <= k % 3; i++)
			sumtab_add(&t, &(struct row){.key = k, .pages = k + 1});
	assert_int_equal(t.n, 5000);
	assert_int_equal(t.index.cap, 16384);
	rows = sumtab_sorted(&t, by_key, &n);
	assert_non_null(rows);
	assert_int_equal(n, 5000);
	for (k = 0; k < 5000; k++) {
		assert_int_equal(rows[k].key, k);
		assert_int_equal(rows[k].pages, (unsigned long long)(k + 1) * (k % 3 + 1));
	}
	sumtab_free(&t);
}

/* the same slot for every key, 3 before the end of the table at any size */
static unsigned long same_hash(const void *r)
{
	return ~0UL - 2;
}

/* every key in one probe chain, wrapping around the end of the table, through two growths: a
 * key is found wherever the chain put it, and never twice */
static void test_one_chain(void **state)
{
	struct sumtab t;
	const struct row *rows;
	size_t n;
	unsigned int k, round;

	(void)state;
	assert_true(sumtab_init(&t, sizeof(struct row), offsetof(struct row, pages), same_hash,
				equal));
	for (round = 0; round < 3; round++)
		for (k = 0; k < 1500; k++)
			sumtab_add(&t, &(struct row){.key = 1500 - k, .pages = round + 1});
	assert_int_equal(t.n, 1500);
	rows = sumtab_sorted(&t, by_key, &n);
	assert_non_null(rows);
	assert_int_equal(n, 1500);
	for (k = 0; k < 1500; k++) {
		assert_int_equal(rows[k].key, k + 1);
		assert_int_equal(rows[k].pages, 6);
	}
	sumtab_free(&t);
}

static void test_empty(void **state)
{
	struct sumtab t;
	size_t n = 99;

	(void)state;
	assert_true(sumtab_init(&t, sizeof(struct row), offsetof(struct row, pages), hash, equal));
	assert_non_null(sumtab_sorted(&t, by_key, &n));
	assert_int_equal(n, 0);
	sumtab_free(&t);
	sumtab_free(&t); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sums_through_growth),
		cmocka_unit_test(test_one_chain),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
