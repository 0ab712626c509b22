/* tap: a minimal TAP producer for the C unit tests (meson's `protocol : 'tap'`). */
#ifndef LD_TAP_H
#define LD_TAP_H

#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

/* One check: "ok N - what" or "not ok N - what" with the file and line that failed. */
#define TAP_OK(cond, ...)                                                                          \
        do {                                                                                       \
                bool tap_c_ = (cond);                                                              \
                printf("%sok %d - ", tap_c_ ? "" : "not ", ++tap_n);                               \
                printf(__VA_ARGS__);                                                               \
                printf("\n");                                                                      \
                if (!tap_c_) {                                                                     \
                        printf("# failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
                        tap_failed++;                                                              \
                }                                                                                  \
        } while (0)

/* The plan comes last (TAP allows it), so tests need not count themselves. */
static inline int tap_done(void)
{
        printf("1..%d\n", tap_n);
        return tap_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
