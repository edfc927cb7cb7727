/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef COWTRACE_SUMTAB_H
#define COWTRACE_SUMTAB_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Rows summed by key: fixed-size rows, each with a page count (an unsigned long long at
 * pages_off, nonzero in every row added) and a key the caller hashes and compares; adding a row
 * whose key is there adds its pages. An open-addressing table that doubles at half full,
 * written here because glibc's hsearch() has one table per process and cannot be walked.
 */
struct sumtab {
	unsigned char *slots;
	size_t row_size, pages_off;
	size_t cap, n; /* slots, rows in use */
	unsigned long (*hash)(const void *row);
	bool (*equal)(const void *x, const void *y);
	void *sorted; /* the last sumtab_sorted() result */
};

/* false when memory is short */
bool sumtab_init(struct sumtab *t, size_t row_size, size_t pages_off,
		 unsigned long (*hash)(const void *row),
		 bool (*equal)(const void *x, const void *y));
/* Memory short when the table must grow: the row is not counted. */
void sumtab_add(struct sumtab *t, const void *row);
/* The rows, in cmp's order, valid until the next call or sumtab_free(); NULL (and *n 0) when
 * memory is short. */
const void *sumtab_sorted(struct sumtab *t, int (*cmp)(const void *, const void *), size_t *n);
void sumtab_free(struct sumtab *t);

#endif
