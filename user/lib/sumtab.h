/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef COWTRACE_SUMTAB_H
#define COWTRACE_SUMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include "hindex.h"

/*
 * Rows summed by key: fixed-size rows, each with a page count (an unsigned long long at
 * pages_off) and a key the caller hashes and compares; adding a row whose key is there adds its
 * pages. The rows are kept in the order first added, found through a hash index (hindex.h);
 * written here because glibc's hsearch() has one table per process and cannot be walked.
 */
struct sumtab {
	unsigned char *rows; /* n rows of row_size bytes; NULL when sumtab_init() failed */
	size_t row_size, pages_off;
	size_t n, cap; /* rows in use, rows allocated */
	struct hindex index; /* key hash -> row */
	unsigned long (*hash)(const void *row);
	bool (*equal)(const void *x, const void *y);
	void *sorted; /* the last sumtab_sorted() result */
};

/* FNV-1a, a field at a time, for the hash functions of callers: start from SUMTAB_HASH_SEED */
#define SUMTAB_HASH_SEED 1469598103934665603UL
static inline unsigned long sumtab_hash_u64(unsigned long h, unsigned long long v)
{
	return (h ^ v) * 1099511628211UL;
}

/* the n values of v, in turn: a row's numeric key fields */
static inline unsigned long sumtab_hash_u64s(unsigned long h, const unsigned long long *v,
					     size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = sumtab_hash_u64(h, v[i]);
	return h;
}

/* the bytes of s up to its NUL or max bytes, whichever comes first */
static inline unsigned long sumtab_hash_str(unsigned long h, const char *s, size_t max)
{
	size_t i;

	for (i = 0; i < max && s[i]; i++)
		h = sumtab_hash_u64(h, (unsigned char)s[i]);
	return h;
}

/* false when memory is short */
bool sumtab_init(struct sumtab *t, size_t row_size, size_t pages_off,
		 unsigned long (*hash)(const void *row),
		 bool (*equal)(const void *x, const void *y));
/* Memory short when a new key needs room: the row is not counted. */
void sumtab_add(struct sumtab *t, const void *row);
/* The rows, in cmp's order, valid until the next call or sumtab_free(); NULL (and *n 0) when
 * memory is short. */
const void *sumtab_sorted(struct sumtab *t, int (*cmp)(const void *, const void *), size_t *n);
void sumtab_free(struct sumtab *t);

#endif
