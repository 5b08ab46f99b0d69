/* tb_headers.h: the request headers the handlers read (Last-Event-ID, Origin).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_headers.h
 * @brief The request headers the handlers read (Last-Event-ID, Origin),
 *        independent of httpd, so that the unit tests and the fuzzer reach
 *        them with any bytes a client sends.
 */

#ifndef TB_HEADERS_H
#define TB_HEADERS_H

#include <apr_pools.h>
#include <apr_tables.h>

/**
 * A reconnecting event stream's Last-Event-ID: 1 with *last set when
 * header (NULL when absent) is a revision from 0 to current, the one the
 * stream resumes after; 0 otherwise (no header, not a number, or ahead of
 * the board: a new stream).
 */
int tb_last_event_id(const char *header, apr_int64_t current,
                     apr_int64_t *last);

/**
 * The entry of allowed (const char *, the TaskBoardAllowOrigin origins as
 * tb_origin_normalize keeps them) that origin, an Origin header (NULL when
 * absent), names, else NULL.  Browsers send the Origin in the normalised
 * form; scheme and host are case-insensitive all the same.
 */
const char *tb_origin_allowed(const apr_array_header_t *allowed,
                              const char *origin);

/**
 * Checks an origin as TaskBoardAllowOrigin takes it, scheme://host[:port],
 * and writes it the way a browser's Origin header does, so that the two
 * can be compared as strings: scheme and host in lower case, the port
 * without leading zeros and left out when it is the scheme's default
 * (http 80, https 443).
 * @param origin set to the normalised origin (from pool) on success
 * @return NULL, or a message saying what is wrong (for the directive's
 *         error, which names the directive itself)
 */
const char *tb_origin_normalize(apr_pool_t *pool, const char *text,
                                const char **origin);

#endif /* TB_HEADERS_H */
