/* fuzz_msg: a DNS message as ldns reads it, record by record — the oracle the fuzz harnesses
 * share (ldns shares no code with the readers and writers under test). */
#ifndef FUZZ_MSG_H
#define FUZZ_MSG_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FUZZ_MSG_MAX_RRS 8192 /* 65535 octets hold fewer records of 11 octets or more */

/* The question, then every record of the three sections. */
struct fuzz_msg {
        ldns_rr *q;
        ldns_rr *rr[FUZZ_MSG_MAX_RRS];
        size_t wire[FUZZ_MSG_MAX_RRS]; /* each record's size on the wire */
        size_t type[FUZZ_MSG_MAX_RRS]; /* the offset of each record's TYPE (its owner's end) */
        size_t an, ns, ar, n, end;
};

/* Reads w with ldns, one question and its records; false when ldns cannot, or reads a
 * record to another end than its RDLENGTH's. Not ldns_wire2pkt: it reads the fields of known
 * types without checking RDLENGTH, and loses a record after a TSIG that is not last. */
bool fuzz_msg_read(struct fuzz_msg *m, const uint8_t *w, size_t len);
void fuzz_msg_free(struct fuzz_msg *m);

/* Whether the name a is b (len octets, wire form) but for the case of ASCII letters. */
bool fuzz_msg_same_but_case(const ldns_rdf *a, const uint8_t *b, size_t len);

#endif
