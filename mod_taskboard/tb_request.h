/* tb_request.h: decoding the load package and the form and query values.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_request.h
 * @brief Decoding and checking of request packages, independent of httpd.
 */

#ifndef TB_REQUEST_H
#define TB_REQUEST_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "tb_model.h"
#include "tb_json.h"

/** Largest page or pageSize accepted, so LIMIT/OFFSET cannot overflow. */
#define TB_PAGE_MAX 1000000000

/** Which of a lazy-loading client's params pick a store's rows. */
typedef enum {
    TB_PICK_ALL = 0,            /* the whole store, or its window */
    TB_PICK_LISTED,             /* params.resourceIds (TB_LAZY_ROWS) */
    TB_PICK_SPAN,               /* params.startDate/endDate (TB_LAZY_SPAN) */
    TB_PICK_FOLLOW              /* the rows pointing into the span of the
                                   store it follows */
} tb_pick_e;

/** One store to load. */
typedef struct tb_store_request_t {
    const tb_store_t *store;
    apr_int64_t page;           /* as the client asked: 1-based; 0 = none */
    apr_int64_t page_size;
    apr_int64_t offset;         /* the window of rows: the page, or a lazy */
    apr_int64_t limit;          /* client's startIndex/count; 0 = all */
    tb_pick_e pick;
} tb_store_request_t;

/** A lazy-loading client's "params", checked. */
typedef struct tb_lazy_params_t {
    int has_window;             /* startIndex and count */
    apr_int64_t start_index, count;
    const char *listed;         /* resourceIds, as a compact JSON array */
    const char *span_from;      /* startDate and endDate in UTC, as the */
    const char *span_to;        /* database compares them; NULL = none */
} tb_lazy_params_t;

typedef struct tb_load_request_t {
    json_t *package;            /* the parsed package (pool-owned) or NULL */
    const char *request_id;     /* requestId encoded as JSON, or NULL */
    apr_array_header_t *stores; /* tb_store_request_t, in configured order */
    int has_since;              /* "sinceRevision" was given: the client
                                   wants only what changed after it */
    apr_int64_t since;
    const char *board;          /* the request's board when the location is
                                   scoped (set by the caller), else NULL */
    tb_lazy_params_t lazy;
    int is_lazy;                /* some store is loaded by the params */
} tb_load_request_t;

/**
 * Decodes a load package.  An empty text means "every store".
 * @param served the stores of the location (tb_store_t *)
 * @param req filled in; request_id is set as soon as it is known, so that
 *        an error response can still echo it
 * @return NULL, or a message for the client (HTTP 400)
 */
const char *tb_load_request_parse(apr_pool_t *pool, const char *text,
                                  apr_size_t len,
                                  const apr_array_header_t *served,
                                  tb_load_request_t *req);

/**
 * Reads requestId from a package: sets *encoded to its JSON form, or NULL
 * when absent.  @return NULL, or a message when it has the wrong type.
 */
const char *tb_request_id(apr_pool_t *pool, json_t *package,
                          const char **encoded);

/** Finds the value of a parameter in a query string or form body
 *  (a=b&c=d), URL-decoded, or NULL when it is absent.  The value may
 *  hold NUL bytes (%00): its length is stored in *value_len. */
const char *tb_form_value(apr_pool_t *pool, const char *query,
                          const char *name, apr_size_t *value_len);

#endif /* TB_REQUEST_H */
