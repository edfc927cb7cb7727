// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests for user/python/pyinterp*.c: the real interpreters on this machine (Debian's
 * python3.11, the pyenv builds), files that are not CPython, broken files, and small hand-built ELF files
 * that reach the corner cases no installed interpreter has (free-threaded builds, GCC clones,
 * malformed notes and symbols). Expected values are facts looked up independently (nm, readelf,
 * the interpreters themselves, gdb: docs/python-versions.md), never the code's own output.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pyinterp.h"

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_pyinterp.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *tmp_path(const char *name)
{
	static char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* The first len bytes of src, as a new file. */
static void write_prefix(const char *src, const char *dst, size_t len)
{
	char *buf = malloc(len ? len : 1);
	int fd = open(src, O_RDONLY);

	assert_non_null(buf);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	write_file(dst, buf, len);
	free(buf);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

/* First line of a command's output, trailing newline removed; false if it printed nothing. */
static bool run_line(char *out, size_t len, const char *fmt, ...)
{
	char cmd[PATH_MAX + 256];
	va_list ap;
	FILE *p;
	bool ok;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return false;
	ok = fgets(out, (int)len, p) != NULL;
	pclose(p);
	if (ok)
		out[strcspn(out, "\n")] = '\0';
	return ok;
}

/* What the interpreter itself says its version is. */
static void interp_version(const char *python, int *maj, int *min, int *mic)
{
	char line[128];

	assert_true(run_line(line, sizeof(line),
			     "'%s' -c 'import sys; print(*sys.version_info[:3])' 2>/dev/null",
			     python));
	assert_int_equal(sscanf(line, "%d %d %d", maj, min, mic), 3);
}

/*
 * File offset of a symbol as binutils sees it, computed here independently of pyinterp.c: the
 * value from nm, then value - Address + Off of the readelf section that holds it.
 */
static bool binutils_offset(const char *file, const char *sym, unsigned long *off)
{
	unsigned long value = 0, addr, soff, size;
	char line[512], name[256];
	bool found = false;
	FILE *p;

	snprintf(line, sizeof(line), "nm --defined-only '%s'", file);
	p = popen(line, "r");
	if (!p)
		return false;
	while (fgets(line, sizeof(line), p)) {
		char type;

		if (sscanf(line, "%lx %c %255s", &value, &type, name) == 3 && !strcmp(name, sym)) {
			found = true;
			break;
		}
	}
	pclose(p);
	if (!found)
		return false;

	found = false;
	snprintf(line, sizeof(line), "readelf -SW '%s'", file);
	p = popen(line, "r");
	if (!p)
		return false;
	while (fgets(line, sizeof(line), p)) {
		char *q = strchr(line, ']'), type[64];

		if (!q ||
		    sscanf(q + 1, "%255s %63s %lx %lx %lx", name, type, &addr, &soff, &size) != 5)
			continue;
		if (strcmp(type, "NOBITS") && addr && value >= addr && value < addr + size) {
			*off = value - addr + soff;
			found = true;
			break;
		}
	}
	pclose(p);
	return found;
}

static bool build_id_is(const char *file, const char *want)
{
	char line[256];

	return run_line(line, sizeof(line), "readelf -n '%s' | awk '/Build ID/ {print $3}'",
			file) &&
	       !strcmp(line, want);
}

/* ---- Debian's python3.11: statically linked, stripped, USDT probes ---- */

static void test_debian_python311(void **state)
{
	const char *path = "/usr/bin/python3.11";
	struct py_interp pi;
	int maj, min, mic;

	if (access(path, X_OK)) {
		print_message("skip: %s is not installed\n", path);
		skip();
	}
	interp_version(path, &maj, &min, &mic);
	assert_int_equal(py_interp_inspect(path, &pi), 0);
	assert_string_equal(pi.path, path);
	assert_int_equal(pi.major, maj);
	assert_int_equal(pi.minor, min);
	assert_int_equal(pi.micro, mic);
	assert_int_equal(pi.major, 3);
	assert_int_equal(pi.minor, 11);
	assert_false(pi.free_threaded);
	assert_true(pi.has_usdt_gc);
	assert_int_equal(pi.gc_source, PY_GC_USDT);
	assert_string_equal(py_gc_source_name(pi.gc_source), "usdt");
	/* stripped: no .symtab, so no uprobe fallback */
	assert_string_equal(pi.gc_func, "");
	assert_string_equal(pi.gc_func2, "");
}

/* The symlink is followed for reading, the given path is kept for attaching. */
static void test_debian_python3_symlink(void **state)
{
	const char *link = "/usr/bin/python3";
	struct py_interp pi;
	struct stat st;
	char target[PATH_MAX];
	ssize_t n = readlink(link, target, sizeof(target) - 1);

	if (n < 0 || access(link, X_OK)) {
		print_message("skip: %s is not a symlink to an interpreter\n", link);
		skip();
	}
	assert_int_equal(stat(link, &st), 0);
	assert_int_equal(py_interp_inspect(link, &pi), 0);
	assert_string_equal(pi.path, link);
	assert_int_equal(pi.dev, st.st_dev);
	assert_int_equal(pi.ino, st.st_ino);
	assert_int_equal(pi.major, 3);
}

/* ---- the pyenv shared builds: .symtab, no USDT ---- */

struct pyenv_case {
	const char *version;
	const char *lib;
	const char *func;
	int gen_arg;
	const char *func2;
	int func2_gen;
	/* the build the offsets below were read from (nm) and verified on (gdb, uprobes) */
	const char *build_id;
	unsigned long off, off2;
};

static const struct pyenv_case pyenv_cases[] = {
    {"3.6.15", "libpython3.6m.so.1.0", "collect", 1, "collect.constprop.0", 2,
     "6d853d1016a951ac13d69174b9a33ac9639c3a22", 0x191740, 0x192520},
    {"3.7.16", "libpython3.7m.so.1.0", "collect", 1, "collect.constprop.0", 2,
     "edcca1179f608e68bf531649c8046e6c3508c5f9", 0x1afdc0, 0x1b0f90},
    {"3.8.18", "libpython3.8.so.1.0", "collect.constprop.1", 1, "collect.constprop.0", 2,
     "ff2a4988bea9e9bbbb8004eb6e74cc0792734c3b", 0x1d43d0, 0x1d52f0},
    {"3.9.18", "libpython3.9.so.1.0", "collect", 2, "", -1,
     "8a6cadea533dd782615a0f14a75b5aef248a10d4", 0x1ff0d0, 0},
    {"3.10.13", "libpython3.10.so.1.0", "gc_collect_main", 2, "", -1,
     "ece57af647dd10ee274f46d757d62a5eab42c418", 0x21b150, 0},
    {"3.11.7", "libpython3.11.so.1.0", "gc_collect_main", 2, "", -1,
     "49daf84ed369fe589b73ea876f2591cd4c3588bb", 0x2bb0b0, 0},
    {"3.12.1", "libpython3.12.so.1.0", "gc_collect_main", 2, "", -1,
     "f9d5c82f5f2c22df68c1d49c944ef3dee5103dcc", 0x3035a0, 0},
    {"3.13.0", "libpython3.13.so.1.0", "gc_collect_main", 2, "", -1,
     "d11d13fb0f82d32f3da1221ffd551ab179afb423", 0x25c5f0, 0},
};

static const char *pyenv_root(void)
{
	static char root[PATH_MAX];
	const char *e = getenv("PYENV_ROOT"), *home = getenv("HOME");

	if (e && *e)
		return e;
	snprintf(root, sizeof(root), "%s/.pyenv", home ? home : "/root");
	return root;
}

static void test_pyenv(void **state)
{
	const struct pyenv_case *c = *state;
	char lib[PATH_MAX], python[PATH_MAX];
	int maj, min, mic, vmaj, vmin, vmic;
	struct py_interp pi;
	unsigned long off;

	assert_int_equal(sscanf(c->version, "%d.%d.%d", &vmaj, &vmin, &vmic), 3);
	snprintf(lib, sizeof(lib), "%s/versions/%s/lib/%s", pyenv_root(), c->version, c->lib);
	snprintf(python, sizeof(python), "%s/versions/%s/bin/python%d.%d", pyenv_root(), c->version,
		 vmaj, vmin);
	if (access(lib, R_OK) || access(python, X_OK)) {
		print_message("skip: pyenv %s is not installed (%s)\n", c->version, lib);
		skip();
	}

	assert_int_equal(py_interp_inspect(lib, &pi), 0);
	assert_string_equal(pi.path, lib);
	/* the version the running interpreter reports, and the one its directory is named for */
	interp_version(python, &maj, &min, &mic);
	assert_int_equal(pi.major, maj);
	assert_int_equal(pi.minor, min);
	assert_int_equal(pi.micro, mic);
	assert_int_equal(pi.major, vmaj);
	assert_int_equal(pi.minor, vmin);
	assert_int_equal(pi.micro, vmic);
	assert_false(pi.free_threaded);
	assert_false(pi.has_usdt_gc);
	assert_int_equal(pi.gc_source, PY_GC_UPROBE);
	assert_string_equal(py_gc_source_name(pi.gc_source), "uprobe");
	/* 3.13+: the start of _PyRuntime (283320 bytes in 3.13.0), cookie first */
	assert_int_equal(pi.debug_offsets_len, vmin >= 13 ? PY_DEBUG_OFFSETS_MAX : 0);
	if (vmin >= 13)
		assert_memory_equal(pi.debug_offsets, "xdebugpy", 8);
	assert_string_equal(pi.gc_func, c->func);
	assert_int_equal(pi.gc_gen_arg, c->gen_arg);
	assert_string_equal(pi.gc_func2, c->func2);
	assert_int_equal(pi.gc_func2_gen, c->func2_gen);

	assert_true(binutils_offset(lib, c->func, &off));
	assert_int_equal(pi.gc_func_offset, off);
	if (c->func2[0]) {
		assert_true(binutils_offset(lib, c->func2, &off));
		assert_int_equal(pi.gc_func2_offset, off);
	}
	if (build_id_is(lib, c->build_id)) {
		assert_int_equal(pi.gc_func_offset, c->off);
		assert_int_equal(pi.gc_func2_offset, c->off2);
	} else {
		print_message("note: %s is another build than the one documented; offsets checked "
			      "against nm/readelf only\n",
			      lib);
	}

	/* the executable only links libpython: not itself an interpreter */
	assert_int_equal(py_interp_inspect(python, &pi), -ENOENT);
	assert_string_equal(pi.gc_func, "");
}

/* libpython3.so, the stable-ABI stub, defines no interpreter. */
static void test_pyenv_stub(void **state)
{
	char lib[PATH_MAX];
	struct py_interp pi;

	snprintf(lib, sizeof(lib), "%s/versions/3.12.1/lib/libpython3.so", pyenv_root());
	if (access(lib, R_OK)) {
		print_message("skip: %s is not installed\n", lib);
		skip();
	}
	assert_int_equal(py_interp_inspect(lib, &pi), -ENOENT);
}

/* ---- not CPython, or not a usable file ---- */

static void test_not_python(void **state)
{
	struct py_interp pi;

	assert_int_equal(py_interp_inspect("/bin/ls", &pi), -ENOENT);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
	assert_int_equal(pi.major, 0);
	assert_int_equal(py_interp_inspect(tmp_path("does-not-exist"), &pi), -ENOENT);
	assert_int_equal(py_interp_inspect("/tmp", &pi), -ENOEXEC);
	assert_int_equal(py_interp_inspect("/dev/null", &pi), -ENOEXEC);
}

static void test_empty_file(void **state)
{
	const char *p = tmp_path("empty");
	struct py_interp pi;

	write_file(p, "", 0);
	assert_int_equal(py_interp_inspect(p, &pi), -ENOEXEC);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
}

static void test_garbage(void **state)
{
	unsigned char buf[8192];
	const char *p = tmp_path("garbage");
	struct py_interp pi;

	srand(42);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rand();
	write_file(p, buf, sizeof(buf));
	assert_int_equal(py_interp_inspect(p, &pi), -ENOEXEC);

	/* an ELF magic in front of the garbage gets further into libelf */
	memcpy(buf, ELFMAG, SELFMAG);
	buf[EI_CLASS] = ELFCLASS64;
	buf[EI_DATA] = ELFDATA2LSB;
	buf[EI_VERSION] = EV_CURRENT;
	write_file(p, buf, sizeof(buf));
	assert_true(py_interp_inspect(p, &pi) < 0);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
}

/* Truncated copies of a real interpreter: never a result, never a crash. */
static void test_truncated(void **state)
{
	const char *src = "/usr/bin/python3.11", *p = tmp_path("truncated");
	off_t size = file_size(src);
	struct py_interp pi;

	if (size <= 0) {
		print_message("skip: %s is not installed\n", src);
		skip();
	}
	const off_t cuts[] = {1, 16, 63, 64, 65, 4096, size / 3, size / 2, size - 4096, size - 1};

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		int r;

		write_prefix(src, p, (size_t)cuts[i]);
		r = py_interp_inspect(p, &pi);
		if (r >= 0)
			print_message("truncated at %lld bytes: %d\n", (long long)cuts[i], r);
		assert_true(r < 0);
		assert_int_equal(pi.gc_source, PY_GC_NONE);
	}
}

/* ---- hand-built ELF files ---- */

/*
 * Fixed layout; .text and .rodata are mapped at file offset + VA_BIAS so that a code path that
 * confused addresses with file offsets fails.
 */
#define VA_BIAS	   0x400000ul
#define F_TEXT	   0x100
#define F_RODATA   0x200
#define F_SYMTAB   0x300
#define F_STRTAB   0x500
#define F_NOTE	   0x600
#define F_SHSTR	   0x800
#define F_SHDR	   0x880
#define SEC_TEXT   1
#define SEC_RODATA 2
#define SEC_BSS	   3
#define SEC_SYMTAB 4
#define SEC_STRTAB 5
#define SEC_NOTE   6
#define SEC_SHSTR  7
#define SEC_PYRT   8 /* .PyRuntime: _PyRuntime, _Py_DebugOffsets first */
#define NSEC	   9
#define F_PYRT	   0xb00 /* after the section headers (F_SHDR + NSEC * 64 = 0xac0) */
#define PYRT_SIZE  0x400
#define PYRT_VA	   0x900000ul /* mapped away from its file offset, like .text */
#define IMG_SIZE   (F_PYRT + PYRT_SIZE)

/* .text: collectors at +0x00..+0x30, PyGC_Collect +0x40, _PyGC_CollectNoFail +0x60,
 * Py_GetVersion +0x80. .rodata: Py_Version +0x00, strings below. */
#define T_COLL(i)    (0x10 * (i))
#define T_PYGC	     0x40
#define T_NOFAIL     0x60
#define T_GETVERSION 0x80
#define R_PYVERSION  0x00
#define R_TAILMERGED 0x10 /* "/prefix/3.9.18": the version is its tail at +0x18 */
#define R_VER_RC     0x30 /* "3.8.7rc1" */
#define R_SOABI	     0x40
#define R_VER_OTHER  0x80 /* "3.7.1" */
#define R_FORMAT     0xa0 /* "%.80s (%.80s) %.80s" */

enum gv { GV_NONE, GV_LEA, GV_MOV, GV_CONFLICT };

struct fake {
	uint16_t e_type;
	bool py_version;
	uint64_t py_version_val;
	uint64_t py_version_value_bias; /* added to the symbol's value: outside .rodata */
	enum gv getversion;
	const char *soabi;
	bool ft_symbol;
	const char *coll[4];
	int coll_shndx[4]; /* 0: .text */
	unsigned long coll_value_bias;
	int pygc_calls, nofail_calls; /* 1 + index into coll of the callee, 0 none */
	const char *provider;
	const char *probes[3];
	bool bad_note;	      /* a note whose namesz runs past the section */
	uint32_t symtab_link; /* 0: .strtab */
	/* _PyRuntime in .PyRuntime: its st_size (0: no symbol), the bytes at its start, where it
	 * starts in the section, and a NOBITS section instead of the file's bytes */
	uint64_t pyrt_size;
	const unsigned char *pyrt_blob;
	size_t pyrt_blob_len;
	uint64_t pyrt_start;
	bool pyrt_nobits;
};

struct imgbuf {
	unsigned char b[IMG_SIZE];
	size_t nsym, strsz, notesz, shstrsz;
};

static void add_sym(struct imgbuf *im, const char *name, uint64_t value, uint64_t size,
		    unsigned char type, unsigned char bind, uint16_t shndx)
{
	Elf64_Sym *s = (Elf64_Sym *)(im->b + F_SYMTAB) + im->nsym++;

	assert_true(F_SYMTAB + im->nsym * sizeof(Elf64_Sym) <= F_STRTAB);
	s->st_name = (uint32_t)im->strsz;
	s->st_value = value;
	s->st_size = size;
	s->st_info = ELF64_ST_INFO(bind, type);
	s->st_shndx = shndx;
	assert_true(F_STRTAB + im->strsz + strlen(name) + 1 <= F_NOTE);
	strcpy((char *)im->b + F_STRTAB + im->strsz, name);
	im->strsz += strlen(name) + 1;
}

static void add_note(struct imgbuf *im, const char *provider, const char *probe)
{
	unsigned char *p = im->b + F_NOTE + im->notesz;
	size_t pl = strlen(provider) + 1, nl = strlen(probe) + 1;
	uint32_t desc = (uint32_t)(24 + pl + nl + 1);
	uint32_t hdr[3] = {8, desc, 3};

	memcpy(p, hdr, sizeof(hdr));
	memcpy(p + 12, "stapsdt", 8);
	memset(p + 20, 0, 24); /* pc, base, semaphore */
	memcpy(p + 44, provider, pl);
	memcpy(p + 44 + pl, probe, nl);
	p[44 + pl + nl] = '\0'; /* no arguments */
	im->notesz += 20 + ((desc + 3) & ~3u);
	assert_true(F_NOTE + im->notesz <= F_SHSTR);
}

static uint32_t add_shstr(struct imgbuf *im, const char *name)
{
	uint32_t at = (uint32_t)im->shstrsz;

	strcpy((char *)im->b + F_SHSTR + at, name);
	im->shstrsz += strlen(name) + 1;
	return at;
}

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void build(struct imgbuf *im, const struct fake *f)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)im->b;
	Elf64_Shdr *sh = (Elf64_Shdr *)(im->b + F_SHDR);
	unsigned char *text = im->b + F_TEXT, *ro = im->b + F_RODATA;
	const uint64_t tva = VA_BIAS + F_TEXT, rva = VA_BIAS + F_RODATA;

	memset(im, 0, sizeof(*im));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = f->e_type ? f->e_type : ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_shoff = F_SHDR;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = NSEC;
	eh->e_shstrndx = SEC_SHSTR;

	memset(text, 0xc3, 0x100); /* ret */
	strcpy((char *)ro + R_TAILMERGED, "/prefix/3.9.18");
	strcpy((char *)ro + R_VER_RC, "3.8.7rc1");
	if (f->soabi)
		strcpy((char *)ro + R_SOABI, f->soabi);
	strcpy((char *)ro + R_VER_OTHER, "3.7.1");
	strcpy((char *)ro + R_FORMAT, "%.80s (%.80s) %.80s");

	im->strsz = 1;
	add_sym(im, "", 0, 0, STT_NOTYPE, STB_LOCAL, SHN_UNDEF);
	if (f->py_version) {
		memcpy(ro + R_PYVERSION, &f->py_version_val, 8);
		add_sym(im, "Py_Version", rva + R_PYVERSION + f->py_version_value_bias, 8,
			STT_OBJECT, STB_GLOBAL, SEC_RODATA);
	}
	if (f->getversion != GV_NONE) {
		unsigned char *c = text + T_GETVERSION;
		uint64_t va = tva + T_GETVERSION;

		if (f->getversion == GV_LEA || f->getversion == GV_CONFLICT) {
			/* lea disp32(%rip),%rcx */
			c[0] = 0x48, c[1] = 0x8d, c[2] = 0x0d;
			put32(c + 3, (uint32_t)(rva + R_TAILMERGED + 8 - (va + 7)));
			c += 7;
		}
		if (f->getversion == GV_MOV || f->getversion == GV_CONFLICT) {
			/* mov $imm32,%ecx to the version; mov $imm32,%r9d to the format */
			c[0] = 0xb9;
			put32(c + 1,
			      (uint32_t)(rva + (f->getversion == GV_MOV ? R_VER_RC : R_VER_OTHER)));
			c[5] = 0x41, c[6] = 0xb9;
			put32(c + 7, (uint32_t)(rva + R_FORMAT));
		}
		add_sym(im, "Py_GetVersion", va, 0x40, STT_FUNC, STB_GLOBAL, SEC_TEXT);
	}
	if (f->ft_symbol)
		add_sym(im, "_Py_MergeZeroLocalRefcount", tva + 0xf0, 1, STT_FUNC, STB_GLOBAL,
			SEC_TEXT);
	for (int i = 0; i < 4; i++) {
		if (!f->coll[i])
			continue;
		add_sym(im, f->coll[i], tva + T_COLL(i) + f->coll_value_bias, 0x10, STT_FUNC,
			STB_LOCAL, f->coll_shndx[i] ? f->coll_shndx[i] : SEC_TEXT);
	}
	/* call rel32 from PyGC_Collect / _PyGC_CollectNoFail to a collector */
	if (f->pygc_calls) {
		text[T_PYGC + 4] = 0xe8;
		put32(text + T_PYGC + 5, (uint32_t)(T_COLL(f->pygc_calls - 1) - (T_PYGC + 9)));
	}
	if (f->nofail_calls) {
		text[T_NOFAIL + 2] = 0xe8;
		put32(text + T_NOFAIL + 3,
		      (uint32_t)(T_COLL(f->nofail_calls - 1) - (T_NOFAIL + 7)));
	}
	if (f->pyrt_size) {
		memcpy(im->b + F_PYRT + f->pyrt_start, f->pyrt_blob, f->pyrt_blob_len);
		add_sym(im, "_PyRuntime", PYRT_VA + f->pyrt_start, f->pyrt_size, STT_OBJECT,
			STB_GLOBAL, SEC_PYRT);
	}
	add_sym(im, "PyGC_Collect", tva + T_PYGC, 0x20, STT_FUNC, STB_GLOBAL, SEC_TEXT);
	add_sym(im, "_PyGC_CollectNoFail", tva + T_NOFAIL, 0x20, STT_FUNC, STB_GLOBAL, SEC_TEXT);

	for (int i = 0; i < 3 && f->probes[i]; i++)
		add_note(im, f->provider ? f->provider : "python", f->probes[i]);
	if (f->bad_note) {
		uint32_t hdr[3] = {0xfffffff0u, 4, 3};

		memcpy(im->b + F_NOTE + im->notesz, hdr, sizeof(hdr));
		im->notesz += 12;
	}

	im->shstrsz = 1;
	sh[SEC_TEXT] = (Elf64_Shdr){add_shstr(im, ".text"),
				    SHT_PROGBITS,
				    SHF_ALLOC | SHF_EXECINSTR,
				    tva,
				    F_TEXT,
				    0x100,
				    0,
				    0,
				    16,
				    0};
	sh[SEC_RODATA] = (Elf64_Shdr){
	    add_shstr(im, ".rodata"), SHT_PROGBITS, SHF_ALLOC, rva, F_RODATA, 0x100, 0, 0, 16, 0};
	sh[SEC_BSS] = (Elf64_Shdr){add_shstr(im, ".bss"),
				   SHT_NOBITS,
				   SHF_ALLOC | SHF_WRITE,
				   0x600000,
				   F_SYMTAB,
				   0x1000,
				   0,
				   0,
				   16,
				   0};
	sh[SEC_SYMTAB] = (Elf64_Shdr){add_shstr(im, ".symtab"),
				      SHT_SYMTAB,
				      0,
				      0,
				      F_SYMTAB,
				      im->nsym * sizeof(Elf64_Sym),
				      f->symtab_link ? f->symtab_link : SEC_STRTAB,
				      1,
				      8,
				      sizeof(Elf64_Sym)};
	sh[SEC_STRTAB] = (Elf64_Shdr){
	    add_shstr(im, ".strtab"), SHT_STRTAB, 0, 0, F_STRTAB, im->strsz, 0, 0, 1, 0};
	sh[SEC_NOTE] = (Elf64_Shdr){
	    add_shstr(im, ".note.stapsdt"), SHT_NOTE, 0, 0, F_NOTE, im->notesz, 0, 0, 4, 0};
	sh[SEC_PYRT] = (Elf64_Shdr){add_shstr(im, ".PyRuntime"),
				    f->pyrt_nobits ? SHT_NOBITS : SHT_PROGBITS,
				    SHF_ALLOC | SHF_WRITE,
				    PYRT_VA,
				    F_PYRT,
				    PYRT_SIZE,
				    0,
				    0,
				    32,
				    0};
	sh[SEC_SHSTR] =
	    (Elf64_Shdr){add_shstr(im, ".shstrtab"), SHT_STRTAB, 0, 0, F_SHSTR, 0, 0, 0, 1, 0};
	sh[SEC_SHSTR].sh_size = im->shstrsz;
	assert_true(F_SHSTR + im->shstrsz <= F_SHDR);
}

