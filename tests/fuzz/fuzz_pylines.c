// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * py_code_line() (user/python/pylines.c) on any line table. Input: a version byte (3.6 + v % 11:
 * unknown versions too), co_firstlineno (i32), an instruction offset (i32), then the table as
 * read from co_lnotab or co_linetable. Besides the offset given, the offset before the code
 * and 65 offsets spread over what the table can cover are asked for.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "pylines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = {data, size};
	int minor = 6 + fz_u8(&in) % 11;
	int first = (int)fz_u32(&in), offset = (int)fz_u32(&in);
	const unsigned char *t = in.n ? in.p : NULL;
	size_t len = in.n;
	bool known = py_linetable_format_for(3, minor) != PY_LINETABLE_NONE;
	/* at most 255 bytes of code per two bytes of table (lnotab, 3.10), 16 per byte (3.11+) */
	uint64_t span = 128 * (uint64_t)len + 16;
	int line;

	line = py_code_line(3, minor, t, len, first, offset);
	if (!known && line != -1)
		abort();
	if (known && offset < 0 && line != first)
		abort(); /* a frame that has not started is on its first line */
	for (uint64_t i = 0; i <= 64; i++) {
		uint64_t o = (span * i / 64) & ~1ULL;

		py_code_line(3, minor, t, len, first, o > INT_MAX - 1 ? INT_MAX - 1 : (int)o);
	}
	py_code_line(3, minor, t, len, first, INT_MAX);
	return 0;
}
