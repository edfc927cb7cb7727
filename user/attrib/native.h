/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Native (user) stacks of copies (--native): the instruction addresses BPF took from the frame
 * pointer chain, named "function (file)" from the ELF symbol tables (libelf) of the files mapped
 * there. Only as meaningful as the frame pointers: code built without them yields short or
 * wrong chains, which is why this is an option.
 */
#ifndef COWTRACE_NATIVE_H
#define COWTRACE_NATIVE_H

#include <linux/types.h>
#include "pystacks.h"

struct native_syms;

/* stackmap_fd: the BPF map native_stack_map */
struct native_syms *native_syms_new(int stackmap_fd);
void native_syms_free(struct native_syms *ns);

/*
 * The named stack (outermost first) of native id (1 + the BPF stack id) as seen by the processes
 * in pids (the writer first, then ancestors that share its mappings). NULL when unknown. Valid
 * until native_syms_free.
 */
const struct pystack *native_get(struct native_syms *ns, unsigned int family, __u32 id,
				 const int *pids, int npids);

#endif