static int inspect_fake(const struct fake *f, struct py_interp *pi)
{
	static struct imgbuf im;
	const char *p = tmp_path("fake.so");

	build(&im, f);
	write_file(p, im.b, sizeof(im.b));
	return py_interp_inspect(p, pi);
}

#define FAKE(...) ((struct fake){__VA_ARGS__})

static void test_fake_313(void **state)
{
	struct py_interp pi;

	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030d00f0,
					    .soabi = ".cpython-313-x86_64-linux-gnu.so",
					    .coll = {"gc_collect_main"}),
				      &pi),
			 0);
	assert_int_equal(pi.major, 3);
	assert_int_equal(pi.minor, 13);
	assert_int_equal(pi.micro, 0);
	assert_false(pi.free_threaded);
	assert_int_equal(pi.gc_source, PY_GC_UPROBE);
	assert_string_equal(pi.gc_func, "gc_collect_main");
	/* a file offset, not the address (which is VA_BIAS higher) */
	assert_int_equal(pi.gc_func_offset, F_TEXT + T_COLL(0));
	assert_int_equal(pi.gc_gen_arg, 2);
	assert_string_equal(pi.gc_func2, "");

	/* 3.12.0a7 and 3.14.5: a pre-release level and a newer minor */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030c00a7,
					    .coll = {"gc_collect_main"}),
				      &pi),
			 0);
	assert_int_equal(pi.minor, 12);
	assert_int_equal(pi.micro, 0);
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030e05f0,
					    .coll = {"gc_collect_main", "_PyGC_Collect"}),
				      &pi),
			 0);
	assert_int_equal(pi.micro, 5);
	assert_string_equal(pi.gc_func, "gc_collect_main");
}

