/* options: linkdnsd's command line. */
#include "options.h"

#include "xfr.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char options_usage[] =
    "Usage: linkdnsd [OPTION]...\n"
    "Embedded DNS server for container names: answers each container from its links.\n"
    "\n"
    "  --state FILE            link table (default /var/lib/linkdns/links)\n"
    "  --control PATH          control socket (default /run/linkdns/control.sock)\n"
    "  --control-group NAME    group allowed on the control socket\n"
    "  --listen ADDR[@PORT]    shared listener, view picked by source address (repeatable)\n"
    "  --netns-address ADDR[@PORT]  address bound in each namespace (default 127.0.0.11@53)\n"
    "  --domain NAME           local domain (default link.internal)\n"
    "  --ttl SECONDS           TTL of answers and negative TTL (default 10)\n"
    "  --upstream ADDR[@PORT]  upstream server (repeatable; default: /etc/resolv.conf)\n"
    "  --zones DIR             serve the zone files DIR/*.zone to every view\n"
    "  --no-upstream           answer REFUSED instead of forwarding\n"
    "  --max-forwards N        forwarded queries in flight; beyond, SERVFAIL (default 1024)\n"
    "  --tcp-max N             concurrent TCP connections (default 256)\n"
    "  --tcp-idle SECONDS      idle TCP connections are closed after this (default 10)\n"
    "  --publish-zone Z        serve zone Z of published ports to any source\n"
    "  --publish-address IP    the address published ports are reached at (repeatable)\n"
    "  --transfer-allow ADDR[/LEN]  who may transfer Z (AXFR; repeatable)\n"
    "  --notify ADDR[@PORT]    secondaries told of changes (default: each allowed address)\n"
    "  --tsig NAME:ALG:SECRET  key required on transfers and sent with NOTIFY\n"
    "  --stale SECONDS         serve a remote container's last data this long (default 300)\n"
    "  --cache-size BYTES      memory for forwarded answers, K/M suffix, 0: none (default 8M)\n"
    "  --cache-max-ttl SECONDS the longest a forwarded answer is kept (default 86400)\n"
    "  --log-level LEVEL       error, warning, info or debug (default info)\n"
    "  --log-queries           log one line per query\n"
    "  --check-config          load and check the configuration and table, then exit\n"
    "  --version               print the version and exit\n"
    "  --help                  print this help and exit\n";

enum {
        OPT_STATE = 256,
        OPT_CONTROL,
        OPT_CONTROL_GROUP,
        OPT_LISTEN,
        OPT_NETNS_ADDRESS,
        OPT_DOMAIN,
        OPT_TTL,
        OPT_NO_UPSTREAM,
        OPT_ZONES,
        OPT_UPSTREAM,
        OPT_MAX_FORWARDS,
        OPT_TCP_MAX,
        OPT_TCP_IDLE,
        OPT_PUBLISH_ZONE,
        OPT_PUBLISH_ADDRESS,
        OPT_TRANSFER_ALLOW,
        OPT_NOTIFY,
        OPT_TSIG,
        OPT_STALE,
        OPT_CACHE_SIZE,
        OPT_CACHE_MAX_TTL,
        OPT_LOG_LEVEL,
        OPT_LOG_QUERIES,
        OPT_CHECK_CONFIG,
        OPT_VERSION,
        OPT_HELP,
};

