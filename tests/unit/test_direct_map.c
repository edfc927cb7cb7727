// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* user/trace/direct_map.c: the bases it tries and the pagemap entries it reads (the search itself
 * needs BPF and root: tests/e2e/test_cli.py::test_direct_map_found). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "direct_map.h"
#include "procfs.h"

static void test_candidates(void **state)
{
	uint64_t first, count;

	(void)state;
	/* 4 levels: the whole range up to the cpu_entry_area in 1 GiB steps (117.5 TiB) */
	direct_map_candidates(4, &first, &count);
	assert_true(first == 0xffff888000000000ULL);
	assert_true(count == (0xfffffe0000000000ULL - 0xffff888000000000ULL) >> 30);
	assert_true(count == 120320);
	assert_true(first + (count - 1) * DM_STEP < DM_END);
	/* 5 levels: far more than that; the search stops at DM_MAX_CANDIDATES */
	direct_map_candidates(5, &first, &count);
	assert_true(first == 0xff11000000000000ULL);
	assert_true(count == DM_MAX_CANDIDATES);
}

static void test_pagemap_entries(void **state)
{
	(void)state;
	/* present, frame 0x1fe6ae; the soft-dirty (55) and exclusive (56) bits are not the PFN */
	assert_true(procfs_pagemap_phys((1ULL << 63) | (1ULL << 56) | (1ULL << 55) | 0x1fe6ae) ==
		    0x1fe6aeULL * 4096);
	/* the largest frame a 55-bit field holds */
	assert_true(procfs_pagemap_phys((1ULL << 63) | ((1ULL << 55) - 1)) ==
		    ((1ULL << 55) - 1) * 4096);
	/* not present: no address, whatever the other bits say (a swapped page's swap entry) */
	assert_true(procfs_pagemap_phys((1ULL << 62) | 0x1234) == 0);
	assert_true(procfs_pagemap_phys(0) == 0);
	/* present with the frame hidden (no CAP_SYS_ADMIN): 0, "not known" */
	assert_true(procfs_pagemap_phys(1ULL << 63) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_pagemap_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
