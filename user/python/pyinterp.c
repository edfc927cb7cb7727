// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Recognise a CPython interpreter from its ELF file and find how to observe its collections:
 * the python:gc__start/gc__done USDT probes when the build has them, else the collector function
 * for a uprobe. This file reads the image (pyelf.h); pyinterp_version.c tells the version and
 * pyinterp_gc.c picks the collector function. Every file is untrusted input: all offsets, sizes
 * and addresses taken from it are checked against the file before use, and a file we cannot
 * make sense of is an error, not a crash. How each per-version fact was verified:
 * docs/python-versions.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfsym.h"
#include "procfs.h"
#include "pyelf.h"


uint32_t pyelf_rd32(const unsigned char *p, bool msb)
{
	if (msb)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

uint64_t pyelf_rd64(const unsigned char *p, bool msb)
{
	uint64_t hi = pyelf_rd32(msb ? p : p + 4, msb), lo = pyelf_rd32(msb ? p + 4 : p, msb);

	return hi << 32 | lo;
}

/* [va, va + len) lies within [base, base + size), written so that nothing can overflow. */
bool pyelf_range_in(uint64_t base, uint64_t size, uint64_t va, uint64_t len)
{
	return va >= base && va - base <= size && len <= size - (va - base);
}

/* The section's bytes are in the file (not NOBITS, not past its end). */
bool pyelf_sec_in_file(const struct img *im, const GElf_Shdr *sh)
{
	return sh->sh_type != SHT_NOBITS && sh->sh_offset <= im->size &&
	       sh->sh_size <= im->size - sh->sh_offset;
}

/*
 * File offset of [va, va + len) through the section table: the offset a uprobe needs is
 * va - sh_addr + sh_offset of the section holding it (what libbpf computes for a function
 * name). The pyenv shared builds have sh_addr == sh_offset for .text, but not for .data, and a
 * non-PIE executable like Debian's python3.11 never does (.text at 0x420f10, offset 0x20f10).
 */
bool pyelf_vaddr_to_off(const struct img *im, uint64_t va, uint64_t len, uint64_t *off)
{
	for (size_t i = 1; i < im->shnum; i++) {
		Elf_Scn *scn = elf_getscn(im->elf, i);
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh))
			continue;
		if (!(sh.sh_flags & SHF_ALLOC) || !pyelf_sec_in_file(im, &sh))
			continue;
		if (pyelf_range_in(sh.sh_addr, sh.sh_size, va, len)) {
			*off = sh.sh_offset + (va - sh.sh_addr);
			return true;
		}
	}
	return false;
}

/*
 * File offset of a symbol, checked against the section the symbol claims to be in: its whole
 * extent (at least one byte) must lie inside that section and the section inside the file.
 */
bool pyelf_sym_to_off(const struct img *im, const GElf_Sym *s, bool exec, uint64_t *off)
{
	uint64_t len = s->st_size ? s->st_size : 1;
	Elf_Scn *scn;
	GElf_Shdr sh;

	if (s->st_shndx == SHN_UNDEF || s->st_shndx >= SHN_LORESERVE || s->st_shndx >= im->shnum)
		return false;
	scn = elf_getscn(im->elf, s->st_shndx);
	if (!scn || !gelf_getshdr(scn, &sh))
		return false;
	if (!(sh.sh_flags & SHF_ALLOC) || !pyelf_sec_in_file(im, &sh))
		return false;
	if (exec && !(sh.sh_flags & SHF_EXECINSTR))
		return false;
	if (!pyelf_range_in(sh.sh_addr, sh.sh_size, s->st_value, len))
		return false;
	*off = sh.sh_offset + (s->st_value - sh.sh_addr);
	return true;
}

static void keep(struct sym *k, const GElf_Sym *s)
{
	if (!k->found) {
		k->found = true;
		k->s = *s;
	}
}

/* How a GCC-generated suffix changes the function (gcc/ipa-*.cc name the clones). */
static enum cand_kind suffix_kind(const char *suffix)
{
	if (!*suffix)
		return CAND_SAME;
	if (strstr(suffix, ".part") || strstr(suffix, ".cold"))
		return CAND_REJECT;
	if (strstr(suffix, ".isra"))
		return CAND_ISRA;
	if (strstr(suffix, ".constprop"))
		return CAND_CONSTPROP;
	/* LTO renames statics (.lto_priv.N); -fno-semantic-interposition adds .localalias */
	if (!strncmp(suffix, ".lto_priv.", 10) || !strncmp(suffix, ".localalias", 11))
		return CAND_SAME;
	return CAND_REJECT;
}

