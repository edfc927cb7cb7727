// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Strict UTF-8 decoding, shared by the writers that must not pass ill-formed text on (JSON,
 * flame graphs): names and command lines come from other processes. */
#include "utf8.h"

/* See utf8.h. */
size_t utf8_decode(const unsigned char *s, uint32_t *cp, size_t *bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		c = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		c = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		*bad = 1; /* stray continuation byte, C0/C1 (always overlong) or F5..FF */
		return 0;
	}
	if (s[1] < lo || s[1] > hi) {
		*bad = 1;
		return 0;
	}
	c = (c << 6) | (s[1] & 0x3f);
	for (size_t i = 2; i <= need; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf) {
			*bad = i;
			return 0;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	*cp = c;
	return need + 1;
}
