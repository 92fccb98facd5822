/* SPDX-License-Identifier: MIT */
/* CHECK(cond, fmt, ...): a unit test's non-fatal assertion; count in `failures`, exit status from it. */
#pragma once

#include <stdio.h>

static int failures;
#define CHECK(cond, ...)                                                                                         \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			failures++;                                                                              \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                     \
			fprintf(stderr, __VA_ARGS__);                                                            \
			fputc('\n', stderr);                                                                     \
		}                                                                                                \
	} while (0)
