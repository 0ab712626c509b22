/* fuzz_msg: a DNS message as ldns reads it, record by record, for the fuzz oracles. */
#include "fuzz_msg.h"

#include <ctype.h>
#include <string.h>

void fuzz_msg_free(struct fuzz_msg *m)
{
        ldns_rr_free(m->q);
        for (size_t i = 0; i < m->n; i++)
                ldns_rr_free(m->rr[i]);
        m->q = NULL;
        m->n = 0;
}

bool fuzz_msg_read(struct fuzz_msg *m, const uint8_t *w, size_t len)
{
        size_t pos = 12, total;

        memset(m, 0, offsetof(struct fuzz_msg, rr));
        m->n = 0;
        if (len < 12 || (w[4] << 8 | w[5]) != 1)
                return false;
        m->an = (size_t)(w[6] << 8 | w[7]);
        m->ns = (size_t)(w[8] << 8 | w[9]);
        m->ar = (size_t)(w[10] << 8 | w[11]);
        total = m->an + m->ns + m->ar;
        if (total > FUZZ_MSG_MAX_RRS ||
            ldns_wire2rr(&m->q, w, len, &pos, LDNS_SECTION_QUESTION) != LDNS_STATUS_OK)
                return false;
        for (size_t i = 0; i < total; i++) {
                size_t start = pos, rdata = pos;
                ldns_rdf *owner = NULL;

                if (ldns_wire2dname(&owner, w, len, &rdata) != LDNS_STATUS_OK)
                        return false;
                ldns_rdf_deep_free(owner);
                if (rdata + 10 > len ||
                    ldns_wire2rr(&m->rr[m->n], w, len, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
                        return false;
                m->n++;
                if (pos != rdata + 10 + (size_t)(w[rdata + 8] << 8 | w[rdata + 9]))
                        return false;
                m->wire[i] = pos - start;
                m->type[i] = rdata;
        }
        m->end = pos;
        return true;
}

bool fuzz_msg_same_but_case(const ldns_rdf *a, const uint8_t *b, size_t len)
{
        if (ldns_rdf_size(a) != len)
                return false;
        for (size_t i = 0; i < len; i++)
                if (tolower(ldns_rdf_data(a)[i]) != tolower(b[i]))
                        return false;
        return true;
}