void pyelf_add_cand(struct family *f, const char *name, const GElf_Sym *s)
{
	size_t len = strlen(name);

	if (len >= sizeof(f->c[0].name))
		return;
	/* .symtab and .dynsym can both list a function */
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->c[i].name, name))
			return;
	if (f->n == MAX_CANDS)
		return;
	memcpy(f->c[f->n].name, name, len + 1);
	f->c[f->n].s = *s;
	f->c[f->n].kind = suffix_kind(name + strlen(f->base));
	f->n++;
}

static void note_symbol(struct img *im, const char *name, const GElf_Sym *s)
{
	int type = GELF_ST_TYPE(s->st_info);

	if (type == STT_OBJECT && !strcmp(name, "Py_Version"))
		keep(&im->py_version, s);
	if (type == STT_OBJECT && !strcmp(name, "_PyRuntime"))
		keep(&im->runtime, s);
	if (type != STT_FUNC)
		return;
	if (!strcmp(name, "Py_GetVersion"))
		keep(&im->py_getversion, s);
	else if (!strcmp(name, "PyGC_Collect"))
		keep(&im->pygc_collect, s);
	else if (!strcmp(name, "_PyGC_CollectNoFail"))
		keep(&im->pygc_nofail, s);
	/*
	 * Declared only #ifdef Py_GIL_DISABLED (Include/object.h in 3.13, Include/refcount.h in
	 * 3.14) and called by the inline Py_DECREF() of every extension built for free-threading,
	 * so a free-threaded interpreter must export them in .dynsym, which strip keeps. Chosen
	 * over the 't' in "python3.13t"/"libpython3.13t.so": a file name can be anything (copies,
	 * venvs, embedding programs). The ABI flags of the extension suffix are a second signal.
	 */
	else if (!strcmp(name, "_Py_MergeZeroLocalRefcount") || !strcmp(name, "_Py_DecRefShared"))
		keep(&im->ft_symbol, s);

	for (int i = 0; i < FAM_COUNT; i++) {
		struct family *f = &im->fam[i];
		size_t bl = strlen(f->base);

		if (!strncmp(name, f->base, bl) && (name[bl] == '\0' || name[bl] == '.'))
			pyelf_add_cand(f, name, s);
	}
}

static int note_one(const char *name, const GElf_Sym *s, void *arg)
{
	note_symbol(arg, name, s);
	return 0;
}

static void scan_symtab(struct img *im, Elf_Scn *scn, const GElf_Shdr *sh)
{
	elfsym_each(im->elf, scn, sh, SIZE_MAX, note_one, im);
}

/* A NUL-terminated string of at most max bytes (terminator included) at p. */
static const char *str_at(const unsigned char *p, size_t max)
{
	return memchr(p, '\0', max) ? (const char *)p : NULL;
}

/*
 * SystemTap SDT notes (sys/sdt.h, "stapsdt" owner, type 3): the descriptor is pc, base and
 * semaphore addresses (each 8 bytes in ELFCLASS64, 4 in ELFCLASS32), then "provider\0name\0
 * args\0". libbpf attaches USDT probes itself from the binary; here we only need to know that
 * python:gc__start and python:gc__done are both there (Include/pydtrace.d).
 */
static void scan_stapsdt(struct img *im, Elf_Scn *scn, const GElf_Shdr *sh)
{
	size_t align = sh->sh_addralign == 8 ? 8 : 4;
	size_t asz = im->is64 ? 8 : 4;
	const unsigned char *buf;
	Elf_Data *d;
	size_t size, pos = 0;

	d = elf_rawdata(scn, NULL);
	if (!d || !d->d_buf)
		return;
	buf = d->d_buf;
	size = d->d_size;
	while (size - pos >= 12) {
		uint32_t namesz = pyelf_rd32(buf + pos, im->msb);
		uint32_t descsz = pyelf_rd32(buf + pos + 4, im->msb);
		uint32_t type = pyelf_rd32(buf + pos + 8, im->msb);
		const unsigned char *name, *desc;
		const char *prov, *probe;
		size_t pad;

		pos += 12;
		if (namesz > size - pos)
			return;
		name = buf + pos;
		pad = (align - namesz % align) % align;
		if (pad > size - pos - namesz)
			return;
		pos += namesz + pad;
		if (descsz > size - pos)
			return;
		desc = buf + pos;
		pad = (align - descsz % align) % align;
		/* the last note may lack its padding */
		pos += descsz + (pad <= size - pos - descsz ? pad : size - pos - descsz);

		if (type != 3 || namesz != 8 || memcmp(name, "stapsdt", 8))
			continue;
		if (descsz <= 3 * asz)
			continue;
		prov = str_at(desc + 3 * asz, descsz - 3 * asz);
		if (!prov || strcmp(prov, "python"))
			continue;
		probe = str_at(desc + 3 * asz + 7, descsz - 3 * asz - 7);
		if (!probe)
			continue;
		if (!strcmp(probe, "gc__start"))
			im->usdt_start = true;
		else if (!strcmp(probe, "gc__done"))
			im->usdt_done = true;
	}
}