/* 3.14.0-3.14.4: no gc_collect_main, the incremental collector enters at _PyGC_Collect. */
static void test_fake_314_incremental(void **state)
{
	struct py_interp pi;

	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030e00f0,
					    .coll = {"_PyGC_Collect"}),
				      &pi),
			 0);
	assert_string_equal(pi.gc_func, "_PyGC_Collect");
	assert_int_equal(pi.gc_gen_arg, 2);
	/* but not before 3.14, where gc_collect_main must be there */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030d00f0,
					    .coll = {"_PyGC_Collect"}),
				      &pi),
			 0);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
}

static void test_fake_free_threaded(void **state)
{
	struct py_interp pi;

	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030d00f0,
					    .ft_symbol = true, .coll = {"gc_collect_main"}),
				      &pi),
			 0);
	assert_true(pi.free_threaded);
	assert_int_equal(pi.gc_source, PY_GC_UPROBE);
	/* the ABI flag alone is enough */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030d00f0,
					    .soabi = ".cpython-313t-x86_64-linux-gnu.so"),
				      &pi),
			 0);
	assert_true(pi.free_threaded);
	assert_int_equal(pi.minor, 13);
	/* 'd' (debug) is not 't' */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030d00f0,
					    .soabi = ".cpython-313d-x86_64-linux-gnu.so"),
				      &pi),
			 0);
	assert_false(pi.free_threaded);
}

