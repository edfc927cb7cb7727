// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * _Py_DebugOffsets (user/python/pyframes.c, user/python/pylayout.c): the input is the blob as read at the
 * start of _PyRuntime. It is parsed, turned into frame offsets, and, as the blob of an
 * interpreter of the version it names (else 3.13), into that interpreter's frame offsets and
 * object layout. What the parser accepts must be what it promised: offsets inside their
 * structures, a 64-bit default-build PyObject.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pyframes.h"
#include "pyinterp.h"
#include "pylayout.h"

static bool inside(int off, int width, int size)
{
	return off >= 0 && size >= width && off <= size - width;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct py_interp in;
	struct py_frame_offsets fo;
	struct py_debug_offsets d;
	struct py_layout L;
	int err, err2;

	err = py_debug_offsets_parse(data, size, &d);
	if (err != 0 && err != -ENODATA && err != -EINVAL && err != -ENOTSUP)
		abort();
	if (!err) {
		if (d.major != 3 || d.minor < 13 || d.object_size != 16 || d.object_type != 8 ||
		    !inside(d.code_firstlineno, 4, d.code_size) ||
		    !inside(d.code_linetable, 8, d.code_size) ||
		    !inside(d.type_name, 8, d.type_size) || !inside(d.type_flags, 8, d.type_size))
			abort();
	}
	err2 = py_frame_offsets_from_debug(data, size, &fo);
	if (err && err2 != err)
		abort();
	if (!err2 && (fo.major != d.major || fo.minor != d.minor))
		abort();

	memset(&in, 0, sizeof(in));
	in.major = 3;
	in.minor = err ? 13 : d.minor;
	in.debug_offsets_len = size < sizeof(in.debug_offsets) ? size : sizeof(in.debug_offsets);
	if (in.debug_offsets_len)
		memcpy(in.debug_offsets, data, in.debug_offsets_len);
	py_frame_offsets_of(&in, &fo);
	if (!py_layout_of(&in, &L) && (L.tp_name_off >= 1u << 20 || L.tp_flags_off >= 1u << 20))
		abort();
	return 0;
}
