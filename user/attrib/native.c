// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include "cowtrace.h"
#include "elfsym.h"
#include "hindex.h"
#include "native.h"
#include "procfs.h"

#define SYMFILES_MAX 256 /* files whose symbols are kept; beyond, frames are addresses */
#define SEGS_MAX     16

struct sym {
	unsigned long long value, size;
	char *name;
};

struct symfile {
	dev_t dev; /* the mapped file, as /proc/PID/maps names it */
	ino_t ino;
	struct sym *syms;
	size_t n;
	struct {
		unsigned long long offset, vaddr, filesz;
	} seg[SEGS_MAX];
	int nseg;
};

struct nstack {
	unsigned int family;
	__u32 id;
	struct pystack stack;
};
/* stacks are allocated one by one: callers keep pointers to them while the list grows */

struct native_syms {
	int fd;
	struct symfile files[SYMFILES_MAX];
	int nfiles;
	struct nstack **stacks;
	size_t nstacks, capstacks;
	struct hindex index; /* (family, id) -> stacks: the lookup runs for every copy event */
};

struct native_syms *native_syms_new(int stackmap_fd)
{
	struct native_syms *ns = calloc(1, sizeof(*ns));

	if (!ns)
		return NULL;
	ns->fd = stackmap_fd;
	if (!hindex_init(&ns->index, 256)) {
		free(ns);
		return NULL;
	}
	elf_version(EV_CURRENT);
	return ns;
}

void native_syms_free(struct native_syms *ns)
{
	size_t i, j;

	if (!ns)
		return;
	for (i = 0; i < (size_t)ns->nfiles; i++) {
		for (j = 0; j < ns->files[i].n; j++)
			free(ns->files[i].syms[j].name);
		free(ns->files[i].syms);
	}
	for (i = 0; i < ns->nstacks; i++) {
		for (j = 0; j < ns->stacks[i]->stack.n; j++)
			free(ns->stacks[i]->stack.frames[j]);
		free(ns->stacks[i]->stack.frames);
		free(ns->stacks[i]);
	}
	free(ns->stacks);
	hindex_free(&ns->index);
	free(ns);
}

static int by_value(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->value < y->value ? -1 : x->value > y->value;
}

/* Function symbols of one table; everything libelf gives is bounds-checked by libelf itself. */
/* Function symbols only: a native frame's address is named by the function that holds it. */
static int keep_function(const char *name, const GElf_Sym *s, void *arg)
{
	struct symfile *f = arg;
	struct sym *grown;

	if (GELF_ST_TYPE(s->st_info) != STT_FUNC || !s->st_value || !s->st_size)
		return 0;
	if (!(f->n & (f->n + 1)) || !f->syms) {
		grown = realloc(f->syms, (2 * f->n + 2) * sizeof(*f->syms));
		if (!grown)
			return 1;
		f->syms = grown;
	}
	f->syms[f->n].value = s->st_value;
	f->syms[f->n].size = s->st_size;
	f->syms[f->n].name = strndup(name, 128);
	if (f->syms[f->n].name)
		f->n++;
	return 0;
}

static void read_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct symfile *f)
{
	elfsym_each(elf, scn, sh, 1u << 22, keep_function, f);
}

/* the file pid maps as e (procfs_read_mapped: that file, whatever its path is now); false when
 * it could not be opened (pid exited meanwhile, say), true when it was read, symbols or not */
static bool load_symfile(struct symfile *f, int pid, const struct map_entry *e)
{
	Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL;
	GElf_Shdr sh, symsh, dynsh;
	size_t i, nph;
	Elf *elf;
	int fd;

	fd = procfs_read_mapped(pid, e);
	if (fd == -EFBIG)
		return true; /* never read: as named as it will ever be */
	if (fd < 0)
		return false;
	/* read, not mapped: the target may truncate the file under us, which would be a
	 * SIGBUS in a mapping (libelf reads what it needs, when asked) */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		goto out;
	if (!elf_getphdrnum(elf, &nph))
		for (i = 0; i < nph && f->nseg < SEGS_MAX; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
				continue;
			f->seg[f->nseg].offset = ph.p_offset;
			f->seg[f->nseg].vaddr = ph.p_vaddr;
			f->seg[f->nseg].filesz = ph.p_filesz;
			f->nseg++;
		}
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB) {
			symtab = scn;
			symsh = sh;
		} else if (sh.sh_type == SHT_DYNSYM) {
			dynsym = scn;
			dynsh = sh;
		}
	}
	/* .symtab has the static functions too; stripped files keep only .dynsym */
	if (symtab)
		read_symtab(elf, symtab, &symsh, f);
	if (!f->n && dynsym)
		read_symtab(elf, dynsym, &dynsh, f);
	if (f->n)
		qsort(f->syms, f->n, sizeof(*f->syms), by_value);
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return true;
}

/* the symbols of the file pid maps as e, read once per file (by device and inode). A file that
 * could not be opened (pid exited meanwhile) is not remembered, and sets *gone. */
static struct symfile *symfile_get(struct native_syms *ns, int pid, const struct map_entry *e,
				   bool *gone)
{
	dev_t dev = makedev(e->dev_major, e->dev_minor);
	struct symfile *f;
	int i;

	for (i = 0; i < ns->nfiles; i++)
		if (ns->files[i].dev == dev && ns->files[i].ino == e->inode)
			return &ns->files[i];
	if (ns->nfiles == SYMFILES_MAX)
		return NULL;
	f = &ns->files[ns->nfiles];
	memset(f, 0, sizeof(*f));
	f->dev = dev;
	f->ino = e->inode;
	if (!load_symfile(f, pid, e)) {
		free(f->syms);
		*gone = true;
		return NULL;
	}
	ns->nfiles++;
	return f;
}