/*
 * 3.13+: the first bytes of _PyRuntime (_Py_DebugOffsets) are kept from the file, bounded by
 * the symbol, its section and PY_DEBUG_OFFSETS_MAX; what they say is parsed later
 * (test_pyframes.c), except the free-threaded flag, which counts at once.
 */
static void test_fake_debug_offsets(void **state)
{
	static unsigned char blob[PYRT_SIZE];
	struct py_interp pi;
	uint64_t one = 1;

	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (unsigned char)(i * 7 + 3);
	memcpy(blob, "xdebugpy", 8);
	memset(blob + 16, 0, 8); /* free_threaded 0 */

	/* a _PyRuntime larger than the prefix: PY_DEBUG_OFFSETS_MAX bytes, as in the file */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030f02f0,
					    .pyrt_size = PYRT_SIZE, .pyrt_blob = blob,
					    .pyrt_blob_len = sizeof(blob)),
				      &pi),
			 0);
	assert_int_equal(pi.minor, 15);
	assert_int_equal(pi.debug_offsets_len, PY_DEBUG_OFFSETS_MAX);
	assert_memory_equal(pi.debug_offsets, blob, PY_DEBUG_OFFSETS_MAX);
	assert_false(pi.free_threaded);
	assert_int_equal(pi.runtime_vaddr, 0); /* no PT_LOAD: no address, but the blob */

	/* a smaller symbol: its own size, not what follows it; at an offset in the section */
	assert_int_equal(
	    inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030d12f0, .pyrt_size = 200,
			       .pyrt_start = 0x40, .pyrt_blob = blob, .pyrt_blob_len = 300),
			 &pi),
	    0);
	assert_int_equal(pi.debug_offsets_len, 200);
	assert_memory_equal(pi.debug_offsets, blob, 200);

	/* the blob's free_threaded flag alone makes the build free-threaded */
	memcpy(blob + 16, &one, 8);
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030e0af0,
					    .pyrt_size = PYRT_SIZE, .pyrt_blob = blob,
					    .pyrt_blob_len = sizeof(blob)),
				      &pi),
			 0);
	assert_true(pi.free_threaded);
	/* but not without the cookie */
	blob[0] = 'X';
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030e0af0,
					    .pyrt_size = PYRT_SIZE, .pyrt_blob = blob,
					    .pyrt_blob_len = sizeof(blob)),
				      &pi),
			 0);
	assert_false(pi.free_threaded);
	assert_int_equal(pi.debug_offsets_len,
			 PY_DEBUG_OFFSETS_MAX); /* kept: the parser refuses it */
	memcpy(blob, "xdebugpy", 8);
	memset(blob + 16, 0, 8);

	/* hostile files: nothing kept */
	/* the symbol runs past its section */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030f02f0,
					    .pyrt_size = PYRT_SIZE, .pyrt_start = 0x100,
					    .pyrt_blob = blob, .pyrt_blob_len = 64),
				      &pi),
			 0);
	assert_int_equal(pi.debug_offsets_len, 0);
	/* the section has no bytes in the file */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030f02f0,
					    .pyrt_size = PYRT_SIZE, .pyrt_nobits = true,
					    .pyrt_blob = blob, .pyrt_blob_len = sizeof(blob)),
				      &pi),
			 0);
	assert_int_equal(pi.debug_offsets_len, 0);
	/* the file ends inside the section */
	{
		static struct imgbuf im;
		const char *p = tmp_path("cut.so");

		build(&im, &FAKE(.py_version = true, .py_version_val = 0x030f02f0,
				 .pyrt_size = PYRT_SIZE, .pyrt_blob = blob,
				 .pyrt_blob_len = sizeof(blob)));
		write_file(p, im.b, F_PYRT + 100);
		assert_int_equal(py_interp_inspect(p, &pi), 0);
		assert_int_equal(pi.debug_offsets_len, 0);
	}

	/* before 3.13 there is no blob to keep; no symbol, nothing */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030c01f0,
					    .pyrt_size = PYRT_SIZE, .pyrt_blob = blob,
					    .pyrt_blob_len = sizeof(blob)),
				      &pi),
			 0);
	assert_int_equal(pi.debug_offsets_len, 0);
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030f02f0), &pi),
			 0);
	assert_int_equal(pi.debug_offsets_len, 0);
}

