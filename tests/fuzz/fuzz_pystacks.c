// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Naming Python stacks (user/python/pystacks.c): code objects, their names, files and line tables read
 * from the target through a struct mem_reader. Input:
 *   u8  offsets: bit 7 clear: the table entry of 3.8 + (v % 8); set: a u16 length and a
 *       _Py_DebugOffsets blob follow, and the offsets come from it (a blob that does not parse
 *       ends the run)
 *   u32 depth, u32 flags: struct cow_stack's, as BPF left them (any value)
 *   for each of the first min(depth, COW_STACK_MAX) frames, innermost first: u64 code object,
 *       u64 instruction (f_lasti or instruction pointer), 16 bytes of name
 *   the memory image (fuzz.h)
 * The BPF map lookup is this file's bpf_map_lookup_elem(): libbpf is not linked. The stack is
 * asked for under two ids and two families, so that cached code objects are checked again.
 *
 * A struct pystacks is some 400 KB (its code cache), which ASan maps and unmaps on each
 * allocation: one per run would spend the run on page faults. So one serves RUNS_PER_CACHE runs,
 * each in address space families of its own (the caches are keyed by family), as if it were new.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "cowtrace.h"
#include "fuzz.h"
#include "pyframes.h"
#include "pystacks.h"

#define RUNS_PER_CACHE 256

static struct cow_stack raw;

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	memcpy(value, &raw, sizeof(raw));
	return 0;
}

static void check(const struct pystack *s)
{
	if (!s)
		return;
	if (s->n > COW_STACK_MAX)
		abort();
	for (size_t i = 0; i < s->n; i++)
		if (!s->frames[i] || !fz_terminated(s->frames[i], 4096))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pystacks *ps;
	static unsigned int runs;
	struct fz in = {data, size};
	struct py_frame_offsets off;
	uint8_t sel = fz_u8(&in);
	unsigned int family;
	struct mem_reader r;
	struct fz_mem m;
	size_t n;

	if (sel & 0x80) {
		size_t len = fz_u16(&in);
		uint8_t *blob;
		int err;

		if (len > in.n)
			len = in.n;
		blob = malloc(len ? len : 1);
		if (!blob)
			abort();
		fz_take(&in, blob, len);
		err = py_frame_offsets_from_debug(blob, len, &off);
		free(blob);
		if (err)
			return 0;
	} else {
		const struct py_frame_offsets *t = py_frame_offsets_for(3, 8 + sel % 8);

		if (!t)
			abort();
		off = *t;
	}

	memset(&raw, 0, sizeof(raw));
	raw.depth = fz_u32(&in);
	raw.flags = fz_u32(&in);
	n = raw.depth < COW_STACK_MAX ? raw.depth : COW_STACK_MAX;
	for (size_t i = 0; i < n; i++) {
		raw.code[i] = fz_u64(&in);
		raw.instr[i] = fz_u64(&in);
		fz_take(&in, raw.name[i], COW_NAME_CHARS);
	}
	fz_mem_load(&m, &in);
	r = fz_mem_reader(&m);

	if (runs++ % RUNS_PER_CACHE == 0) {
		pystacks_free(ps);
		ps = pystacks_new(-1);
		if (!ps)
			abort();
	}
	family = 2 * (runs % RUNS_PER_CACHE);
	check(pystacks_get(ps, &off, family, 1, &r));
	check(pystacks_get(ps, &off, family, 1, &r));
	check(pystacks_get(ps, &off, family, 2, &r));
	check(pystacks_get(ps, &off, family + 1, 1, &r));
	fz_mem_free(&m);
	return 0;
}
