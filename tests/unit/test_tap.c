/* test_tap: the harness itself reports a pass and counts checks. */
#include <stdbool.h>

#include "tap.h"

int main(void)
{
        TAP_OK(1 + 1 == 2, "a true check passes");
        return tap_done();
}
