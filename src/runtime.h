/* runtime: what the runtime programs (OCI hook, CNI plugin, aardvark-dns) share about
 * containers: their IDs, the names they register under, annotation lists. */
#ifndef LD_RUNTIME_H
#define LD_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#define LD_RT_SHORT_ID 12 /* hex digits of a short ID (docker, podman) */
#define LD_RT_ID_MAX 64   /* hex digits of a full container ID */

/* The container ID in a runtime's raw ID: its last run of lowercase hex digits, which must
 * be LD_RT_SHORT_ID to LD_RT_ID_MAX long and end the string (nerdctl writes
 * "<namespace>-<ID>"). Copies it to out (LD_RT_ID_MAX + 1 bytes): 0, or -EINVAL. */
int ld_rt_container_id(const char *raw, char out[LD_RT_ID_MAX + 1]);
/* Whether s is a container ID as a whole, without a runtime's prefix (the OCI state's
 * "id", netavark's lines): LD_RT_SHORT_ID to LD_RT_ID_MAX lowercase hex digits. */
bool ld_rt_id_valid(const char *s);

/* The name a container registers under: want if it is a valid NAME, else the 12-hex short
 * ID of id (a container ID as above) in name (LD_NAME_MAX + 1 bytes). alias (LD_ALIAS_MAX + 1
 * bytes, may be NULL) gets want when the short ID was taken and want is a valid alias, else
 * "". want may be NULL or "". */
void ld_rt_name(const char *want, const char *id, char *name, char *alias);

/* The next item of a list separated by spaces, tabs, newlines or commas: *cur moves past it
 * and *len is its length. Returns the item's start, or NULL at the end of the list. */
const char *ld_rt_item(const char **cur, size_t *len);

#endif