/* Before 3.11: the PY_VERSION literal Py_GetVersion() loads. */
static void test_fake_getversion(void **state)
{
	struct py_interp pi;

	/* PIC lea into the middle of a tail-merged string */
	assert_int_equal(
	    inspect_fake(&FAKE(.getversion = GV_LEA, .soabi = ".cpython-39-x86_64-linux-gnu.so",
			       .coll = {"collect"}),
			 &pi),
	    0);
	assert_int_equal(pi.major, 3);
	assert_int_equal(pi.minor, 9);
	assert_int_equal(pi.micro, 18);
	assert_string_equal(pi.gc_func, "collect");
	assert_int_equal(pi.gc_gen_arg, 2);

	/* non-PIE mov $imm32 to a release candidate, no ABI tag to check it against */
	assert_int_equal(inspect_fake(&FAKE(.getversion = GV_MOV, .coll = {"collect"}), &pi), 0);
	assert_int_equal(pi.minor, 8);
	assert_int_equal(pi.micro, 7);
	assert_int_equal(pi.gc_gen_arg, 2);

	/* two different versions: only the ABI tag is believed */
	assert_int_equal(
	    inspect_fake(&FAKE(.getversion = GV_CONFLICT,
			       .soabi = ".cpython-37m-x86_64-linux-gnu.so", .coll = {"collect"}),
			 &pi),
	    0);
	assert_int_equal(pi.major, 3);
	assert_int_equal(pi.minor, 7);
	assert_int_equal(pi.micro, 0);
	assert_int_equal(pi.gc_gen_arg, 1);

	/* literal and ABI tag disagree: the tag wins */
	assert_int_equal(
	    inspect_fake(&FAKE(.getversion = GV_LEA, .soabi = ".cpython-310-x86_64-linux-gnu.so",
			       .coll = {"gc_collect_main"}),
			 &pi),
	    0);
	assert_int_equal(pi.minor, 10);
	assert_int_equal(pi.micro, 0);

	/* nothing believable: CPython, version unknown, no uprobe guess */
	assert_int_equal(inspect_fake(&FAKE(.getversion = GV_CONFLICT, .coll = {"collect"}), &pi),
			 0);
	assert_int_equal(pi.major, 0);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
	assert_string_equal(pi.gc_func, "");
}

