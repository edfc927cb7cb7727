// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * py_interp_inspect() (user/python/pyinterp.c) on any file: the input is the file, written to a memfd
 * and opened by its /proc/self/fd path. An interpreter found is taken on to its frame offsets
 * and object layout, as cowtrace does. The answer may be anything coherent (the checks of
 * tests/unit/test_pyinterp.c's test_fake_fuzz), and never a read outside the file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "pyframes.h"
#include "pyinterp.h"
#include "pylayout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct py_interp pi;
	static char path[64];
	static int fd = -1;
	struct py_frame_offsets fo;
	struct py_layout L;
	int r;

	if (fd < 0) {
		fd = memfd_create("fuzz_pyinterp", MFD_CLOEXEC);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();

	r = py_interp_inspect(path, &pi);
	if (r != 0 && r != -ENOENT && r != -ENOEXEC)
		abort();
	if (!fz_terminated(pi.path, sizeof(pi.path)) ||
	    !fz_terminated(pi.gc_func, sizeof(pi.gc_func)) ||
	    !fz_terminated(pi.gc_func2, sizeof(pi.gc_func2)))
		abort();
	if (pi.debug_offsets_len > PY_DEBUG_OFFSETS_MAX || pi.debug_offsets_len > size)
		abort();
	if (pi.gc_gen_arg < 0 || pi.gc_gen_arg > 6 || (pi.major != 0 && pi.major != 3))
		abort();
	if (r) {
		if (pi.gc_source != PY_GC_NONE)
			abort();
		return 0;
	}
	if (pi.gc_source == PY_GC_UPROBE && pi.gc_func_offset >= size)
		abort();
	if (pi.gc_func2[0] && pi.gc_func2_offset >= size)
		abort();
	py_frame_offsets_of(&pi, &fo);
	py_layout_of(&pi, &L);
	return 0;
}
