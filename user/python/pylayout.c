// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Where each value comes from (64-bit default builds):
 *
 * pymalloc (Objects/obmalloc.c up to 3.11, Include/internal/pycore_obmalloc.h from 3.12):
 *   ALIGNMENT 16 when SIZEOF_VOID_P > 4 (3.8 raised it from 8: bpo-27987);
 *   SMALL_REQUEST_THRESHOLD 512 (3.8+); POOL_OVERHEAD = sizeof(struct pool_header) rounded up
 *   to ALIGNMENT = 48; POOL_BITS 12 (4 KiB) in 3.8/3.9, 14 (16 KiB, USE_LARGE_POOLS, which
 *   needs the radix tree that 3.10 introduced and enables by default on 64-bit) from 3.10.
 *   Measured with sys._debugmallocstats() on pyenv 3.8.18-3.13.0: "N unused pools * 4096
 *   bytes" (3.8, 3.9) and "* 16384 bytes" (3.10-3.13), 48 bytes lost to each pool header.
 *   3.13.18, 3.14.10 and 3.15.2 (Debian): the same macros in their pycore_obmalloc.h, printed
 *   by a program compiled against them (POOL_SIZE 16384, POOL_OVERHEAD 48, ALIGNMENT 16,
 *   SMALL_REQUEST_THRESHOLD 512; tests/e2e/check_debug_offsets.py), and _debugmallocstats()
 *   "* 16384 bytes", "1048576 bytes/arena" (3.15: ARENA_BITS 20, or 21 only with
 *   PYMALLOC_USE_HUGEPAGES, which Debian's pyconfig.h leaves undefined), pool headers 48 each.
 *
 * Objects (Include/object.h, Include/cpython/object.h, Include/internal/pycore_gc.h,
 * Include/internal/pycore_object.h):
 *   PyGC_Head is {uintptr_t _gc_next, _gc_prev} since 3.8 (bpo-33597), 16 bytes right before
 *   the object. _PyType_PreHeaderSize(tp) = IS_GC(tp) * sizeof(PyGC_Head) +
 *   HasFeature(tp, X) * 2 * sizeof(PyObject *), X = Py_TPFLAGS_MANAGED_DICT in 3.11,
 *   Py_TPFLAGS_PREHEADER (MANAGED_WEAKREF | MANAGED_DICT) in 3.12-3.15 (read in the installed
 *   3.11.7, 3.12.1 and 3.13.0 headers, and in Debian's 3.14.10 and 3.15.2 pycore_object.h,
 *   where _PyType_PreHeaderSize() is unchanged).
 *   tp_name 24, tp_basicsize 32, tp_flags 168: offsetof() compiled against the installed
 *   headers of 3.8.18, 3.9.18, 3.10.13, 3.11.7 (pyenv and Debian 3.11.2), 3.12.1, 3.13.0,
 *   and Debian's 3.13.18, 3.14.10 and 3.15.2. From 3.13 py_layout_of() takes tp_name and
 *   tp_flags (and tp_basicsize, 3.15) from the binary's _Py_DebugOffsets instead.
 *   sizeof(PyASCIIObject) 48 up to 3.11 (it still has wstr), 40 from 3.12 (PEP 623 removed it):
 *   sys.getsizeof("a") is 50 (3.8-3.11) and 42 (3.12-3.15), str.__basicsize__ 80 and 64.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "pyframes.h"
#include "pyinterp.h"
#include "pylayout.h"

#define POOL_4K	 4096
#define POOL_16K 16384

#define LAYOUT(min, pool, pre_flags, ascii, is_tested)                                             \
	{                                                                                          \
		.major = 3, .minor = (min), .pool_size = (pool), .pool_header = 48,                \
		.alignment = 16, .small_max = 512, .gc_head = 16, .preheader_flags = (pre_flags),  \
		.preheader = (pre_flags) != 0 ? 16 : 0, .tp_name_off = 24, .tp_flags_off = 168,    \
		.tp_basicsize_off = 32, .str_ascii_size = (ascii), .tested = (is_tested),          \
	}

static const struct py_layout layouts[] = {
    LAYOUT(8, POOL_4K, 0, 48, true),
    LAYOUT(9, POOL_4K, 0, 48, true),
    LAYOUT(10, POOL_16K, 0, 48, true),
    LAYOUT(11, POOL_16K, PY_TPFLAGS_MANAGED_DICT, 48, true),
    LAYOUT(12, POOL_16K, PY_TPFLAGS_MANAGED_DICT | PY_TPFLAGS_MANAGED_WEAKREF, 40, true),
    LAYOUT(13, POOL_16K, PY_TPFLAGS_MANAGED_DICT | PY_TPFLAGS_MANAGED_WEAKREF, 40, true),
    /* 3.14: Debian's 3.14.10 headers and binary (first written from the published sources) */
    LAYOUT(14, POOL_16K, PY_TPFLAGS_MANAGED_DICT | PY_TPFLAGS_MANAGED_WEAKREF, 40, true),
    /* 3.15: Debian's 3.15.2 headers and binary */
    LAYOUT(15, POOL_16K, PY_TPFLAGS_MANAGED_DICT | PY_TPFLAGS_MANAGED_WEAKREF, 40, true),
};

const struct py_layout *py_layout_for(int major, int minor)
{
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].major == major && layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}

