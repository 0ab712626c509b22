/* netlisten: network listeners (net --listen), opened when a network names them, retried
 * while their address does not exist yet, closed when the network no longer names them. */
#ifndef LD_NETLISTEN_H
#define LD_NETLISTEN_H

#include <ev.h>

struct ld_dispatch;
struct ld_engine;
struct ld_netlisten;
struct ld_table;
struct ld_tcp;

int ld_netlisten_new(struct ev_loop *loop, struct ld_engine *eng, struct ld_dispatch *d,
                     struct ld_tcp *tcp, struct ld_netlisten **out);
void ld_netlisten_free(struct ld_netlisten *nl);
/* Opens what t's networks name and closes the rest; every other listener is untouched. */
void ld_netlisten_sync(struct ld_netlisten *nl, const struct ld_table *t);

#endif
