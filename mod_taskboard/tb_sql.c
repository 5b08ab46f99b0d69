/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <apr_strings.h>

#include "tb_sql.h"

static const char *quote_id(apr_pool_t *pool, const char *identifier)
{
    return apr_pstrcat(pool, "`", identifier, "`", NULL);
}

const char *tb_sql_label(apr_pool_t *pool, const char *prefix,
                         const char *sql)
{
    /* FNV-1a, 64 bit: only needs to tell different SQL apart. */
    apr_uint64_t hash = APR_UINT64_C(14695981039346656037);
    const unsigned char *p;

    for (p = (const unsigned char *)sql; *p; p++) {
        hash ^= *p;
        hash *= APR_UINT64_C(1099511628211);
    }
    return apr_psprintf(pool, "taskboard_%s_%016" APR_UINT64_T_HEX_FMT,
                        prefix, hash);
}

void tb_sql_build_store(apr_pool_t *pool, tb_store_t *store)
{
    apr_array_header_t *parts = apr_array_make(pool, 16, sizeof(char *));
    const char *columns, *order, *table = quote_id(pool, store->table);
    int i;

    APR_ARRAY_PUSH(parts, const char *) = quote_id(pool,
                                                   store->id_field.column);
    for (i = 0; i < store->fields->nelts; i++) {
        tb_field_t *field = APR_ARRAY_IDX(store->fields, i, tb_field_t *);
        APR_ARRAY_PUSH(parts, const char *) = quote_id(pool, field->column);
    }
    columns = apr_array_pstrcat(pool, parts, ',');

    apr_array_clear(parts);
    for (i = 0; i < store->order->nelts; i++) {
        tb_order_t *o = &APR_ARRAY_IDX(store->order, i, tb_order_t);
        APR_ARRAY_PUSH(parts, const char *) =
            apr_pstrcat(pool, quote_id(pool, o->column),
                        o->descending ? " DESC" : " ASC", NULL);
    }
    order = apr_array_pstrcat(pool, parts, ',');

    store->sql_select_all = apr_pstrcat(pool, "SELECT ", columns, " FROM ",
                                        table, " ORDER BY ", order, NULL);
    store->sql_select_page = apr_pstrcat(pool, store->sql_select_all,
                                         " LIMIT %lld OFFSET %lld", NULL);
    store->sql_count = apr_pstrcat(pool, "SELECT COUNT(*) FROM ", table,
                                   NULL);
    store->label_select_page = tb_sql_label(pool, "page",
                                            store->sql_select_page);
}

void tb_sql_build_revision(apr_pool_t *pool, tb_revision_t *revision)
{
    const char *select = apr_pstrcat(pool, "SELECT ",
                                     quote_id(pool, revision->column),
                                     " FROM ",
                                     quote_id(pool, revision->table), NULL);

    if (revision->key_column) {
        revision->sql_select = apr_pstrcat(pool, select, " WHERE ",
                                           quote_id(pool,
                                                    revision->key_column),
                                           " = %s", NULL);
    }
    else {
        revision->sql_select = apr_pstrcat(pool, select, " LIMIT 1", NULL);
    }
    revision->label_select = tb_sql_label(pool, "revision",
                                          revision->sql_select);
}
