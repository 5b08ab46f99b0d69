/* tb_request.c: decoding the load package and the form and query values.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "tb_convert.h"
#include "tb_request.h"

const char *tb_request_id(apr_pool_t *pool, json_t *package,
                          const char **encoded)
{
    json_t *id = json_object_get(package, "requestId");

    *encoded = NULL;
    if (!id || json_is_null(id)) {
        return NULL;
    }
    if (!json_is_number(id) && !json_is_string(id)) {
        return "requestId must be a number or a string";
    }
    /* Encoded once by jansson: a 16-digit integer stays an exact integer. */
    *encoded = tb_json_encode(pool, id);
    return NULL;
}

/* Reads an optional positive integer member; returns a message or NULL. */
static const char *positive_member(apr_pool_t *pool, json_t *entry,
                                   const char *store_id, const char *key,
                                   apr_int64_t *out)
{
    json_t *value = json_object_get(entry, key);

    *out = 0;
    if (!value || json_is_null(value)) {
        return NULL;
    }
    if (!json_is_integer(value) || json_integer_value(value) < 1
        || json_integer_value(value) > TB_PAGE_MAX) {
        return apr_psprintf(pool, "store '%s': %s must be an integer from 1 "
                            "to %d", store_id, key, TB_PAGE_MAX);
    }
    *out = json_integer_value(value);
    return NULL;
}

/* Reads one entry of "stores": a storeId, or an object with storeId (or
 * the older id) and paging. */
static const char *parse_store_entry(apr_pool_t *pool, json_t *entry,
                                     apr_size_t index, const char **store_id,
                                     apr_int64_t *page, apr_int64_t *size)
{
    json_t *id;
    const char *msg;

    *page = *size = 0;
    if (json_is_string(entry)) {
        *store_id = json_string_value(entry);
        return NULL;
    }
    if (!json_is_object(entry)) {
        return apr_psprintf(pool, "stores[%" APR_SIZE_T_FMT "] must be a "
                            "storeId string or an object with a storeId",
                            index);
    }
    id = json_object_get(entry, "storeId");
    if (!id) {
        id = json_object_get(entry, "id");
    }
    if (!json_is_string(id)) {
        return apr_psprintf(pool, "stores[%" APR_SIZE_T_FMT "] has no "
                            "storeId string", index);
    }
    *store_id = json_string_value(id);
    if ((msg = positive_member(pool, entry, *store_id, "page", page))
        || (msg = positive_member(pool, entry, *store_id, "pageSize", size))) {
        return msg;
    }
    if (*page && !*size) {
        return apr_psprintf(pool, "store '%s': page needs a pageSize",
                            *store_id);
    }
    if (*size && !*page) {
        *page = 1;
    }
    return NULL;
}

/* An integer member of params from min to TB_PAGE_MAX, or absent. */
static const char *params_integer(apr_pool_t *pool, json_t *params,
                                  const char *key, apr_int64_t min,
                                  int *present, apr_int64_t *out)
{
    json_t *value = json_object_get(params, key);

    *present = value && !json_is_null(value);
    if (!*present) {
        return NULL;
    }
    if (!json_is_integer(value) || json_integer_value(value) < min
        || json_integer_value(value) > TB_PAGE_MAX) {
        return apr_psprintf(pool, "params.%s must be an integer from %"
                            APR_INT64_T_FMT " to %d", key, min, TB_PAGE_MAX);
    }
    *out = json_integer_value(value);
    return NULL;
}

/* A date of params, as the database compares it (UTC), or absent. */
static const char *params_date(apr_pool_t *pool, json_t *params,
                               const char *key, const char **out)
{
    json_t *value = json_object_get(params, key);

    *out = NULL;
    if (!value || json_is_null(value)) {
        return NULL;
    }
    if (!json_is_string(value)
        || !(*out = tb_datetime_to_utc_sql(pool, json_string_value(value)))) {
        return apr_psprintf(pool, "params.%s must be an ISO 8601 date or "
                            "datetime", key);
    }
    return NULL;
}