static const struct option options_long[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"control-group", required_argument, NULL, OPT_CONTROL_GROUP},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"netns-address", required_argument, NULL, OPT_NETNS_ADDRESS},
    {"domain", required_argument, NULL, OPT_DOMAIN},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"no-upstream", no_argument, NULL, OPT_NO_UPSTREAM},
    {"zones", required_argument, NULL, OPT_ZONES},
    {"upstream", required_argument, NULL, OPT_UPSTREAM},
    {"max-forwards", required_argument, NULL, OPT_MAX_FORWARDS},
    {"tcp-max", required_argument, NULL, OPT_TCP_MAX},
    {"tcp-idle", required_argument, NULL, OPT_TCP_IDLE},
    {"publish-zone", required_argument, NULL, OPT_PUBLISH_ZONE},
    {"publish-address", required_argument, NULL, OPT_PUBLISH_ADDRESS},
    {"transfer-allow", required_argument, NULL, OPT_TRANSFER_ALLOW},
    {"notify", required_argument, NULL, OPT_NOTIFY},
    {"tsig", required_argument, NULL, OPT_TSIG},
    {"stale", required_argument, NULL, OPT_STALE},
    {"cache-size", required_argument, NULL, OPT_CACHE_SIZE},
    {"cache-max-ttl", required_argument, NULL, OPT_CACHE_MAX_TTL},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"log-queries", no_argument, NULL, OPT_LOG_QUERIES},
    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int options_bad(const char *opt, const char *value, const char *what)
{
        fprintf(stderr, "linkdnsd: invalid %s '%s' for --%s\nTry 'linkdnsd --help'.\n", what, value,
                opt);
        return -EINVAL;
}

static int options_uint(const char *opt, const char *s, unsigned long min, unsigned long max,
                        unsigned long *out)
{
        char *end;

        errno = 0;
        *out = strtoul(s, &end, 10);
        if (errno || *end || end == s || s[0] == '-' || *out < min || *out > max)
                return options_bad(opt, s, "number");
        return 0;
}

/* BYTES with an optional K or M suffix (binary), up to 1 GiB. */
static int options_bytes(const char *opt, const char *s, size_t *out)
{
        size_t n = strlen(s), mult = 1;
        unsigned long v;
        char digits[32];

        if (n && (s[n - 1] == 'K' || s[n - 1] == 'k' || s[n - 1] == 'M' || s[n - 1] == 'm')) {
                mult = (s[n - 1] | 0x20) == 'k' ? 1024 : 1024 * 1024;
                n--;
        }
        if (n == 0 || n >= sizeof(digits))
                return options_bad(opt, s, "size");
        memcpy(digits, s, n);
        digits[n] = '\0';
        if (options_uint(opt, digits, 0, (1024UL * 1024 * 1024) / mult, &v) < 0)
                return -EINVAL;
        *out = v * mult;
        return 0;
}

static int options_endpoint(const char *opt, const char *s, struct ld_endpoint *arr, size_t *n)
{
        if (*n == LD_OPT_ENDPOINTS)
                return options_bad(opt, s, "count of");
        if (ld_endpoint_parse(s, 53, &arr[*n]) < 0)
                return options_bad(opt, s, "address");
        (*n)++;
        return 0;
}