static void scan_sections(struct img *im)
{
	/* .symtab first: it has the local collector functions and the same globals as .dynsym */
	static const GElf_Word order[] = {SHT_SYMTAB, SHT_DYNSYM};

	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		for (size_t i = 1; i < im->shnum; i++) {
			Elf_Scn *scn = elf_getscn(im->elf, i);
			GElf_Shdr sh;

			if (scn && gelf_getshdr(scn, &sh) && sh.sh_type == order[o])
				scan_symtab(im, scn, &sh);
		}
	}
	for (size_t i = 1; i < im->shnum; i++) {
		Elf_Scn *scn = elf_getscn(im->elf, i);
		const char *name;
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		name = elf_strptr(im->elf, im->shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".note.stapsdt"))
			scan_stapsdt(im, scn, &sh);
	}
}

/* The offsets were not known when the candidates were collected; fill and check them. */
static void resolve_offsets(struct img *im)
{
	for (int i = 0; i < FAM_COUNT; i++) {
		struct family *f = &im->fam[i];

		for (int j = 0; j < f->n; j++) {
			uint64_t off;

			if (f->c[j].kind != CAND_REJECT && pyelf_sym_to_off(im, &f->c[j].s, true, &off))
				f->c[j].off = off;
			else
				f->c[j].kind = CAND_REJECT;
		}
	}
}

/*
 * The link-time address of the segment mapped from file offset 0: the process maps it at
 * start - offset of its /proc/PID/maps line, so that load bias = that start - this address
 * (0 for a non-PIE executable such as Debian's python3.11).
 */
static bool find_load_base(struct img *im, unsigned long *vaddr)
{
	size_t i, n;

	if (elf_getphdrnum(im->elf, &n))
		return false;
	for (i = 0; i < n && i < 64; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(im->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset != 0)
			return false; /* the first PT_LOAD does not start the file: not a layout we know */
		*vaddr = ph.p_vaddr;
		return true;
	}
	return false;
}

/*
 * _Py_DebugOffsets (3.13+): the first bytes of _PyRuntime. The symbol lies in .PyRuntime, a
 * PROGBITS section holding the structure's static initializer, so the file has the blob at the
 * symbol's file offset. pyelf_sym_to_off() has checked that the symbol's whole extent lies in its
 * section and the section in the file; fewer bytes than a shape needs are stored as they are
 * and refused by the parser. The blob's own free_threaded flag (0 or 1 after the cookie and
 * the version, Include/internal/pycore_debug_offsets.h) marks a free-threaded build even when
 * neither its symbols nor its ABI tag did.
 */
static void read_debug_offsets(const struct img *im, struct py_interp *out)
{
	const GElf_Sym *s = &im->runtime.s;
	uint64_t off, n;

	if (!im->runtime.found || out->major != 3 || out->minor < 13 || !im->is64 || im->msb)
		return;
	if (s->st_size == 0 || !pyelf_sym_to_off(im, s, false, &off))
		return;
	n = s->st_size < PY_DEBUG_OFFSETS_MAX ? s->st_size : PY_DEBUG_OFFSETS_MAX;
	memcpy(out->debug_offsets, im->raw + off, n);
	out->debug_offsets_len = (unsigned int)n;
	if (n >= 24 && !memcmp(out->debug_offsets, "xdebugpy", 8) &&
	    pyelf_rd64(out->debug_offsets + 16, false) == 1)
		out->free_threaded = true;
}

