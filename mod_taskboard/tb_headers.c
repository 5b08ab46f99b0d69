/* tb_headers.c: the request headers the handlers read (Last-Event-ID, Origin).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

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

/* Lower-cases an ASCII string in place (schemes and host names). */
static void ascii_lower(char *s)
{
    for (; *s; s++) {
        *s = apr_tolower(*s);
    }
}

const char *tb_origin_normalize(apr_pool_t *pool, const char *text,
                                const char **origin)
{
    const char *p = text, *scheme_end, *host, *host_end, *digits;
    apr_int64_t port = -1;
    char *scheme, *hostname;

    *origin = NULL;
    if (strcmp(text, "*") == 0) {
        return "'*' cannot be used: browsers never send credentials "
               "(cookies, Basic auth) to a server that allows every origin, "
               "so list each origin instead";
    }
    if (strcasecmp(text, "null") == 0) {
        return "'null' is the origin of sandboxed frames and local files, "
               "which any web page can produce; list real origins";
    }
    if (!apr_isalpha(*p)) {
        goto shape;
    }
    while (apr_isalnum(*p) || *p == '+' || *p == '-' || *p == '.') {
        p++;
    }
    if (strncmp(p, "://", 3) != 0) {
        goto shape;
    }
    scheme_end = p;
    host = p + 3;
    if (strchr(host, '@')) {
        return apr_psprintf(pool, "'%s': an origin has no user name or "
                            "password", text);
    }
    if (*host == '[') {
        /* an IPv6 literal, brackets included as browsers write it */
        for (p = host + 1; apr_isxdigit(*p) || *p == ':' || *p == '.'; p++) {
        }
        if (*p != ']' || p == host + 1) {
            return apr_psprintf(pool, "'%s': write an IPv6 address in "
                                "brackets, as in http://[::1]:5173", text);
        }
        p++;
    }
    else {
        for (p = host; apr_isalnum(*p) || *p == '-' || *p == '.'; p++) {
        }
        if (p == host || *host == '.' || p[-1] == '.') {
            return apr_psprintf(pool, "'%s' has no valid host name", text);
        }
    }
    host_end = p;
    if (*p == ':') {
        digits = ++p;
        port = 0;
        while (apr_isdigit(*p) && port <= 65535) {
            port = port * 10 + (*p++ - '0');
        }
        if (p == digits || apr_isdigit(*p) || port < 1 || port > 65535) {
            return apr_psprintf(pool, "'%s': the port must be a number "
                                "from 1 to 65535", text);
        }
    }
    if (*p) {
        return apr_psprintf(pool, "'%s': an origin ends after the host or "
                            "port, without a path, query or trailing '/' "
                            "(the Origin header a browser sends has none)",
                            text);
    }

    scheme = apr_pstrndup(pool, text, scheme_end - text);
    hostname = apr_pstrndup(pool, host, host_end - host);
    ascii_lower(scheme);
    ascii_lower(hostname);
    if ((port == 80 && strcmp(scheme, "http") == 0)
        || (port == 443 && strcmp(scheme, "https") == 0)) {
        port = -1;
    }
    *origin = port < 0
              ? apr_pstrcat(pool, scheme, "://", hostname, NULL)
              : apr_psprintf(pool, "%s://%s:%" APR_INT64_T_FMT, scheme,
                             hostname, port);
    return NULL;

shape:
    return apr_psprintf(pool, "'%s' is not an origin: write "
                        "scheme://host[:port], as in "
                        "https://board.example.com or http://localhost:5173",
                        text);
}