static void test_fake_bad_py_version(void **state)
{
	struct py_interp pi;

	/* 2.7 cannot carry Py_Version (3.11+): ignored, the ABI tag is used */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x020712f0,
					    .soabi = ".cpython-312-x86_64-linux-gnu.so"),
				      &pi),
			 0);
	assert_int_equal(pi.minor, 12);
	assert_int_equal(pi.micro, 0);
	/* the symbol's value outside .rodata: not read */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030c01f0,
					    .py_version_value_bias = 0xfc),
				      &pi),
			 0);
	assert_int_equal(pi.major, 0);
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030c01f0,
					    .py_version_value_bias = 0xffffffff00000000ull),
				      &pi),
			 0);
	assert_int_equal(pi.major, 0);
}

/* GCC clones of collect(), as in the 3.6-3.8 builds. */
static void test_fake_clones(void **state)
{
	struct py_interp pi;

	/* 3.8: both entries are clones; PyGC_Collect tells which one has generation 2 folded */
	assert_int_equal(inspect_fake(&FAKE(.getversion = GV_MOV,
					    .coll = {"collect.constprop.0", "collect.constprop.1"},
					    .pygc_calls = 1, .nofail_calls = 1),
				      &pi),
			 0);
	assert_int_equal(pi.minor, 8);
	assert_string_equal(pi.gc_func, "collect.constprop.1");
	assert_int_equal(pi.gc_func_offset, F_TEXT + T_COLL(1));
	assert_int_equal(pi.gc_gen_arg, 1);
	assert_string_equal(pi.gc_func2, "collect.constprop.0");
	assert_int_equal(pi.gc_func2_offset, F_TEXT + T_COLL(0));
	assert_int_equal(pi.gc_func2_gen, 2);

	/* the same with the roles swapped, found only through _PyGC_CollectNoFail */
	assert_int_equal(inspect_fake(&FAKE(.getversion = GV_MOV,
					    .coll = {"collect.constprop.0", "collect.constprop.1"},
					    .nofail_calls = 2),
				      &pi),
			 0);
	assert_string_equal(pi.gc_func, "collect.constprop.0");
	assert_string_equal(pi.gc_func2, "collect.constprop.1");

	/* no caller tells them apart: probe both, generation unknown */
	assert_int_equal(inspect_fake(&FAKE(.getversion = GV_MOV,
					    .coll = {"collect.constprop.0", "collect.constprop.1"}),
				      &pi),
			 0);
	assert_int_equal(pi.gc_source, PY_GC_UPROBE);
	assert_string_equal(pi.gc_func, "collect.constprop.0");
	assert_int_equal(pi.gc_gen_arg, 0);
	assert_string_equal(pi.gc_func2, "collect.constprop.1");
	assert_int_equal(pi.gc_func2_gen, -1);

	/* 3.7: the plain function plus the generation-2 clone (listed first here) */
	assert_int_equal(
	    inspect_fake(&FAKE(.getversion = GV_CONFLICT,
			       .soabi = ".cpython-37m-x86_64-linux-gnu.so",
			       .coll = {"collect.constprop.0", "collect"}, .pygc_calls = 1),
			 &pi),
	    0);
	assert_string_equal(pi.gc_func, "collect");
	assert_int_equal(pi.gc_gen_arg, 1);
	assert_string_equal(pi.gc_func2, "collect.constprop.0");

	/* PyGC_Collect calling the plain function says nothing about the clone: both, unknown */
	assert_int_equal(
	    inspect_fake(&FAKE(.getversion = GV_MOV, .coll = {"collect", "collect.constprop.0"},
			       .pygc_calls = 1),
			 &pi),
	    0);
	assert_string_equal(pi.gc_func, "collect");
	assert_int_equal(pi.gc_gen_arg, 0);
	assert_string_equal(pi.gc_func2, "collect.constprop.0");
	assert_int_equal(pi.gc_func2_gen, -1);

	/* a lone isra clone: attributed, generation unknown */
	assert_int_equal(inspect_fake(&FAKE(.getversion = GV_LEA, .coll = {"collect.isra.0"}), &pi),
			 0);
	assert_string_equal(pi.gc_func, "collect.isra.0");
	assert_int_equal(pi.gc_gen_arg, 0);

	/* fragments are not entry points; unrelated names are ignored */
	assert_int_equal(
	    inspect_fake(&FAKE(.getversion = GV_LEA, .coll = {"collect.part.0", "collect.cold",
							      "collect_generations", "collectx"}),
			 &pi),
	    0);
	assert_int_equal(pi.gc_source, PY_GC_NONE);

	/* three entries cannot be told apart */
	assert_int_equal(inspect_fake(&FAKE(.getversion = GV_LEA,
					    .coll = {"collect.constprop.0", "collect.constprop.1",
						     "collect.constprop.2"}),
				      &pi),
			 0);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
}