/* params.resourceIds: ids (numbers or strings), at most TB_LAZY_MAX_IDS,
 * kept as one compact JSON array, which the statement binds whole. */
static const char *params_ids(apr_pool_t *pool, json_t *params,
                              const char **out)
{
    json_t *ids = json_object_get(params, "resourceIds"), *id;
    apr_size_t i;

    *out = NULL;
    if (!ids || json_is_null(ids)) {
        return NULL;
    }
    if (!json_is_array(ids) || json_array_size(ids) > TB_LAZY_MAX_IDS) {
        return apr_psprintf(pool, "params.resourceIds must be an array of "
                            "at most %d ids", TB_LAZY_MAX_IDS);
    }
    json_array_foreach(ids, i, id) {
        if (!json_is_integer(id) && !json_is_string(id)) {
            return "params.resourceIds must hold ids (integers or strings)";
        }
    }
    *out = tb_json_encode(pool, ids);
    return NULL;
}

/* The package's "params" of a lazy-loading client (Scheduler and
 * Scheduler Pro 6+): a window of rows, listed ids, a span of time. */
static const char *parse_lazy_params(apr_pool_t *pool, json_t *package,
                                     tb_lazy_params_t *lazy)
{
    json_t *params = json_object_get(package, "params");
    const char *msg;
    int has_start, has_count;

    if (!params || json_is_null(params)) {
        return NULL;
    }
    if (!json_is_object(params)) {
        return "params must be an object";
    }
    if ((msg = params_integer(pool, params, "startIndex", 0, &has_start,
                              &lazy->start_index))
        || (msg = params_integer(pool, params, "count", 1, &has_count,
                                 &lazy->count))
        || (msg = params_ids(pool, params, &lazy->listed))
        || (msg = params_date(pool, params, "startDate", &lazy->span_from))
        || (msg = params_date(pool, params, "endDate", &lazy->span_to))) {
        return msg;
    }
    if (has_start != has_count) {
        return "params.startIndex and params.count go together";
    }
    if (!lazy->span_from != !lazy->span_to) {
        return "params.startDate and params.endDate go together";
    }
    lazy->has_window = has_start;
    return NULL;
}

/* How the params pick a store's rows; 0 when they do not apply to it. */
static int pick_rows(const tb_lazy_params_t *lazy, tb_store_request_t *sr)
{
    const tb_store_t *store = sr->store;

    if (store->lazy == TB_LAZY_ROWS && lazy->listed) {
        sr->pick = TB_PICK_LISTED;
        sr->offset = sr->limit = 0;
    }
    else if (store->lazy == TB_LAZY_ROWS && lazy->has_window) {
        sr->offset = lazy->start_index;
        sr->limit = lazy->count;
    }
    else if (store->lazy == TB_LAZY_SPAN && lazy->span_from) {
        sr->pick = TB_PICK_SPAN;
    }
    else if (store->follows && lazy->span_from) {
        sr->pick = TB_PICK_FOLLOW;
    }
    else {
        return 0;
    }
    return 1;
}

/* The package's own members: requestId, type, stores (returned in
 * *stores, unchecked beyond being an array), params and sinceRevision. */
static const char *parse_package(apr_pool_t *pool, const char *text,
                                 apr_size_t len, tb_load_request_t *req,
                                 json_t **stores)
{
    json_t *package, *type, *since;
    const char *msg;

    package = tb_json_parse(pool, text, len, &msg);
    if (!package) {
        return msg;
    }
    if (!json_is_object(package)) {
        return "the load package must be a JSON object";
    }
    req->package = package;
    if ((msg = tb_request_id(pool, package, &req->request_id))) {
        return msg;
    }
    type = json_object_get(package, "type");
    if (type && !(json_is_string(type)
                  && strcmp(json_string_value(type), "load") == 0)) {
        return "this is the load URL: the package type must be \"load\"";
    }
    *stores = json_object_get(package, "stores");
    if (*stores && !json_is_null(*stores) && !json_is_array(*stores)) {
        return "stores must be an array of storeIds";
    }
    if ((msg = parse_lazy_params(pool, package, &req->lazy))) {
        return msg;
    }
    since = json_object_get(package, "sinceRevision");
    if (since && !json_is_null(since)) {
        if (!json_is_integer(since) || json_integer_value(since) < 0) {
            return "sinceRevision must be a revision number (an integer "
                   "of 0 or more)";
        }
        req->has_since = 1;
        req->since = json_integer_value(since);
    }
    return NULL;
}

