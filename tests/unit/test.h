/* A tiny test harness: CHECK records failures and keeps going; main prints "N passed, N failed". */
#ifndef CCP_TEST_H
#define CCP_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (cond) {                                                                 \
			test_passed++;                                                      \
		} else {                                                                    \
			test_failed++;                                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                           \
	} while (0)

#define CHECK_STR(a, b)                                                                          \
	do {                                                                                     \
		const char *a_ = (a), *b_ = (b);                                                 \
		if (a_ && b_ && strcmp(a_, b_) == 0) {                                           \
			test_passed++;                                                           \
		} else {                                                                         \
			test_failed++;                                                           \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,           \
				a_ ? a_ : "(null)", b_ ? b_ : "(null)");                         \
		}                                                                                \
	} while (0)

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif
