// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rows summed by key (see sumtab.h): the report's rows by object and by stack. */
#include <stdlib.h>
#include <string.h>
#include "sumtab.h"

#define SUMTAB_FIRST_CAP 1024 /* index slots to start with: a power of two */

static unsigned char *row_at(const struct sumtab *t, size_t i)
{
	return t->rows + i * t->row_size;
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
	/* as many rows as the index takes before it first grows */
	t->cap = SUMTAB_FIRST_CAP / 2;
	t->rows = calloc(t->cap, row_size);
	if (!t->rows || !hindex_init(&t->index, SUMTAB_FIRST_CAP)) {
		sumtab_free(t);
		return false;
	}
	return true;
}

void sumtab_add(struct sumtab *t, const void *row)
{
	unsigned long h = t->hash(row);
	unsigned long long sum, pages;
	unsigned char *r;
	size_t at;
	uint32_t i;

	for (i = hindex_first(&t->index, h, &at); i != HINDEX_NONE;
	     i = hindex_next(&t->index, h, &at)) {
		r = row_at(t, i);
		if (!t->equal(r, row))
			continue;
		memcpy(&sum, r + t->pages_off, sizeof(sum));
		memcpy(&pages, (const unsigned char *)row + t->pages_off, sizeof(pages));
		sum += pages;
		memcpy(r + t->pages_off, &sum, sizeof(sum));
		return;
	}
	if (t->n == t->cap) {
		unsigned char *more = t->cap <= SIZE_MAX / 2 / t->row_size
					  ? realloc(t->rows, 2 * t->cap * t->row_size)
					  : NULL;

		if (!more)
			return;
		t->rows = more;
		t->cap *= 2;
	}
	if (!hindex_add(&t->index, h, t->n, at))
		return;
	memcpy(row_at(t, t->n++), row, t->row_size);
}

const void *sumtab_sorted(struct sumtab *t, int (*cmp)(const void *, const void *), size_t *n)
{
	size_t j, k = 0;
	uint32_t i;

	free(t->sorted);
	*n = 0;
	t->sorted = calloc(t->n ? t->n : 1, t->row_size);
	if (!t->sorted)
		return NULL;
	/*
	 * Handed to qsort() in the index's slot order, not in the order first added: the report's
	 * orders leave ties (rows of equal pages and sort keys), and qsort() keeps those in an
	 * order that depends on its input. Slot order is the order the report always had, when the
	 * rows lived in the slots themselves.
	 */
	for (j = 0; j < t->index.cap && k < t->n; j++) {
		i = hindex_at(&t->index, j);
		if (i != HINDEX_NONE)
			memcpy((unsigned char *)t->sorted + k++ * t->row_size, row_at(t, i),
			       t->row_size);
	}
	qsort(t->sorted, k, t->row_size, cmp);
	*n = k;
	return t->sorted;
}

void sumtab_free(struct sumtab *t)
{
	free(t->rows);
	free(t->sorted);
	hindex_free(&t->index);
	t->rows = t->sorted = NULL;
	t->n = t->cap = 0;
}
