/* options: linkdnsd's command line. */
#ifndef LD_OPTIONS_H
#define LD_OPTIONS_H

#include "addr.h"
#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LD_OPT_ENDPOINTS 64

struct ld_options {
        const char *state;
        const char *control;
        const char *control_group;
        struct ld_endpoint listen[LD_OPT_ENDPOINTS];
        size_t nlisten;
        struct ld_endpoint netns_address[LD_OPT_ENDPOINTS];
        size_t nnetns_address;
        const char *domain;
        const char *zones;
        uint32_t ttl;
        bool no_upstream;
        struct ld_endpoint upstream[LD_OPT_ENDPOINTS];
        size_t nupstream;
        unsigned max_forwards;
        unsigned tcp_max;
        double tcp_idle;
        const char *publish_zone;
        struct ld_addr publish_address[16];
        size_t npublish_address;
        struct ld_prefix transfer_allow[LD_OPT_ENDPOINTS];
        size_t ntransfer_allow;
        struct ld_endpoint notify[LD_OPT_ENDPOINTS];
        size_t nnotify;
        const char *tsig;
        double stale;
        size_t cache_size;      /* bytes; 0: no answer cache */
        uint32_t cache_max_ttl; /* seconds */
        enum ld_log_level log_level;
        bool log_queries;
        bool check_config;
};

/* Returns 0 to run, 1 when --help or --version was printed (exit 0), -EINVAL on bad usage
 * (already reported; exit 2). */
int ld_options_parse(int argc, char **argv, struct ld_options *o);

#endif