const char *tb_load_request_parse(apr_pool_t *pool, const char *text,
                                  apr_size_t len,
                                  const apr_array_header_t *served,
                                  tb_load_request_t *req)
{
    json_t *stores = NULL;
    tb_store_request_t *wanted;
    const char *msg;
    apr_size_t i;
    int j;

    memset(req, 0, sizeof(*req));
    req->stores = apr_array_make(pool, served->nelts,
                                 sizeof(tb_store_request_t));
    /* Indexed like served: which stores were asked for, with paging. */
    wanted = apr_pcalloc(pool, sizeof(*wanted) * (served->nelts + 1));

    if (len > 0 && (msg = parse_package(pool, text, len, req, &stores))) {
        return msg;
    }
    if (!stores || json_is_null(stores)) {
        for (j = 0; j < served->nelts; j++) {
            wanted[j].store = APR_ARRAY_IDX(served, j, const tb_store_t *);
        }
    }
    else {
        for (i = 0; i < json_array_size(stores); i++) {
            const char *store_id = NULL;
            const tb_store_t *store;
            apr_int64_t page, size;

            msg = parse_store_entry(pool, json_array_get(stores, i), i,
                                    &store_id, &page, &size);
            if (msg) {
                return msg;
            }
            /* Real clients ask for stores nobody configured (calendars,
             * timeRanges, ...): those are skipped, not an error. */
            store = tb_store_find(served, store_id);
            for (j = 0; store && j < served->nelts; j++) {
                if (APR_ARRAY_IDX(served, j, const tb_store_t *) == store
                    && !wanted[j].store) {
                    wanted[j].store = store;
                    wanted[j].page = page;
                    wanted[j].page_size = size;
                }
            }
        }
    }
    for (j = 0; j < served->nelts; j++) {
        /* a nested store's rows are in its parent's (TaskBoardNested) */
        if (wanted[j].store && !wanted[j].store->nested_in) {
            tb_store_request_t *sr = apr_array_push(req->stores);

            *sr = wanted[j];
            sr->limit = sr->page_size;
            sr->offset = sr->page ? (sr->page - 1) * sr->page_size : 0;
            req->is_lazy |= pick_rows(&req->lazy, sr);
        }
    }
    return NULL;
}

static char *url_decode(apr_pool_t *pool, const char *s, apr_size_t len,
                        apr_size_t *out_len)
{
    char *out = apr_palloc(pool, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        }
        else if (s[i] == '%' && i + 2 < len && apr_isxdigit(s[i + 1])
                 && apr_isxdigit(s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], '\0'};
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    *out_len = (apr_size_t)(o - out);
    return out;
}

const char *tb_form_value(apr_pool_t *pool, const char *query,
                          const char *name, apr_size_t *value_len)
{
    apr_size_t name_len = strlen(name);
    const char *p = query;

    while (p && *p) {
        const char *end = strchr(p, '&');
        apr_size_t len = end ? (apr_size_t)(end - p) : strlen(p);

        if (len > name_len && strncmp(p, name, name_len) == 0
            && p[name_len] == '=') {
            return url_decode(pool, p + name_len + 1, len - name_len - 1,
                              value_len);
        }
        if (len == name_len && strncmp(p, name, name_len) == 0) {
            *value_len = 0;
            return "";
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}
