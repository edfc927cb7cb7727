// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rows summed by key (see sumtab.h): the report's rows by object and by stack. */
#include <stdlib.h>
#include <string.h>
#include "sumtab.h"

#define SUMTAB_FIRST_CAP 1024 /* a power of two: indexes are masked */

static unsigned char *slot_at(unsigned char *slots, const struct sumtab *t, size_t i)
{
	return slots + i * t->row_size;
}

static unsigned long long pages_of(const struct sumtab *t, const unsigned char *row)
{
	unsigned long long pages;

	memcpy(&pages, row + t->pages_off, sizeof(pages));
	return pages;
}

/* Adds row to slots (cap of them, a power of two); *n counts the rows in use. */
static void put(const struct sumtab *t, unsigned char *slots, size_t cap, const void *row,
		size_t *n)
{
	size_t i = t->hash(row) & (cap - 1);
	unsigned char *s = slot_at(slots, t, i);
	unsigned long long sum;

	while (pages_of(t, s) && !t->equal(s, row)) {
		i = (i + 1) & (cap - 1);
		s = slot_at(slots, t, i);
	}
	if (pages_of(t, s)) {
		sum = pages_of(t, s) + pages_of(t, row);
		memcpy(s + t->pages_off, &sum, sizeof(sum));
		return;
	}
	memcpy(s, row, t->row_size);
	(*n)++;
}

bool sumtab_init(struct sumtab *t, size_t row_size, size_t pages_off,
		 unsigned long (*hash)(const void *row),
		 bool (*equal)(const void *x, const void *y))
{
	memset(t, 0, sizeof(*t));
	t->row_size = row_size;
	t->pages_off = pages_off;
	t->hash = hash;
	t->equal = equal;
	t->cap = SUMTAB_FIRST_CAP;
	t->slots = calloc(t->cap, row_size);
	return t->slots != NULL;
}

void sumtab_add(struct sumtab *t, const void *row)
{
	size_t i, n = 0;

	if (2 * (t->n + 1) > t->cap) {
		unsigned char *bigger = calloc(2 * t->cap, t->row_size);

		if (!bigger)
			return;
		for (i = 0; i < t->cap; i++)
			if (pages_of(t, slot_at(t->slots, t, i)))
				put(t, bigger, 2 * t->cap, slot_at(t->slots, t, i), &n);
		free(t->slots);
		t->slots = bigger;
		t->cap *= 2;
	}
	put(t, t->slots, t->cap, row, &t->n);
}

const void *sumtab_sorted(struct sumtab *t, int (*cmp)(const void *, const void *), size_t *n)
{
	size_t i, k = 0;

	free(t->sorted);
	*n = 0;
	t->sorted = calloc(t->n ? t->n : 1, t->row_size);
	if (!t->sorted)
		return NULL;
	for (i = 0; i < t->cap && k < t->n; i++)
		if (pages_of(t, slot_at(t->slots, t, i)))
			memcpy((unsigned char *)t->sorted + k++ * t->row_size,
			       slot_at(t->slots, t, i), t->row_size);
	qsort(t->sorted, k, t->row_size, cmp);
	*n = k;
	return t->sorted;
}

void sumtab_free(struct sumtab *t)
{
	free(t->slots);
	free(t->sorted);
	t->slots = t->sorted = NULL;
}
