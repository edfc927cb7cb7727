// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* user/trace/copy_event.c: records of every length BPF writes, made whole: what a record does not
 * carry is zero, and its have bits are clear whatever the record's bits said. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "copy_event.h"

#define WINDOW_ADDR 0x7f0000001000ULL

/* A full record whose window bytes are their own offsets, with the have bits given. */
static void full_record(struct cow_copy_event *r, uint8_t have, uint64_t block_addr)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->type = EV_COPY;
	r->addr = WINDOW_ADDR + COW_WINDOW_BEFORE;
	r->cap.have = have;
	r->cap.window_addr = WINDOW_ADDR;
	r->cap.pool_addr = WINDOW_ADDR & ~4095ULL;
	r->cap.block_addr = block_addr;
	for (i = 0; i < COW_WINDOW; i++)
		r->cap.window[i] = i;
	memset(r->cap.pool, 0xaa, sizeof(r->cap.pool));
	memset(r->cap.block, 0xbb, sizeof(r->cap.block));
}

static void test_too_short(void **state)
{
	struct cow_copy_event r, e;

	full_record(&r, COW_HAVE_WINDOW, 0);
	assert_int_equal(copy_event_read(&r, COPY_EVENT_BARE - 1, &e), -1);
	assert_int_equal(copy_event_read(&r, 0, &e), -1);
}

static void test_shorter_records_drop_what_they_do_not_carry(void **state)
{
	uint8_t all = COW_HAVE_WINDOW | COW_HAVE_POOL | COW_HAVE_BLOCK;
	struct cow_copy_event r, e;

	full_record(&r, all, WINDOW_ADDR + 16);
	assert_int_equal(copy_event_read(&r, COPY_EVENT_BARE, &e), 0);
	assert_int_equal(e.cap.have, 0);
	assert_int_equal(e.addr, r.addr);
	assert_int_equal(e.cap.window[5], 0); /* not carried: zero */

	assert_int_equal(copy_event_read(&r, COPY_EVENT_WINDOW, &e), 0);
	assert_int_equal(e.cap.have, COW_HAVE_WINDOW);
	assert_int_equal(e.cap.window[79], 79);
	assert_int_equal(e.cap.pool[0], 0);

	/* a record cut inside the pool header carries the window only */
	assert_int_equal(copy_event_read(&r, COPY_EVENT_POOL - 1, &e), 0);
	assert_int_equal(e.cap.have, COW_HAVE_WINDOW);

	/* a pool record has no block head */
	assert_int_equal(copy_event_read(&r, COPY_EVENT_POOL, &e), 0);
	assert_int_equal(e.cap.have, COW_HAVE_WINDOW | COW_HAVE_POOL);
	assert_int_equal(e.cap.pool[47], 0xaa);
	assert_int_equal(e.cap.block[0], 0);

	assert_int_equal(copy_event_read(&r, COPY_EVENT_FULL, &e), 0);
	assert_int_equal(e.cap.have, all);
	assert_int_equal(e.cap.block[47], 0xbb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_too_short),
		cmocka_unit_test(test_shorter_records_drop_what_they_do_not_carry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
