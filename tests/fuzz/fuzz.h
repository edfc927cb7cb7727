/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the libFuzzer harnesses share: a cursor over the input, and a fake address space made
 * from it and read through a struct mem_reader, as cowtrace reads a target's /proc/PID/mem.
 *
 * A memory image is the rest of an input after the harness's own header: segments, each a u64
 * address, a u16 length and that many bytes (little-endian), until the input ends; the last
 * one keeps what the input still has. Each segment is copied to a heap block of its own size,
 * so that ASan catches a read past it, and a read is served only when one segment holds all of
 * it: /proc/PID/mem gives all or nothing. tests/fuzz/make_seeds.py writes the same format.
 */
#ifndef COWTRACE_FUZZ_H
#define COWTRACE_FUZZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pytypes.h"

struct fz {
	const uint8_t *p;
	size_t n;
};

/* up to len bytes into buf, zero-filled past the end of the input; returns the bytes taken */
static inline size_t fz_take(struct fz *in, void *buf, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memset(buf, 0, len);
	if (k)
		memcpy(buf, in->p, k);
	in->p += k;
	in->n -= k;
	return k;
}

static inline uint8_t fz_u8(struct fz *in)
{
	uint8_t v;

	fz_take(in, &v, sizeof(v));
	return v;
}

static inline uint16_t fz_u16(struct fz *in)
{
	uint16_t v;

	fz_take(in, &v, sizeof(v));
	return v;
}

static inline uint32_t fz_u32(struct fz *in)
{
	uint32_t v;

	fz_take(in, &v, sizeof(v));
	return v;
}

static inline uint64_t fz_u64(struct fz *in)
{
	uint64_t v;

	fz_take(in, &v, sizeof(v));
	return v;
}

#define FZ_SEGS_MAX 64

struct fz_mem {
	struct {
		uint64_t addr;
		size_t len;
		uint8_t *buf;
	} seg[FZ_SEGS_MAX];
	int n;
	unsigned long reads;
};

static inline void fz_mem_load(struct fz_mem *m, struct fz *in)
{
	m->n = 0;
	m->reads = 0;
	while (in->n >= 10 && m->n < FZ_SEGS_MAX) {
		uint64_t addr = fz_u64(in);
		size_t len = fz_u16(in);

		if (len > in->n)
			len = in->n;
		if (!len)
			continue;
		m->seg[m->n].buf = malloc(len);
		if (!m->seg[m->n].buf)
			abort();
		fz_take(in, m->seg[m->n].buf, len);
		m->seg[m->n].addr = addr;
		m->seg[m->n].len = len;
		m->n++;
	}
}

static inline void fz_mem_free(struct fz_mem *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->seg[i].buf);
	m->n = 0;
}

static inline int fz_mem_read(void *ctx, unsigned long long addr, void *buf, size_t len)
{
	struct fz_mem *m = ctx;

	m->reads++;
	if (!len)
		return 0;
	for (int i = 0; i < m->n; i++) {
		uint64_t off = addr - m->seg[i].addr;

		if (addr >= m->seg[i].addr && off <= m->seg[i].len && len <= m->seg[i].len - off) {
			memcpy(buf, m->seg[i].buf + off, len);
			return 0;
		}
	}
	return -EFAULT;
}

static inline struct mem_reader fz_mem_reader(struct fz_mem *m)
{
	return (struct mem_reader){.read = fz_mem_read, .ctx = m};
}

/* a C string that ends within len bytes */
static inline int fz_terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

#endif /* COWTRACE_FUZZ_H */
