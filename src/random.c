/* random: unpredictable numbers (DNS IDs, source ports) from getrandom(2), buffered. */
#include "random.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* One syscall per 1,024 IDs and ports. The buffer is drawn from front to back and each
 * word is wiped once used, so what is handed out is never handed out again. */
#define RANDOM_BUF 4096

static uint8_t random_buf[RANDOM_BUF];
static size_t random_used = RANDOM_BUF;

static int random_fill(void)
{
        size_t got = 0;

        while (got < sizeof(random_buf)) {
                ssize_t n = getrandom(random_buf + got, sizeof(random_buf) - got, 0);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0)
                        got += (size_t)n;
        }
        random_used = 0;
        return 0;
}

int ld_random_init(void)
{
        return random_used < RANDOM_BUF ? 0 : random_fill();
}

uint32_t ld_random_u32(void)
{
        uint32_t v;

        /* Once ld_random_init has succeeded the kernel's generator is seeded and getrandom
         * does not fail: an error here means no randomness at all, never a guessable value. */
        if (random_used + sizeof(v) > RANDOM_BUF && random_fill() < 0)
                abort();
        memcpy(&v, random_buf + random_used, sizeof(v));
        memset(random_buf + random_used, 0, sizeof(v));
        random_used += sizeof(v);
        return v;
}

uint32_t ld_random_below(uint32_t n)
{
        uint32_t floor = -n % n, v; /* 2^32 mod n: values below it would bias the result */

        do
                v = ld_random_u32();
        while (v < floor);
        return v % n;
}
