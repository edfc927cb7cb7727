/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef COWTRACE_UTF8_H
#define COWTRACE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the sequence at s (NUL-terminated). Returns its length and sets *cp, or returns 0 when
 * it is ill-formed; then *bad is the length of its maximal ill-formed prefix, which stands for
 * one U+FFFD. Never reads past the NUL, which is not a continuation byte.
 */
size_t utf8_decode(const unsigned char *s, uint32_t *cp, size_t *bad);

#endif
