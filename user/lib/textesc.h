/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Strings from traced processes (comm, cgroup paths, type and code names) on the operator's
 * terminal: a process names itself, so its name can hold escape sequences that set the window
 * title or clear the screen. The text report shows them escaped.
 */
#ifndef COWTRACE_TEXTESC_H
#define COWTRACE_TEXTESC_H

#include <stddef.h>

/*
 * s made safe for a terminal, in buf (cap bytes, cap > 0), which it returns: printable ASCII
 * and well-formed UTF-8 stay as they are; control characters (C0, DEL, C1), ill-formed bytes
 * and the backslash become \xNN / \\. Cut (never in the middle of an escape or character)
 * when buf is too small. A NULL s gives "".
 */
const char *text_esc(char *buf, size_t cap, const char *s);

#endif
