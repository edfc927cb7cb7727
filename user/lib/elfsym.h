/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one reader of ELF symbol tables (interpreter inspection, --native symbols). The file is
 * untrusted: the table's entry size and string table link are checked, names come from
 * elf_strptr() (which checks the offset and the terminating NUL), and the walk stops after max
 * entries.
 */
#ifndef COWTRACE_ELFSYM_H
#define COWTRACE_ELFSYM_H

#include <gelf.h>
#include <stddef.h>

/*
 * Calls fn(name, sym, arg) for each defined, named symbol of the table in section scn (header
 * sh) of elf, at most max of its entries; fn returns nonzero to stop. Returns the number of
 * symbols given to fn, or -1 when the table cannot be read (bad entry size or link, no data).
 */
long elfsym_each(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, size_t max,
		 int (*fn)(const char *name, const GElf_Sym *sym, void *arg), void *arg);

#endif
