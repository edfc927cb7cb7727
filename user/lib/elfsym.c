// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdint.h>
#include "elfsym.h"

long elfsym_each(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, size_t max,
		 int (*fn)(const char *name, const GElf_Sym *sym, void *arg), void *arg)
{
	size_t shnum, n, i;
	long given = 0;
	Elf_Data *d;

	if (sh->sh_entsize != gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT))
		return -1;
	if (elf_getshdrnum(elf, &shnum) || sh->sh_link == 0 || sh->sh_link >= shnum)
		return -1;
	d = elf_getdata(scn, NULL);
	if (!d || !d->d_buf)
		return -1;
	n = d->d_size / sh->sh_entsize;
	if (n > max)
		n = max;
	if (n > INT32_MAX) /* gelf_getsym() takes an int */
		n = INT32_MAX;
	/* entry 0 is the undefined symbol */
	for (i = 1; i < n; i++) {
		GElf_Sym s;
		const char *name;

		if (!gelf_getsym(d, (int)i, &s))
			break;
		if (s.st_shndx == SHN_UNDEF || s.st_name == 0)
			continue;
		name = elf_strptr(elf, sh->sh_link, s.st_name);
		if (!name || !*name)
			continue;
		given++;
		if (fn(name, &s, arg))
			break;
	}
	return given;
}
