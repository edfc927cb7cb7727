// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "textesc.h"
#include "utf8.h"

/* What a terminal shows as itself: not C0, DEL or C1 controls, not our escape character */
static bool shown_as_is(uint32_t cp)
{
	return cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0) && cp != '\\';
}

const char *text_esc(char *buf, size_t cap, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t out = 0, len, bad, i;
	char esc[8];
	uint32_t cp;

	buf[0] = '\0';
	if (!s)
		return buf;
	while (*p) {
		len = utf8_decode(p, &cp, &bad);
		if (len && shown_as_is(cp)) {
			if (out + len >= cap)
				break;
			memcpy(buf + out, p, len);
			out += len;
			p += len;
			continue;
		}
		/* a control character byte by byte (a C1 one is two bytes), ill-formed input one
		 * byte at a time; each byte is 4 characters, all or none */
		len = len ? len : 1;
		if (out + 4 * len >= cap)
			break;
		for (i = 0; i < len; i++) {
			if (p[i] == '\\')
				snprintf(esc, sizeof(esc), "\\\\");
			else
				snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
			memcpy(buf + out, esc, strlen(esc));
			out += strlen(esc);
		}
		p += len;
	}
	buf[out] = '\0';
	return buf;
}