static const char *lookup(const struct symfile *f, unsigned long long vaddr)
{
	size_t lo = 0, hi = f->n;

	/* the last symbol starting at or below vaddr, if vaddr is inside it */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->syms[mid].value <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || vaddr >= f->syms[lo - 1].value + f->syms[lo - 1].size)
		return NULL;
	return f->syms[lo - 1].name;
}

/* The mappings that hold a stack's addresses, from one reading of /proc/PID/maps: every frame
 * is named against the same snapshot, however soon the process exits or unmaps. */
struct stack_maps {
	const __u64 *ips;
	size_t n;
	struct map_entry *where; /* n entries: where[i] holds ips[i] when found[i] */
	bool found[COW_NATIVE_MAX];
	size_t entries; /* lines read: 0 for a process whose memory is gone (a zombie) */
};

static int place_ips(const struct map_entry *e, void *arg)
{
	struct stack_maps *m = arg;
	size_t i;

	m->entries++;
	for (i = 0; i < m->n; i++)
		if (!m->found[i] && m->ips[i] >= e->start && m->ips[i] < e->end) {
			m->where[i] = *e;
			m->found[i] = true;
		}
	return 0;
}

/* ip named from the file e maps (NULL: in no file pid maps); *gone when pid could no longer
 * open that file */
static char *name_ip(struct native_syms *ns, int pid, unsigned long long ip,
		     const struct map_entry *e, bool *gone)
{
	char buf[512];
	const char *base, *fn = NULL;
	struct symfile *f;
	unsigned long long off;
	int i;

	if (!e || e->path[0] != '/') {
		snprintf(buf, sizeof(buf), "[unknown] (0x%llx)", ip);
		return strdup(buf);
	}
	base = strrchr(e->path, '/') + 1;
	/* the mapped file itself, whichever root or mount namespace the process sees it in */
	f = symfile_get(ns, pid, e, gone);
	/* address -> file offset -> link-time address, through the segment holding it */
	off = ip - e->start + e->offset;
	for (i = 0; f && i < f->nseg && !fn; i++)
		if (off >= f->seg[i].offset && off < f->seg[i].offset + f->seg[i].filesz)
			fn = lookup(f, off - f->seg[i].offset + f->seg[i].vaddr);
	snprintf(buf, sizeof(buf), "%s (%s)", fn ? fn : "[unknown]", base);
	return strdup(buf);
}

/* Names s's n addresses as pid maps them; false when pid has no mappings left or exited before
 * its files were opened (s->stack.frames then empty again). */
static bool name_frames(struct native_syms *ns, struct nstack *s, const __u64 *ips, size_t n,
			int pid, struct stack_maps *m)
{
	bool gone = false;
	size_t i, k;

	memset(m->found, 0, sizeof(m->found));
	m->entries = 0;
	if (procfs_for_each_map("/proc", pid, place_ips, m) != 0 || !m->entries)
		return false;
	/* the kernel gives the innermost address first; names go outermost first */
	for (k = 0; k < n && !gone; k++) {
		i = n - 1 - k;
		s->stack.frames[k] = name_ip(ns, pid, ips[i], m->found[i] ? &m->where[i] : NULL, &gone);
		if (!s->stack.frames[k])
			s->stack.frames[k] = strdup("?");
	}
	if (!gone)
		return true;
	for (k = 0; k < n; k++) {
		free(s->stack.frames[k]);
		s->stack.frames[k] = NULL;
	}
	return false;
}

const struct pystack *native_get(struct native_syms *ns, unsigned int family, __u32 id,
				 const int *pids, int npids)
{
	__u64 ips[COW_NATIVE_MAX] = {}, h = hindex_hash_key(family, id);
	struct stack_maps m = { .ips = ips };
	struct nstack *s = NULL;
	size_t i, n = 0, at;
	bool named = false;
	uint32_t j;
	__u32 key;

	if (!id)
		return NULL;
	for (j = hindex_first(&ns->index, h, &at); j != HINDEX_NONE;
	     j = hindex_next(&ns->index, h, &at))
		if (ns->stacks[j]->family == family && ns->stacks[j]->id == id)
			return &ns->stacks[j]->stack;
	key = id - 1;
	if (bpf_map_lookup_elem(ns->fd, &key, ips))
		return NULL;
	while (n < COW_NATIVE_MAX && ips[n])
		n++;
	if (ns->nstacks == ns->capstacks) {
		size_t cap = ns->capstacks ? 2 * ns->capstacks : 64;
		void *p = realloc(ns->stacks, cap * sizeof(*ns->stacks));

		if (!p)
			return NULL;
		ns->stacks = p;
		ns->capstacks = cap;
	}
	m.n = n;
	m.where = calloc(n ? n : 1, sizeof(*m.where));
	s = calloc(1, sizeof(*s));
	if (!m.where || !s || !(s->stack.frames = calloc(n ? n : 1, sizeof(char *))))
		goto fail;
	s->family = family;
	s->id = id;
	s->stack.truncated = n == COW_NATIVE_MAX;
	/* a process that has exited (a zombie still has /proc/PID, without mappings) cannot
	 * tell where its addresses were: the next one that shares them can */
	for (i = 0; i < (size_t)npids && !named; i++)
		named = name_frames(ns, s, ips, n, pids[i], &m);
	if (!named)
		goto fail;
	s->stack.n = n;
	free(m.where);
	/* at: where the lookup above ended (nothing was added since). Kept and named even when
	 * the index cannot grow: then it is named again next time. */
	ns->stacks[ns->nstacks] = s;
	hindex_add(&ns->index, h, ns->nstacks, at);
	ns->nstacks++;
	return &s->stack;
fail:
	if (s)
		free(s->stack.frames);
	free(s);
	free(m.where);
	return NULL;
}
