/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside the interpreter inspection: the ELF image pyinterp.c reads (its symbols, sections and
 * probes) and what the two deciders built on it share: pyinterp_version.c (which CPython) and
 * pyinterp_gc.c (which collector function, for a uprobe). Not for the rest of cowtrace, which
 * uses pyinterp.h. Every offset, size and address here came from an untrusted file: the helpers
 * check them against the file before use.
 */
#ifndef COWTRACE_PYELF_H
#define COWTRACE_PYELF_H

#include <gelf.h>
#include <stdbool.h>
#include <stdint.h>
#include "pyinterp.h"

#define MAX_CANDS     8	  /* symbols kept per collector name; real builds have 1 or 2 */
#define MAX_CODE_SCAN 512 /* bytes of a small function decoded looking for addresses */
#define MAX_VER_STR   32  /* "3.10.13" and friends are far shorter */

struct sym {
	bool found;
	GElf_Sym s;
};

enum cand_kind {
	CAND_SAME,	/* the function itself, arguments as in the source */
	CAND_CONSTPROP, /* GCC clone with constant arguments folded in (and dropped) */
	CAND_ISRA,	/* GCC clone with arguments rewritten: positions unknown */
	CAND_REJECT,	/* a fragment (.part, .cold): not entered once per collection */
};

struct cand {
	char name[64];
	GElf_Sym s;
	unsigned long off;
	enum cand_kind kind;
};

/* All symbols called base or base.<suffix>: GCC names its clones that way. */
struct family {
	const char *base;
	struct cand c[MAX_CANDS];
	int n;
};

enum { FAM_GC_COLLECT_MAIN, FAM_PYGC_COLLECT_INTERNAL, FAM_COLLECT, FAM_COUNT };

struct img {
	Elf *elf;
	const unsigned char *raw; /* the whole file as libelf mapped it */
	size_t size;
	size_t shnum;
	size_t shstrndx;
	bool is64;
	bool msb;
	GElf_Half machine;

	struct sym py_version; /* const unsigned long Py_Version, 3.11+ */
	struct sym runtime;    /* _PyRuntime: where stack walks start */
	struct sym py_getversion;
	struct sym pygc_collect; /* PyGC_Collect() */
	struct sym pygc_nofail;	 /* _PyGC_CollectNoFail() */
	struct sym ft_symbol;	 /* only in free-threaded builds */
	struct family fam[FAM_COUNT];
	bool usdt_start, usdt_done;
	int soabi_minor; /* from "cpython-3XY", -1 if absent or contradictory */
	bool soabi_t;	 /* the ABI flags include 't' (free-threaded) */
};

uint32_t pyelf_rd32(const unsigned char *p, bool msb);
uint64_t pyelf_rd64(const unsigned char *p, bool msb);
/* [va, va + len) lies within [base, base + size), written so that nothing can overflow */
bool pyelf_range_in(uint64_t base, uint64_t size, uint64_t va, uint64_t len);
/* the section's bytes are in the file (not NOBITS, not past its end) */
bool pyelf_sec_in_file(const struct img *im, const GElf_Shdr *sh);
/* the file offset of [va, va + len) when a section of the file holds all of it */
bool pyelf_vaddr_to_off(const struct img *im, uint64_t va, uint64_t len, uint64_t *off);
/* the file offset of symbol s (in an executable section when exec) */
bool pyelf_sym_to_off(const struct img *im, const GElf_Sym *s, bool exec, uint64_t *off);
void pyelf_add_cand(struct family *f, const char *name, const GElf_Sym *s);

/* out->major, minor, micro, free_threaded: from Py_Version, Py_GetVersion() or the SOABI */
void pyelf_find_version(struct img *im, struct py_interp *out);
/* out->gc_func*: the collector function a uprobe can use when there are no USDT probes */
void pyelf_find_collector(struct img *im, struct py_interp *out);

#endif
