/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Python stacks from BPF (map stacks: code object pointers and instruction positions) turned
 * into names: "qualname (file:line)", by reading the code objects from the target's memory.
 * Everything read is validated; what does not check out is "?" rather than a guess.
 */
#ifndef COWTRACE_PYSTACKS_H
#define COWTRACE_PYSTACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "pyframes.h"
#include "pytypes.h"

struct pystacks;

struct pystack {
	size_t n;	 /* frames, outermost first */
	char **frames;	 /* "qualname (file:line)" */
	bool truncated;	 /* deeper than BPF records: the outermost frames are missing */
};

/* stacks_fd: the BPF map stacks */
struct pystacks *pystacks_new(int stacks_fd);
void pystacks_free(struct pystacks *ps);

/*
 * The named stack of id in the address space family (a cache key: processes forked from one
 * another without exec share code objects at the same addresses), read through r. NULL when
 * the id is not in the map. The result stays valid until pystacks_free.
 */
const struct pystack *pystacks_get(struct pystacks *ps, const struct py_frame_offsets *off,
				   unsigned int family, __u64 id, const struct mem_reader *r);

#endif