static int options_one(int c, const char *arg, struct ld_options *o)
{
        unsigned long v;
        int rc = 0;

        switch (c) {
        case OPT_STATE:
                o->state = arg;
                break;
        case OPT_CONTROL:
                o->control = arg;
                break;
        case OPT_CONTROL_GROUP:
                o->control_group = arg;
                break;
        case OPT_LISTEN:
                return options_endpoint("listen", arg, o->listen, &o->nlisten);
        case OPT_NETNS_ADDRESS:
                return options_endpoint("netns-address", arg, o->netns_address, &o->nnetns_address);
        case OPT_DOMAIN:
                o->domain = arg;
                break;
        case OPT_TTL:
                if ((rc = options_uint("ttl", arg, 0, 86400, &v)) == 0)
                        o->ttl = (uint32_t)v;
                break;
        case OPT_NO_UPSTREAM:
                o->no_upstream = true;
                break;
        case OPT_ZONES:
                o->zones = arg;
                break;
        case OPT_UPSTREAM:
                return options_endpoint("upstream", arg, o->upstream, &o->nupstream);
        case OPT_MAX_FORWARDS:
                if ((rc = options_uint("max-forwards", arg, 1, 1000000, &v)) == 0)
                        o->max_forwards = (unsigned)v;
                break;
        case OPT_TCP_MAX:
                if ((rc = options_uint("tcp-max", arg, 1, 1000000, &v)) == 0)
                        o->tcp_max = (unsigned)v;
                break;
        case OPT_TCP_IDLE:
                if ((rc = options_uint("tcp-idle", arg, 1, 3600, &v)) == 0)
                        o->tcp_idle = (double)v;
                break;
        case OPT_PUBLISH_ZONE:
                o->publish_zone = arg;
                break;
        case OPT_PUBLISH_ADDRESS:
                if (o->npublish_address == 16 ||
                    ld_addr_parse(arg, &o->publish_address[o->npublish_address]) < 0)
                        return options_bad("publish-address", arg, "address");
                o->npublish_address++;
                break;
        case OPT_TRANSFER_ALLOW:
                if (o->ntransfer_allow == LD_OPT_ENDPOINTS ||
                    ld_prefix_parse(arg, &o->transfer_allow[o->ntransfer_allow]) < 0)
                        return options_bad("transfer-allow", arg, "address or prefix");
                o->ntransfer_allow++;
                break;
        case OPT_NOTIFY:
                return options_endpoint("notify", arg, o->notify, &o->nnotify);
        case OPT_TSIG:
                if (ld_xfr_tsig_check(arg) < 0)
                        return options_bad("tsig", arg,
                                           "key (NAME:ALG:BASE64, ALG hmac-sha256...)");
                o->tsig = arg;
                break;
        case OPT_STALE:
                if ((rc = options_uint("stale", arg, 0, 86400 * 7, &v)) == 0)
                        o->stale = (double)v;
                break;
        case OPT_CACHE_SIZE:
                return options_bytes("cache-size", arg, &o->cache_size);
        case OPT_CACHE_MAX_TTL:
                if ((rc = options_uint("cache-max-ttl", arg, 0, 604800, &v)) == 0)
                        o->cache_max_ttl = (uint32_t)v;
                break;
        case OPT_LOG_LEVEL:
                if (ld_log_parse_level(arg, &o->log_level) < 0)
                        return options_bad("log-level", arg, "level");
                break;
        case OPT_LOG_QUERIES:
                o->log_queries = true;
                break;
        case OPT_CHECK_CONFIG:
                o->check_config = true;
                break;
        default:
                fprintf(stderr, "Try 'linkdnsd --help'.\n");
                return -EINVAL;
        }
        return rc;
}

int ld_options_parse(int argc, char **argv, struct ld_options *o)
{
        int c, rc;

        memset(o, 0, sizeof(*o));
        o->state = "/var/lib/linkdns/links";
        o->control = "/run/linkdns/control.sock";
        o->domain = "link.internal";
        o->ttl = 10;
        o->tcp_max = 256;
        o->max_forwards = 1024;
        o->stale = 300;
        o->cache_size = 8 * 1024 * 1024;
        o->cache_max_ttl = 86400;
        o->tcp_idle = 10;
        o->log_level = LD_LOG_INFO;
        opterr = 1;
        while ((c = getopt_long(argc, argv, "", options_long, NULL)) != -1) {
                if (c == OPT_HELP) {
                        fputs(options_usage, stdout);
                        return 1;
                }
                if (c == OPT_VERSION) {
                        printf("linkdnsd %s\n", LINKDNS_VERSION);
                        return 1;
                }
                if ((rc = options_one(c, optarg, o)) < 0)
                        return rc;
        }
        if (optind < argc) {
                fprintf(stderr, "linkdnsd: unexpected argument '%s'\nTry 'linkdnsd --help'.\n",
                        argv[optind]);
                return -EINVAL;
        }
        if (o->no_upstream && o->nupstream) {
                fprintf(stderr, "linkdnsd: --upstream and --no-upstream exclude each other\n");
                return -EINVAL;
        }
        if (!o->publish_zone != !o->npublish_address) {
                fprintf(stderr, "linkdnsd: --publish-zone and --publish-address go together\n");
                return -EINVAL;
        }
        if (!o->publish_zone && (o->ntransfer_allow || o->nnotify || o->tsig)) {
                fprintf(stderr,
                        "linkdnsd: --transfer-allow, --notify and --tsig need --publish-zone\n");
                return -EINVAL;
        }
        if (o->nnetns_address == 0) {
                ld_endpoint_parse("127.0.0.11", 53, &o->netns_address[0]);
                o->nnetns_address = 1;
        }
        return 0;
}
