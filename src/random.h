/* random: unpredictable numbers (DNS IDs, source ports) from getrandom(2), buffered. */
#ifndef LD_RANDOM_H
#define LD_RANDOM_H

#include <stdint.h>

/* Fills the buffer once; 0 or a negative errno (no getrandom: the daemon must not forward
 * with guessable IDs). May wait at early boot until the kernel's generator is seeded. */
int ld_random_init(void);
uint32_t ld_random_u32(void);
/* Uniform in [0, n), n > 0, without modulo bias. */
uint32_t ld_random_below(uint32_t n);

#endif