static void test_fake_bad_symbols(void **state)
{
	struct py_interp pi;

	/* a "function" in .bss or in .rodata is no function */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030c01f0,
					    .coll = {"gc_collect_main"}, .coll_shndx = {SEC_BSS}),
				      &pi),
			 0);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
	assert_int_equal(
	    inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030c01f0,
			       .coll = {"gc_collect_main"}, .coll_shndx = {SEC_RODATA}),
			 &pi),
	    0);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
	/* a section index past the table */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030c01f0,
					    .coll = {"gc_collect_main"}, .coll_shndx = {77}),
				      &pi),
			 0);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
	/* a value past the end of .text */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030c01f0,
					    .coll = {"gc_collect_main"}, .coll_value_bias = 0x1000),
				      &pi),
			 0);
	assert_int_equal(pi.gc_source, PY_GC_NONE);
	/* the symbol table's strings in a section that is not a string table */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030c01f0,
					    .coll = {"gc_collect_main"}, .symtab_link = SEC_TEXT),
				      &pi),
			 -ENOENT);
	assert_int_equal(
	    inspect_fake(
		&FAKE(.py_version = true, .py_version_val = 0x030c01f0, .symtab_link = 999), &pi),
	    -ENOENT);
}

static void test_fake_usdt(void **state)
{
	struct py_interp pi;

	/* both probes: USDT preferred, the uprobe fallback still filled */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030b02f0,
					    .coll = {"gc_collect_main"},
					    .probes = {"function__entry", "gc__start", "gc__done"}),
				      &pi),
			 0);
	assert_true(pi.has_usdt_gc);
	assert_int_equal(pi.gc_source, PY_GC_USDT);
	assert_string_equal(pi.gc_func, "gc_collect_main");

	/* gc__start alone is not enough to see a collection end */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030b02f0,
					    .coll = {"gc_collect_main"}, .probes = {"gc__start"}),
				      &pi),
			 0);
	assert_false(pi.has_usdt_gc);
	assert_int_equal(pi.gc_source, PY_GC_UPROBE);

	/* another provider's gc probes */
	assert_int_equal(
	    inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030b02f0,
			       .provider = "pythonx", .probes = {"gc__start", "gc__done"}),
			 &pi),
	    0);
	assert_false(pi.has_usdt_gc);

	/* a note running past its section after valid ones: those still count */
	assert_int_equal(inspect_fake(&FAKE(.py_version = true, .py_version_val = 0x030b02f0,
					    .probes = {"gc__start", "gc__done"}, .bad_note = true),
				      &pi),
			 0);
	assert_true(pi.has_usdt_gc);

	/* the probes alone make it CPython, even without symbols */
	assert_int_equal(inspect_fake(&FAKE(.probes = {"gc__start", "gc__done"}), &pi), 0);
	assert_int_equal(pi.gc_source, PY_GC_USDT);
	assert_int_equal(pi.major, 0);

	/* an object file is never mapped to run */
	assert_int_equal(
	    inspect_fake(&FAKE(.e_type = ET_REL, .py_version = true, .py_version_val = 0x030b02f0,
			       .probes = {"gc__start", "gc__done"}),
			 &pi),
	    -ENOENT);
}

/*
 * Random damage to a complete fake interpreter: headers, section table, symbols and notes. The
 * answer may be anything coherent; it must come back (valgrind: without a bad read).
 */
