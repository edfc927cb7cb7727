// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfsym.h"
#include "log.h"
#include "procfs.h"
#include "pythread.h"

/* struct pthread is ~1.8 KiB (arm64) to ~2.3 KiB (x86-64) in glibc 2.3x: anything outside this
 * is not glibc's record, and a bias from it would find no thread state anyway */
#define SIZEOF_PTHREAD_MIN 256
#define SIZEOF_PTHREAD_MAX 65535 /* cow_stack_cfg.thread_ptr_bias is 16 bits */

struct sizeof_sym {
	GElf_Sym sym;
	bool found;
};

static int find_sizeof_pthread(const char *name, const GElf_Sym *sym, void *arg)
{
	struct sizeof_sym *s = arg;

	if (strcmp(name, "_thread_db_sizeof_pthread") || GELF_ST_TYPE(sym->st_info) != STT_OBJECT ||
	    sym->st_size != 4)
		return 0;
	s->sym = *sym;
	s->found = true;
	return 1;
}

long pythread_sizeof_pthread(int fd)
{
	struct sizeof_sym s = { .found = false };
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t i, nph;
	long ret = -1;
	uint32_t v;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	/* read, not mapped: a target may truncate its files under us */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		goto out;
	while ((scn = elf_nextscn(elf, scn)) && !s.found)
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_DYNSYM)
			elfsym_each(elf, scn, &sh, 1u << 20, find_sizeof_pthread, &s);
	if (!s.found || elf_getphdrnum(elf, &nph))
		goto out;
	/* the value's bytes in the file: through the loadable segment that holds it */
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD ||
		    s.sym.st_value < ph.p_vaddr || s.sym.st_value - ph.p_vaddr > ph.p_filesz ||
		    ph.p_filesz - (s.sym.st_value - ph.p_vaddr) < sizeof(v))
			continue;
		if (pread(fd, &v, sizeof(v), (off_t)(ph.p_offset + (s.sym.st_value - ph.p_vaddr))) ==
			    sizeof(v) &&
		    v >= SIZEOF_PTHREAD_MIN && v <= SIZEOF_PTHREAD_MAX)
			ret = v;
		break;
	}
out:
	if (elf)
		elf_end(elf);
	return ret;
}

/* libc.so.6 (or libc-2.NN.so) among the files pid maps */
static int is_libc(const struct map_entry *e, void *arg)
{
	const char *base = strrchr(e->path, '/');
	struct map_entry *found = arg;

	if (!base || e->offset != 0 ||
	    (strncmp(base + 1, "libc.so", 7) && strncmp(base + 1, "libc-", 5)))
		return 0;
	*found = *e;
	return 1;
}

long pythread_target_sizeof_pthread(int pid)
{
	static struct map_entry e; /* 4 KiB of path: not on the stack */
	long size;
	int fd;

	memset(&e, 0, sizeof(e));
	if (procfs_for_each_map("/proc", pid, is_libc, &e) < 0 || !e.path[0])
		return -1;
	fd = procfs_read_mapped(pid, &e);
	if (fd < 0)
		return -1;
	size = pythread_sizeof_pthread(fd);
	close(fd);
	return size;
}

#if defined(__aarch64__)
unsigned int pythread_ptr_bias(int pid, bool *guessed)
{
	long size = pythread_target_sizeof_pthread(pid);

	*guessed = size <= 0;
	if (size > 0) {
		log_info("pid %d: its glibc's struct pthread is %ld bytes", pid, size);
		return (unsigned int)size;
	}
	/* ours: right whenever the target runs the same glibc; wrong, its threads are simply
	 * not found (stacks "unknown"), never mistaken for others */
	size = (long)((uintptr_t)__builtin_thread_pointer() - (uintptr_t)pthread_self());
	log_info("pid %d: no libc.so with _thread_db_sizeof_pthread mapped (yet): Python threads "
		 "looked up with this glibc's struct pthread size (%ld bytes)", pid, size);
	return size > 0 && size <= SIZEOF_PTHREAD_MAX ? (unsigned int)size : 0;
}
#else
unsigned int pythread_ptr_bias(int pid, bool *guessed)
{
	*guessed = false;
	return 0; /* x86-64: pthread_self() is the fs base */
}
#endif
