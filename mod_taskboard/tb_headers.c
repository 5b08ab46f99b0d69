/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <strings.h>

#include "tb_convert.h"
#include "tb_headers.h"

int tb_last_event_id(const char *header, apr_int64_t current,
                     apr_int64_t *last)
{
    apr_int64_t id;

    if (!header || !tb_parse_int64(header, &id) || id < 0 || id > current) {
        return 0;
    }
    *last = id;
    return 1;
}

const char *tb_origin_allowed(const apr_array_header_t *allowed,
                              const char *origin)
{
    int i;

    if (!allowed || !origin) {
        return NULL;
    }
    for (i = 0; i < allowed->nelts; i++) {
        const char *entry = APR_ARRAY_IDX(allowed, i, const char *);
        if (strcasecmp(entry, origin) == 0) {
            return entry;
        }
    }
    return NULL;
}