static void test_fake_fuzz(void **state)
{
	static struct imgbuf base, im;
	static unsigned char blob[PYRT_SIZE];
	const char *p = tmp_path("fuzz.so");
	int results[3] = {0};

	/* 3.15 with a _PyRuntime, so that the debug offsets are read from damaged files too */
	memcpy(blob, "xdebugpy", 8);
	build(&base, &FAKE(.py_version = true, .py_version_val = 0x030f02f0,
			   .soabi = ".cpython-315-x86_64-linux-gnu.so",
			   .coll = {"collect.constprop.0", "gc_collect_main"}, .pygc_calls = 1,
			   .probes = {"gc__start", "gc__done"}, .getversion = GV_LEA,
			   .pyrt_size = PYRT_SIZE, .pyrt_blob = blob, .pyrt_blob_len = 64));
	srand(7);
	for (int iter = 0; iter < 3000; iter++) {
		struct py_interp pi;
		int r, n = 1 + rand() % 8;
		size_t len = sizeof(im.b);

		im = base;
		for (int k = 0; k < n; k++) {
			size_t at;

			switch (rand() % 4) {
			case 0: /* ELF header */
				at = rand() % sizeof(Elf64_Ehdr);
				break;
			case 1: /* section headers */
				at = F_SHDR + rand() % (NSEC * sizeof(Elf64_Shdr));
				break;
			case 2: /* symbols and notes */
				at = F_SYMTAB + rand() % (F_SHSTR - F_SYMTAB);
				break;
			default:
				at = rand() % sizeof(im.b);
			}
			im.b[at] = rand() % 3 ? (unsigned char)rand() : 0xff;
		}
		if (iter % 10 == 0)
			len = rand() % sizeof(im.b);
		write_file(p, im.b, len);
		r = py_interp_inspect(p, &pi);
		assert_true(r == 0 || r == -ENOENT || r == -ENOEXEC);
		results[r == 0 ? 0 : r == -ENOENT ? 1 : 2]++;
		assert_true(memchr(pi.path, '\0', sizeof(pi.path)) != NULL);
		assert_true(memchr(pi.gc_func, '\0', sizeof(pi.gc_func)) != NULL);
		assert_true(memchr(pi.gc_func2, '\0', sizeof(pi.gc_func2)) != NULL);
		assert_true(pi.major == 0 || pi.major == 3);
		assert_true(pi.gc_gen_arg >= 0 && pi.gc_gen_arg <= 6);
		assert_true(pi.debug_offsets_len <= PY_DEBUG_OFFSETS_MAX);
		assert_true(pi.debug_offsets_len <= len);
		if (r == 0 && pi.gc_source == PY_GC_UPROBE)
			assert_true(pi.gc_func_offset < len);
		if (r)
			assert_int_equal(pi.gc_source, PY_GC_NONE);
	}
	print_message("fuzz: %d CPython, %d not CPython, %d not ELF\n", results[0], results[1],
		      results[2]);
	/* the damage must not always land where nothing is checked */
	assert_true(results[0] > 0 && results[1] + results[2] > 0);
}

/* ---- names and strings ---- */

static void test_name_candidate(void **state)
{
	static const char *yes[] = {
	    "/usr/bin/python3",
	    "/usr/bin/python3.11",
	    "python3.13t",
	    "/x/bin/python3.7m",
	    "/venv/bin/python",
	    "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0",
	    "/usr/lib/libpython3.7m.so",
	    "libpython3.13t.so.1.0",
	    "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1",
	};
	static const char *no[] = {
	    "/usr/bin/python2.7",
	    "/usr/bin/python3-config",
	    "/usr/bin/python3.11-config",
	    "/usr/bin/python3.",
	    "/usr/bin/python3.x",
	    "/usr/bin/pythonista",
	    "/usr/lib/libpython3.so",
	    "/usr/lib/libpython3.12.a",
	    "/usr/lib/libpython3.12.so-gdb.py",
	    "/usr/lib/libpython2.7.so.1.0",
	    "/bin/ls",
	    "",
	    "/usr/bin/",
	};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!py_interp_name_candidate(yes[i]))
			fail_msg("%s should be a candidate", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (py_interp_name_candidate(no[i]))
			fail_msg("%s should not be a candidate", no[i]);
	}
}

static void test_source_names(void **state)
{
	assert_string_equal(py_gc_source_name(PY_GC_USDT), "usdt");
	assert_string_equal(py_gc_source_name(PY_GC_UPROBE), "uprobe");
	assert_string_equal(py_gc_source_name(PY_GC_NONE), "none");
	assert_string_equal(py_gc_source_name((enum py_gc_source)42), "none");
}

static void test_path_too_long(void **state)
{
	static char longpath[5000];
	struct py_interp pi;

	memset(longpath, 'a', sizeof(longpath) - 1);
	assert_int_equal(py_interp_inspect(longpath, &pi), -ENAMETOOLONG);
}

/* named by version: cmocka_unit_test_prestate would call them all "test_pyenv" */
#define PYENV_TEST(i, v)                                                                           \
	{                                                                                          \
		"test_pyenv_" v, test_pyenv, NULL, NULL, (void *)&pyenv_cases[i]                   \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_debian_python311),
	    cmocka_unit_test(test_debian_python3_symlink),
	    PYENV_TEST(0, "3.6.15"),
	    PYENV_TEST(1, "3.7.16"),
	    PYENV_TEST(2, "3.8.18"),
	    PYENV_TEST(3, "3.9.18"),
	    PYENV_TEST(4, "3.10.13"),
	    PYENV_TEST(5, "3.11.7"),
	    PYENV_TEST(6, "3.12.1"),
	    PYENV_TEST(7, "3.13.0"),
	    cmocka_unit_test(test_pyenv_stub),
	    cmocka_unit_test(test_not_python),
	    cmocka_unit_test(test_empty_file),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_fake_313),
	    cmocka_unit_test(test_fake_314_incremental),
	    cmocka_unit_test(test_fake_free_threaded),
	    cmocka_unit_test(test_fake_debug_offsets),
	    cmocka_unit_test(test_fake_getversion),
	    cmocka_unit_test(test_fake_bad_py_version),
	    cmocka_unit_test(test_fake_clones),
	    cmocka_unit_test(test_fake_bad_symbols),
	    cmocka_unit_test(test_fake_usdt),
	    cmocka_unit_test(test_fake_fuzz),
	    cmocka_unit_test(test_name_candidate),
	    cmocka_unit_test(test_source_names),
	    cmocka_unit_test(test_path_too_long),
	};

	_Static_assert(sizeof(pyenv_cases) / sizeof(pyenv_cases[0]) == 8, "one test per case");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
