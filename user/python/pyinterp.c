// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Recognise a CPython interpreter from its ELF file and find how to observe its collections:
 * the python:gc__start/gc__done USDT probes when the build has them, else the collector function
 * for a uprobe. Every file is untrusted input: all offsets, sizes and addresses taken from it are
 * checked against the file before use, and a file we cannot make sense of is an error, not a
 * crash. How each per-version fact was verified: docs/python-versions.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procfs.h"
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

static uint32_t rd32(const unsigned char *p, bool msb)
{
	if (msb)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t rd64(const unsigned char *p, bool msb)
{
	uint64_t hi = rd32(msb ? p : p + 4, msb), lo = rd32(msb ? p + 4 : p, msb);

	return hi << 32 | lo;
}

/* [va, va + len) lies within [base, base + size), written so that nothing can overflow. */
static bool range_in(uint64_t base, uint64_t size, uint64_t va, uint64_t len)
{
	return va >= base && va - base <= size && len <= size - (va - base);
}

/* The section's bytes are in the file (not NOBITS, not past its end). */
static bool sec_in_file(const struct img *im, const GElf_Shdr *sh)
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
static bool vaddr_to_off(const struct img *im, uint64_t va, uint64_t len, uint64_t *off)
{
	for (size_t i = 1; i < im->shnum; i++) {
		Elf_Scn *scn = elf_getscn(im->elf, i);
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh))
			continue;
		if (!(sh.sh_flags & SHF_ALLOC) || !sec_in_file(im, &sh))
			continue;
		if (range_in(sh.sh_addr, sh.sh_size, va, len)) {
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
static bool sym_to_off(const struct img *im, const GElf_Sym *s, bool exec, uint64_t *off)
{
	uint64_t len = s->st_size ? s->st_size : 1;
	Elf_Scn *scn;
	GElf_Shdr sh;

	if (s->st_shndx == SHN_UNDEF || s->st_shndx >= SHN_LORESERVE || s->st_shndx >= im->shnum)
		return false;
	scn = elf_getscn(im->elf, s->st_shndx);
	if (!scn || !gelf_getshdr(scn, &sh))
		return false;
	if (!(sh.sh_flags & SHF_ALLOC) || !sec_in_file(im, &sh))
		return false;
	if (exec && !(sh.sh_flags & SHF_EXECINSTR))
		return false;
	if (!range_in(sh.sh_addr, sh.sh_size, s->st_value, len))
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

static void add_cand(struct family *f, const char *name, const GElf_Sym *s)
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
			add_cand(f, name, s);
	}
}

static void scan_symtab(struct img *im, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d;
	size_t n;

	if (sh->sh_entsize != gelf_fsize(im->elf, ELF_T_SYM, 1, EV_CURRENT))
		return;
	if (sh->sh_link == 0 || sh->sh_link >= im->shnum)
		return;
	d = elf_getdata(scn, NULL);
	if (!d || !d->d_buf)
		return;
	n = d->d_size / sh->sh_entsize;
	if (n > INT32_MAX)
		n = INT32_MAX;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		const char *name;

		if (!gelf_getsym(d, (int)i, &s))
			break;
		if (s.st_shndx == SHN_UNDEF || s.st_name == 0)
			continue;
		/* elf_strptr checks the table type, the offset and the terminating NUL */
		name = elf_strptr(im->elf, sh->sh_link, s.st_name);
		if (name)
			note_symbol(im, name, &s);
	}
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
		uint32_t namesz = rd32(buf + pos, im->msb);
		uint32_t descsz = rd32(buf + pos + 4, im->msb);
		uint32_t type = rd32(buf + pos + 8, im->msb);
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

/*
 * Py_Version (Python/getversion.c, 3.11+): const unsigned long Py_Version = PY_VERSION_HEX;
 * with PY_VERSION_HEX = major << 24 | minor << 16 | micro << 8 | level << 4 | serial
 * (Include/patchlevel.h; level 0xA alpha, 0xB beta, 0xC candidate, 0xF final).
 */
static bool version_from_py_version(const struct img *im, int *maj, int *min, int *mic)
{
	const GElf_Sym *s = &im->py_version.s;
	uint64_t off, v;
	unsigned int level;

	if (!im->py_version.found || s->st_size != (im->is64 ? 8 : 4))
		return false;
	if (!sym_to_off(im, s, false, &off))
		return false;
	v = im->is64 ? rd64(im->raw + off, im->msb) : rd32(im->raw + off, im->msb);
	level = (v >> 4) & 0xf;
	if (v >> 32 || (v >> 24) != 3 || ((v >> 16) & 0xff) < 11 || level < 0xa)
		return false;
	*maj = 3;
	*min = (v >> 16) & 0xff;
	*mic = (v >> 8) & 0xff;
	return true;
}

static bool parse_num(const char **p, int *out)
{
	int n = 0, digits = 0;

	while (**p >= '0' && **p <= '9' && digits < 2) {
		n = n * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	*out = n;
	return digits > 0 && !(**p >= '0' && **p <= '9');
}

/* PY_VERSION (Include/patchlevel.h): "3.10.13", "3.12.0a7", "3.13.0rc1", "3.9.18+". */
static bool parse_version_string(const char *s, int *maj, int *min, int *mic)
{
	const char *p = s + 2;
	int serial;

	if (s[0] != '3' || s[1] != '.')
		return false;
	if (!parse_num(&p, min) || *p++ != '.' || !parse_num(&p, mic))
		return false;
	if (*p == 'a' || *p == 'b' || (p[0] == 'r' && p[1] == 'c')) {
		p += *p == 'r' ? 2 : 1;
		if (!parse_num(&p, &serial))
			return false;
	}
	if (*p == '+')
		p++;
	if (*p)
		return false;
	*maj = 3;
	return true;
}

/* A version string at virtual address va, if there is one. */
static bool version_at(const struct img *im, uint64_t va, int *maj, int *min, int *mic)
{
	char buf[MAX_VER_STR];
	uint64_t off;
	size_t n;

	if (!vaddr_to_off(im, va, 1, &off))
		return false;
	n = im->size - off < sizeof(buf) ? im->size - off : sizeof(buf);
	memcpy(buf, im->raw + off, n);
	if (!memchr(buf, '\0', n))
		return false;
	return parse_version_string(buf, maj, min, mic);
}

/*
 * Before 3.11 the micro version is recorded only in the PY_VERSION literal that Py_GetVersion()
 * (Python/getversion.c) hands to PyOS_snprintf("%.80s (%.80s) %.80s", PY_VERSION, ...). Scanning
 * .rodata for it fails: the linker merges string tails, and in the pyenv builds "3.10.13"
 * exists only as the end of "/root/.pyenv/versions/3.10.13". So follow the function's own
 * address loads (x86-64): "lea disp32(%rip),%r64" in PIC code, "mov $imm32,%r32" in non-PIE
 * executables. Every byte offset is tried; the strict string check rejects what was not an
 * instruction, and two different versions found make the answer unknown.
 */
static bool version_from_getversion(const struct img *im, int *maj, int *min, int *mic)
{
	const GElf_Sym *s = &im->py_getversion.s;
	const unsigned char *code;
	bool found = false;
	uint64_t off, len;

	if (!im->py_getversion.found || im->machine != EM_X86_64 || im->msb || !im->is64)
		return false;
	if (!sym_to_off(im, s, true, &off))
		return false;
	len = s->st_size ? s->st_size : MAX_CODE_SCAN;
	if (len > MAX_CODE_SCAN)
		len = MAX_CODE_SCAN;
	if (len > im->size - off)
		len = im->size - off;
	code = im->raw + off;

	for (uint64_t i = 0; i + 5 <= len; i++) {
		uint64_t target;
		int a, b, c;

		if (i + 7 <= len && (code[i] == 0x48 || code[i] == 0x4c) && code[i + 1] == 0x8d &&
		    (code[i + 2] & 0xc7) == 0x05)
			target = s->st_value + i + 7 + (int64_t)(int32_t)rd32(code + i + 3, false);
		else if (code[i] >= 0xb8 && code[i] <= 0xbf)
			target = rd32(code + i + 1, false);
		else
			continue;
		if (!version_at(im, target, &a, &b, &c))
			continue;
		if (found && (a != *maj || b != *min || c != *mic))
			return false;
		found = true;
		*maj = a;
		*min = b;
		*mic = c;
	}
	return found;
}

/*
 * The extension module suffix "." SOABI ".so" (Python/dynload_shlib.c), e.g.
 * ".cpython-310-x86_64-linux-gnu.so", with SOABI "cpython-" major minor ABIFLAGS (configure.ac;
 * flags: d debug, m pymalloc before 3.8, t free-threaded). Every build that loads extension
 * modules has it, stripped or not, on any architecture: it checks the version found elsewhere,
 * gives major.minor when nothing else does, and flags free-threaded builds.
 */
static void scan_soabi(struct img *im)
{
	static const char key[] = "cpython-3";
	bool seen = false;

	im->soabi_minor = -1;
	for (size_t i = 1; i < im->shnum; i++) {
		Elf_Scn *scn = elf_getscn(im->elf, i);
		const unsigned char *p, *end, *hit;
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		if (!(sh.sh_flags & SHF_ALLOC) || (sh.sh_flags & (SHF_WRITE | SHF_EXECINSTR)))
			continue;
		if (!sec_in_file(im, &sh))
			continue;
		p = im->raw + sh.sh_offset;
		end = p + sh.sh_size;
		while ((hit = memmem(p, end - p, key, sizeof(key) - 1))) {
			const unsigned char *q = hit + sizeof(key) - 1;
			bool t = false;
			int minor = 0, digits = 0, flags = 0;

			p = q;
			if (hit > im->raw + sh.sh_offset && hit[-1] != '.' && hit[-1] != '\0')
				continue;
			while (q < end && *q >= '0' && *q <= '9' && digits < 3) {
				minor = minor * 10 + (*q++ - '0');
				digits++;
			}
			while (q < end && *q >= 'a' && *q <= 'z' && flags < 4) {
				t |= *q++ == 't';
				flags++;
			}
			if (!digits || digits > 2 || q == end || (*q != '-' && *q != '\0'))
				continue;
			if (seen && minor != im->soabi_minor) {
				im->soabi_minor = -1; /* contradictory: trust none of them */
				im->soabi_t = false;
				return;
			}
			seen = true;
			im->soabi_minor = minor;
			im->soabi_t |= t;
		}
	}
}

static void find_version(struct img *im, struct py_interp *out)
{
	int maj = 0, min = 0, mic = 0;

	scan_soabi(im);
	if (version_from_py_version(im, &maj, &min, &mic) ||
	    (version_from_getversion(im, &maj, &min, &mic) &&
	     (im->soabi_minor < 0 || im->soabi_minor == min))) {
		out->major = maj;
		out->minor = min;
		out->micro = mic;
	} else if (im->soabi_minor >= 0) {
		out->major = 3;
		out->minor = im->soabi_minor;
	}
}

/* fn contains a direct call or jump (E8/E9 rel32, x86-64) to target. */
static bool calls_to(const struct img *im, const struct sym *fn, uint64_t target)
{
	const unsigned char *code;
	uint64_t off, len;

	if (!fn->found || im->machine != EM_X86_64 || im->msb || !im->is64)
		return false;
	if (!sym_to_off(im, &fn->s, true, &off))
		return false;
	len = fn->s.st_size ? fn->s.st_size : MAX_CODE_SCAN;
	if (len > 4096)
		len = 4096;
	if (len > im->size - off)
		len = im->size - off;
	code = im->raw + off;
	for (uint64_t i = 0; i + 5 <= len; i++) {
		if (code[i] != 0xe8 && code[i] != 0xe9)
			continue;
		if (fn->s.st_value + i + 5 + (int64_t)(int32_t)rd32(code + i + 1, false) == target)
			return true;
	}
	return false;
}

static void set_func(char *name, unsigned long *off, const struct cand *c)
{
	/* both are 64 bytes; add_cand refused longer names */
	memcpy(name, c->name, sizeof(c->name));
	*off = c->off;
}

/*
 * Where the generation arrives in this copy of the function. A constprop clone keeps the
 * generation (gc.collect(n) and the automatic collections pass different ones) but drops the
 * constant parameters before it; an isra clone may reorder anything.
 */
static int gen_arg_of(const struct cand *c, int gen_pos, int leading_const)
{
	if (c->kind == CAND_SAME)
		return gen_pos;
	if (c->kind == CAND_CONSTPROP)
		return gen_pos - leading_const;
	return 0;
}

/*
 * Pick the collector's entry points from a family of symbols. gen_pos is the generation's
 * 1-based position in the source signature; leading_const counts the parameters before it that
 * are the same in every call, which a GCC constprop clone drops (3.8: state is always
 * &_PyRuntime.gc).
 */
static void pick_collector(const struct img *im, const struct family *f, int gen_pos,
			   int leading_const, struct py_interp *out)
{
	const struct cand *e[2];
	bool api[2];
	int n = 0;

	for (int i = 0; i < f->n; i++) {
		const struct cand *c = &f->c[i];

		if (c->kind == CAND_REJECT || GELF_ST_TYPE(c->s.st_info) != STT_FUNC)
			continue;
		if (n == 2)
			return; /* more entry points than we can tell apart: observe none */
		e[n++] = c;
	}
	if (n == 0)
		return;
	/* the plain function first */
	if (n == 2 && e[1]->kind == CAND_SAME && e[0]->kind != CAND_SAME) {
		const struct cand *t = e[0];

		e[0] = e[1];
		e[1] = t;
	}
	if (n == 1) {
		set_func(out->gc_func, &out->gc_func_offset, e[0]);
		out->gc_gen_arg = gen_arg_of(e[0], gen_pos, leading_const);
		return;
	}

	/*
	 * Two entries: GCC's constprop copy for PyGC_Collect() and _PyGC_CollectNoFail(), which
	 * always collect NUM_GENERATIONS - 1 (Modules/gcmodule.c), next to the one gc.collect(n)
	 * and the automatic collections use. Tell them apart by who calls them; only a constprop
	 * copy can have the generation folded in.
	 */
	for (int i = 0; i < 2; i++)
		api[i] = e[i]->kind == CAND_CONSTPROP &&
			 (calls_to(im, &im->pygc_collect, e[i]->s.st_value) ||
			  calls_to(im, &im->pygc_nofail, e[i]->s.st_value));
	if (api[0] != api[1]) {
		const struct cand *coll = api[0] ? e[1] : e[0], *gen2 = api[0] ? e[0] : e[1];

		set_func(out->gc_func, &out->gc_func_offset, coll);
		out->gc_gen_arg = gen_arg_of(coll, gen_pos, leading_const);
		set_func(out->gc_func2, &out->gc_func2_offset, gen2);
		out->gc_func2_gen = 2;
		return;
	}
	/* cannot tell which is which: probe both, generation unknown */
	set_func(out->gc_func, &out->gc_func_offset, e[0]);
	out->gc_gen_arg = 0;
	set_func(out->gc_func2, &out->gc_func2_offset, e[1]);
	out->gc_func2_gen = -1;
}

/*
 * The function entered once per collection, by version (verified with gdb and kernel uprobes on
 * the pyenv builds, see docs/python-versions.md):
 *   3.6, 3.7  collect(int generation, ...)                          Modules/gcmodule.c
 *   3.8       collect(struct _gc_runtime_state *state, int generation, ...)
 *   3.9       collect(PyThreadState *tstate, int generation, ...)
 *   3.10-3.13 gc_collect_main(PyThreadState *tstate, int generation, ...)
 *             Modules/gcmodule.c, Python/gc.c from 3.13 (where generation may be -1, auto)
 *   3.14.0-4  _PyGC_Collect(PyThreadState *tstate, int generation, _PyGC_Reason reason),
 *             Python/gc.c; the incremental collector has no gc_collect_main (3.14.5 brought
 *             it back). Not verified here: no 3.14 build on this machine.
 */
static void find_collector(struct img *im, struct py_interp *out)
{
	if (out->major != 3 || out->minor < 6)
		return;
	if (out->minor >= 10) {
		pick_collector(im, &im->fam[FAM_GC_COLLECT_MAIN], 2, 0, out);
		if (!out->gc_func[0] && out->minor >= 14)
			pick_collector(im, &im->fam[FAM_PYGC_COLLECT_INTERNAL], 2, 0, out);
	} else {
		pick_collector(im, &im->fam[FAM_COLLECT], out->minor >= 8 ? 2 : 1,
			       out->minor == 8 ? 1 : 0, out);
	}
}

/* The offsets were not known when the candidates were collected; fill and check them. */
static void resolve_offsets(struct img *im)
{
	for (int i = 0; i < FAM_COUNT; i++) {
		struct family *f = &im->fam[i];

		for (int j = 0; j < f->n; j++) {
			uint64_t off;

			if (f->c[j].kind != CAND_REJECT && sym_to_off(im, &f->c[j].s, true, &off))
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
 * symbol's file offset. sym_to_off() has checked that the symbol's whole extent lies in its
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
	if (s->st_size == 0 || !sym_to_off(im, s, false, &off))
		return;
	n = s->st_size < PY_DEBUG_OFFSETS_MAX ? s->st_size : PY_DEBUG_OFFSETS_MAX;
	memcpy(out->debug_offsets, im->raw + off, n);
	out->debug_offsets_len = (unsigned int)n;
	if (n >= 24 && !memcmp(out->debug_offsets, "xdebugpy", 8) &&
	    rd64(out->debug_offsets + 16, false) == 1)
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

	find_version(im, out);
	out->free_threaded = im->ft_symbol.found || im->soabi_t;
	read_debug_offsets(im, out);
	if (im->runtime.found && find_load_base(im, &out->load_vaddr)) {
		out->runtime_vaddr = im->runtime.s.st_value;
		out->runtime_size = im->runtime.s.st_size;
	}
	resolve_offsets(im);
	out->gc_func2_gen = -1;
	find_collector(im, out);
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