int py_layout_of(const struct py_interp *in, struct py_layout *out)
{
	const struct py_layout *base;
	struct py_debug_offsets d;
	struct py_layout L;
	int src;

	if (!in || !out || !(base = py_layout_for(in->major, in->minor)))
		return in && out ? -ENOTSUP : -EINVAL;
	src = py_interp_offsets_source(in, &d);
	if (src <= 0) {
		if (!src)
			*out = *base;
		return src;
	}
	L = *base;
	/* offsets inside PyTypeObject and sizeof(PyASCIIObject), as the binary was compiled */
	L.tp_name_off = (unsigned int)d.type_name;
	L.tp_flags_off = (unsigned int)d.type_flags;
	if (d.type_basicsize >= 0)
		L.tp_basicsize_off = (unsigned int)d.type_basicsize;
	L.str_ascii_size = (unsigned int)d.unicode_ascii_size;
	L.tested = true;
	*out = L;
	return 0;
}

/*
 * 3.12 and 3.13 (PEP 683): _Py_IsImmortal() is "(int32_t)ob_refcnt < 0" on 64-bit, and
 * immortal objects start at _Py_IMMORTAL_REFCNT = UINT_MAX; Py_INCREF writes only the low 32
 * bits and stops at UINT_MAX, so the high 32 bits stay 0 (requiring that rejects pointers).
 * 3.14 (Include/refcount.h): the 8 bytes are uint32 ob_refcnt, uint16 ob_overflow, uint16
 * ob_flags; _Py_IsImmortal() is still "(int32_t)ob_refcnt < 0", immortals start at
 * 3 << 30 (0xC0000000) with ob_flags _Py_IMMORTAL_FLAGS (1) or | _Py_STATICALLY_ALLOCATED_FLAG
 * (4); increfs stop at 0xC0000000, decrefs at the sign bit, ob_overflow is never written.
 * 3.15 (Include/refcount.h, Include/object.h of 3.15.2): the same rule and values,
 * _Py_IMMORTAL_INITIAL_REFCNT 3 << 30, _Py_IMMORTAL_MINIMUM_REFCNT 1 << 31,
 * _Py_STATIC_IMMORTAL_INITIAL_REFCNT 0xC0000000 | 5 << 48; ob_flags adds
 * _Py_LEGACY_ABI_CHECK_FLAG (2, set by PyModuleDef_Init() on static module definitions), so
 * its flag bits are still within 0..7. Measured on the Debian builds through ctypes: None and
 * int read 0x50000c0000000 in 3.14.10 and 3.15.2 (0xffffffff in 3.13.18).
 */
bool py_refcnt_immortal(const struct py_layout *L, unsigned long long refcnt)
{
	uint32_t low = (uint32_t)refcnt;

	if (!L || L->major != 3 || L->minor < 12)
		return false;
	if ((int32_t)low >= 0)
		return false;
	if (L->minor <= 13)
		return (refcnt >> 32) == 0;
	/* ob_overflow 0; ob_flags holds only the flag bits CPython defines (0..2) */
	return ((refcnt >> 32) & 0xffff) == 0 && (refcnt >> 48) <= 7;
}

/*
 * Mortal counts: 1 up to 2^40 before 3.12 (Py_ssize_t; no process holds 2^40 references),
 * below 2^31 from 3.12 on, where anything with the 32-bit sign bit set counts as immortal, and
 * the high bits of a mortal object are 0: _Py_NewReference sets all 64 bits to 1 (3.14
 * new_reference() writes ob_refcnt_full = 1).
 */
bool py_refcnt_live(const struct py_layout *L, unsigned long long refcnt)
{
	if (!L || refcnt == 0)
		return false;
	if (py_refcnt_immortal(L, refcnt))
		return true;
	if (L->minor < 12)
		return refcnt <= (1ULL << 40);
	return refcnt < (1ULL << 31);
}

unsigned int py_preheader_size(const struct py_layout *L, unsigned long tp_flags)
{
	unsigned int n = 0;

	if (tp_flags & PY_TPFLAGS_HAVE_GC)
		n += L->gc_head;
	if (tp_flags & L->preheader_flags)
		n += L->preheader;
	return n;
}
