// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Which CPython an ELF file is: Py_Version (3.11+), the string Py_GetVersion() returns (found by
 * decoding the function's x86 code for the address it loads), and the SOABI of the file's name
 * and strings. How each was verified: docs/python-versions.md.
 */
#include <stdint.h>
#include <string.h>

#include "pyelf.h"

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
	if (!pyelf_sym_to_off(im, s, false, &off))
		return false;
	v = im->is64 ? pyelf_rd64(im->raw + off, im->msb) : pyelf_rd32(im->raw + off, im->msb);
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

	if (!pyelf_vaddr_to_off(im, va, 1, &off))
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
	if (!pyelf_sym_to_off(im, s, true, &off))
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
			target = s->st_value + i + 7 + (int64_t)(int32_t)pyelf_rd32(code + i + 3, false);
		else if (code[i] >= 0xb8 && code[i] <= 0xbf)
			target = pyelf_rd32(code + i + 1, false);
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
		if (!pyelf_sec_in_file(im, &sh))
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

void pyelf_find_version(struct img *im, struct py_interp *out)
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
