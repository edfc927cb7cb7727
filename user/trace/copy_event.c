// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <string.h>
#include "copy_event.h"

int copy_event_read(const void *data, size_t len, struct cow_copy_event *e)
{
	memset(e, 0, sizeof(*e));
	if (len < COPY_EVENT_BARE)
		return -1;
	memcpy(e, data, len < sizeof(*e) ? len : sizeof(*e));
	if (len < COPY_EVENT_WINDOW)
		e->cap.have = 0;
	else if (len < COPY_EVENT_POOL)
		e->cap.have &= COW_HAVE_WINDOW;
	else if (len < COPY_EVENT_FULL)
		e->cap.have &= COW_HAVE_WINDOW | COW_HAVE_POOL;
	return 0;
}