static int inspect_elf(struct img *im, struct py_interp *out)
{
	GElf_Ehdr eh;

	if (elf_kind(im->elf) != ELF_K_ELF || !gelf_getehdr(im->elf, &eh))
		return -ENOEXEC;
	if (elf_getshdrnum(im->elf, &im->shnum) || elf_getshdrstrndx(im->elf, &im->shstrndx))
		return -ENOEXEC;
	im->raw = (const unsigned char *)elf_rawfile(im->elf, &im->size);
	if (!im->raw)
		return -ENOEXEC;
	im->is64 = eh.e_ident[EI_CLASS] == ELFCLASS64;
	im->msb = eh.e_ident[EI_DATA] == ELFDATA2MSB;
	im->machine = eh.e_machine;
	/* only executables and shared objects are mapped into a process to run */
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return -ENOENT;

	scan_sections(im);
	out->has_usdt_gc = im->usdt_start && im->usdt_done;
	if (!im->py_version.found && !im->py_getversion.found && !out->has_usdt_gc)
		return -ENOENT;

	pyelf_find_version(im, out);
	out->free_threaded = im->ft_symbol.found || im->soabi_t;
	read_debug_offsets(im, out);
	if (im->runtime.found && find_load_base(im, &out->load_vaddr)) {
		out->runtime_vaddr = im->runtime.s.st_value;
		out->runtime_size = im->runtime.s.st_size;
	}
	resolve_offsets(im);
	out->gc_func2_gen = -1;
	pyelf_find_collector(im, out);
	if (out->has_usdt_gc)
		out->gc_source = PY_GC_USDT;
	else if (out->gc_func[0])
		out->gc_source = PY_GC_UPROBE;
	return 0;
}

int py_interp_inspect(const char *path, struct py_interp *out)
{
	struct img im = {
	    .fam = {[FAM_GC_COLLECT_MAIN] = {.base = "gc_collect_main"},
		    [FAM_PYGC_COLLECT_INTERNAL] = {.base = "_PyGC_Collect"},
		    [FAM_COLLECT] = {.base = "collect"}},
	};
	size_t len = strlen(path);
	struct stat st;
	int fd, err;

	memset(out, 0, sizeof(*out));
	if (len >= sizeof(out->path))
		return -ENAMETOOLONG;
	memcpy(out->path, path, len + 1);

	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out_close;
	}
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		err = -ENOEXEC;
		goto out_close;
	}
	if ((unsigned long long)st.st_size > PROCFS_ELF_READ_MAX) {
		err = -EFBIG;
		goto out_close;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		err = -ENOSYS;
		goto out_close;
	}
	/*
	 * Read, not mapped: the file can belong to the traced program, which could truncate it
	 * while we parse it, and a truncated mapping is a SIGBUS in cowtrace. libelf reads the
	 * headers now and each section's data when asked (pread), and a short read is an error.
	 */
	im.elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!im.elf) {
		err = -ENOEXEC;
		goto out_close;
	}
	err = inspect_elf(&im, out);
	elf_end(im.elf);
out_close:
	close(fd);
	if (err) {
		/* no half-filled answer on failure */
		memset(out, 0, sizeof(*out));
		memcpy(out->path, path, len + 1);
	}
	return err;
}

static const char *skip_digits(const char *p)
{
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static const char *skip_lower(const char *p)
{
	while (*p >= 'a' && *p <= 'z')
		p++;
	return p;
}

bool py_interp_name_candidate(const char *path)
{
	const char *b = strrchr(path, '/'), *p;

	b = b ? b + 1 : path;
	if (!strncmp(b, "libpython3.", 11)) {
		/* libpython3.12.so.1.0, libpython3.7m.so, libpython3.13t.so.1.0 */
		p = skip_digits(b + 11);
		if (p == b + 11)
			return false;
		p = skip_lower(p);
		return !strncmp(p, ".so", 3) && (p[3] == '\0' || p[3] == '.');
	}
	if (strncmp(b, "python", 6))
		return false;
	/* python (venv --copies), python3, python3.12, python3.13t, python3.7m */
	p = b + 6;
	if (*p == '\0')
		return true;
	if (*p++ != '3')
		return false;
	if (*p == '\0')
		return true;
	if (*p++ != '.')
		return false;
	if (!(*p >= '0' && *p <= '9'))
		return false;
	return *skip_lower(skip_digits(p)) == '\0';
}

const char *py_gc_source_name(enum py_gc_source s)
{
	switch (s) {
	case PY_GC_USDT:
		return "usdt";
	case PY_GC_UPROBE:
		return "uprobe";
	default:
		return "none";
	}
}
