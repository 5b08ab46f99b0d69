/* tb_load.c: reading a load's revision and stores into its answer.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "tb_load.h"
#include "tb_sql.h"
#include "tb_convert.h"
#include "tb_tree.h"

int tb_load_revision(tb_db_t *db, const tb_revision_t *rev,
                     const char *board, const char **revision,
                     tb_db_error_t *err)
{
    apr_dbd_prepared_t *stmt;
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    const char *text;
    int rv, attempt;

    *revision = NULL;
    for (attempt = 0; attempt < 2; attempt++) {
        if ((rv = tb_db_prepared(db, rev->label_select, rev->sql_select,
                                 attempt > 0, &stmt, err)) != 0) {
            return rv;
        }
        res = NULL;
        rv = apr_dbd_pvselect(db->driver, db->pool, db->handle, &res, stmt,
                              0, rev->scope ? board : rev->key_value, NULL);
        if (!tb_db_is_stale_statement(rv)) {
            break;
        }
    }
    if (rv != 0) {
        return tb_db_fail(db, rv, "reading the revision", err);
    }
    row = NULL;
    while ((rv = apr_dbd_get_row(db->driver, db->pool, res, &row, -1)) == 0) {
        if (!*revision) {
            text = apr_dbd_get_entry(db->driver, row, 0);
            *revision = text ? apr_pstrdup(db->pool, text) : NULL;
        }
    }
    if (rv != -1) {
        return tb_db_fail(db, rv, "reading the revision", err);
    }
    if (*revision && !tb_is_json_number(*revision)) {
        *revision = NULL;
    }
    return 0;
}

/* The statement and arguments of rows picked by a lazy-loading client's
 * params (the board last, where the statement has it). */
static const char *picked_sql(apr_pool_t *pool, const tb_store_request_t *sr,
                              const tb_lazy_params_t *lazy, const char *board,
                              int *nargs, const char ***args)
{
    const tb_store_t *store = sr->store;
    const char **a;
    int n = 0, i;

    if (sr->pick == TB_PICK_FOLLOW) {
        const tb_store_t *target = store->follows;
        int per_ref = tb_sql_span_args(target) + !!target->scope
                      + !!store->scope;

        a = apr_palloc(pool, sizeof(char *) * store->follow_args);
        for (i = 0; i + per_ref <= store->follow_args; i += per_ref) {
            a[n++] = lazy->span_to;
            a[n++] = lazy->span_from;
            if (target->span_max_days) {
                a[n++] = lazy->span_from;
            }
            if (target->scope) {
                a[n++] = board;
            }
            if (store->scope) {
                a[n++] = board;
            }
        }
        *nargs = n;
        *args = a;
        return store->sql_select_follow;
    }
    a = apr_palloc(pool, sizeof(char *) * 4);
    if (sr->pick == TB_PICK_LISTED) {
        a[n++] = lazy->listed;
    }
    else {
        a[n++] = lazy->span_to;
        a[n++] = lazy->span_from;
        if (store->span_max_days) {
            a[n++] = lazy->span_from;
        }
    }
    if (store->scope) {
        a[n++] = board;
    }
    *nargs = n;
    *args = a;
    return sr->pick == TB_PICK_LISTED ? store->sql_select_listed
                                      : store->sql_select_span;
}

/* Runs the store's SELECT: the whole table unprepared, so that the
 * driver streams it with mysql_use_result (its prepared path buffers the
 * whole result), or one window prepared, with LIMIT/OFFSET bound.  A
 * scoped store's rows need the board bound, so they always go the
 * prepared way: one board's rows, buffered by the driver; so do the rows
 * a lazy-loading client's params pick. */
static int select_rows(tb_db_t *db, const tb_store_request_t *sr,
                       const tb_lazy_params_t *lazy, const char *board,
                       apr_pool_t *pool, apr_dbd_results_t **res,
                       tb_db_error_t *err)
{
    const tb_store_t *store = sr->store;
    apr_dbd_prepared_t *stmt;
    apr_int64_t limit, offset;
    const char *sql, **args;
    int rv, attempt, nargs;

    *res = NULL;
    if (sr->pick != TB_PICK_ALL) {
        sql = picked_sql(pool, sr, lazy, board, &nargs, &args);
        for (attempt = 0; attempt < 2; attempt++) {
            if ((rv = tb_db_statement(db, sql, attempt > 0, &stmt,
                                      err)) != 0) {
                return rv;
            }
            *res = NULL;
            rv = apr_dbd_pselect(db->driver, pool, db->handle, res, stmt, 0,
                                 nargs, args);
            if (!tb_db_is_stale_statement(rv)) {
                break;
            }
        }
        return rv ? tb_db_fail(db, rv, "selecting rows", err) : 0;
    }
    if (!sr->limit && !store->scope) {
        rv = apr_dbd_select(db->driver, pool, db->handle, res,
                            store->sql_select_all, 0);
        return rv ? tb_db_fail(db, rv, "selecting rows", err) : 0;
    }
    if (!sr->limit) {
        for (attempt = 0; attempt < 2; attempt++) {
            if ((rv = tb_db_prepared(db, store->label_select_all,
                                     store->sql_select_all, attempt > 0,
                                     &stmt, err)) != 0) {
                return rv;
            }
            *res = NULL;
            rv = apr_dbd_pvselect(db->driver, pool, db->handle, res,
                                  stmt, 0, board, NULL);
            if (!tb_db_is_stale_statement(rv)) {
                break;
            }
        }
        return rv ? tb_db_fail(db, rv, "selecting rows", err) : 0;
    }
    limit = sr->limit;
    offset = sr->offset;
    for (attempt = 0; attempt < 2; attempt++) {
        if ((rv = tb_db_prepared(db, store->label_select_page,
                                 store->sql_select_page, attempt > 0, &stmt,
                                 err)) != 0) {
            return rv;
        }
        *res = NULL;
        rv = store->scope
             ? apr_dbd_pvbselect(db->driver, pool, db->handle, res, stmt,
                                 0, board, &limit, &offset)
             : apr_dbd_pvbselect(db->driver, pool, db->handle, res, stmt,
                                 0, &limit, &offset);
        if (!tb_db_is_stale_statement(rv)) {
            break;
        }
    }
    return rv ? tb_db_fail(db, rv, "selecting a page of rows", err) : 0;
}

/* One column's value: as the driver has it from the text protocol
 * (always whole), or whole through tb_db_entry from a prepared result. */
static int row_value(tb_db_t *db, apr_dbd_row_t *row, int col,
                     apr_pool_t *copies, const char **value,
                     tb_db_error_t *err)
{
    if (!copies) {
        *value = apr_dbd_get_entry(db->driver, row, col);
        return 0;
    }
    return tb_db_entry(db, row, col, copies, value, "reading rows", err);
}

/* Memory ran out while the rows are read: no driver call, since the
 * result is not drained yet. */
static int out_of_memory(tb_db_error_t *err, const char *doing)
{
    err->code = 0;
    err->text = "out of memory";
    err->doing = doing;
    err->unavailable = 0;
    return -1;
}

/* The rows of the stores nested in a parent's rows (TaskBoardNested),
 * read before the parent's rows, which may stream from the connection:
 * per nested store, its rows' JSON by their parent's id. */
typedef struct nested_rows_t {
    const tb_store_t *store;
    apr_hash_t *by_parent;      /* parent id text -> tb_membuf_t * */
} nested_rows_t;

static int write_row(tb_jw_t *jw, const tb_store_t *store, tb_db_t *db,
                     apr_dbd_row_t *row, apr_pool_t *copies,
                     const char **values, int *bad_values,
                     const nested_rows_t *nested, tb_db_error_t *err);

/* Writes ,"key":[rows] of each nested store for the parent's id. */
static void write_nested(tb_jw_t *jw, const tb_store_t *store,
                         const nested_rows_t *nested, const char *parent_id)
{
    int i;

    for (i = 0; i < store->children->nelts; i++) {
        const tb_membuf_t *rows = parent_id
            ? apr_hash_get(nested[i].by_parent, parent_id,
                           APR_HASH_KEY_STRING)
            : NULL;
        tb_jw_cstr(jw, nested[i].store->nested_key_json);
        tb_jw_raw(jw, "[", 1);
        if (rows) {
            tb_jw_raw(jw, rows->buf, rows->len);
        }
        tb_jw_raw(jw, "]", 1);
    }
}

/* What is done with each row as it is read (each_row): values has room
 * for every column; copies is NULL for the rows of the text protocol,
 * else the pool for the values of this row. */
typedef int row_fn(void *baton, apr_dbd_row_t *row, apr_pool_t *copies,
                   const char **values, tb_db_error_t *err);

/* The rows of a window, a scoped store or picked by params come from a
 * prepared statement, whose values are copied whole, one row at a time;
 * the others stream through the text protocol. */
static int is_prepared(const tb_store_request_t *sr)
{
    return sr->limit || sr->store->scope || sr->pick != TB_PICK_ALL;
}

/* Runs the SELECT of sr and hands each row to fn.  Every row is read even
 * when the client has gone or fn failed: an undrained result would leave
 * the connection out of sync for the next user. */
static int each_row(tb_db_t *db, const tb_store_request_t *sr,
                    const tb_lazy_params_t *lazy, const char *board,
                    row_fn *fn, void *baton, tb_db_error_t *err)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    apr_pool_t *result, *copies = NULL;
    const char **values, *msg;
    int rv, failed = 0;

    /* The result's memory (a prepared one's column buffers, and the
     * pieces of values longer than those) goes when the store is read. */
    if (apr_pool_create(&result, db->pool) != APR_SUCCESS) {
        return tb_db_fail(db, 0, "selecting rows", err);
    }
    if ((rv = select_rows(db, sr, lazy, board, result, &res, err)) != 0) {
        apr_pool_destroy(result);
        return rv;
    }
    if (is_prepared(sr) && apr_pool_create(&copies, result) != APR_SUCCESS) {
        failed = tb_db_fail(db, 0, "reading rows", err);
    }
    values = apr_palloc(result, sizeof(char *)
                                * (sr->store->fields->nelts + 1));
    while ((rv = apr_dbd_get_row(db->driver, result, res, &row, -1)) == 0) {
        if (!failed) {
            failed = fn(baton, row, copies, values, err);
        }
        if (copies) {
            apr_pool_clear(copies);
        }
    }
    msg = apr_dbd_error(db->driver, db->handle, 0);
    apr_pool_destroy(result);
    if (rv != -1) {
        return tb_db_fail(db, rv, "reading rows", err);
    }
    if (failed) {
        return -1;
    }
    /* The streaming driver reports the end and a lost connection alike
     * as -1: only the connection's error text tells them apart. */
    if (!sr->limit && sr->pick == TB_PICK_ALL && msg && *msg) {
        return tb_db_fail_reading(db, "reading rows", err);
    }
    return 0;
}

/* One nested store being read: each row's text is made in scratch,
 * cleared row by row, and appended to its parent's group, so that the
 * rows are held once. */
typedef struct nested_read_t {
    tb_db_t *db;
    const tb_store_t *child;
    int parent_col;             /* the parent field's column */
    apr_pool_t *pool;           /* the groups' */
    apr_pool_t *scratch;
    apr_hash_t *by_parent;
    int *bad_values;
} nested_read_t;

static int nested_row(void *baton, apr_dbd_row_t *row, apr_pool_t *copies,
                      const char **values, tb_db_error_t *err)
{
    nested_read_t *nr = baton;
    const char *parent;
    tb_membuf_t text, *group;
    tb_jw_t jw;

    apr_pool_clear(nr->scratch);
    tb_membuf_init(&text, nr->scratch);
    tb_jw_init(&jw, tb_membuf_sink, &text);
    if (write_row(&jw, nr->child, nr->db, row, copies, values,
                  nr->bad_values, NULL, err)) {
        return -1;
    }
    tb_jw_raw(&jw, "}", 1);
    if (tb_jw_flush(&jw)) {
        return out_of_memory(err, "reading nested rows");
    }
    if (!(parent = values[nr->parent_col])) {
        return 0;               /* no parent: in no parent's rows */
    }
    group = apr_hash_get(nr->by_parent, parent, APR_HASH_KEY_STRING);
    if (!group) {
        group = apr_palloc(nr->pool, sizeof(*group));
        tb_membuf_init(group, nr->pool);
        apr_hash_set(nr->by_parent, apr_pstrdup(nr->pool, parent),
                     APR_HASH_KEY_STRING, group);
    }
    else {
        tb_membuf_sink(group, ",", 1);
    }
    tb_membuf_sink(group, text.buf, text.len);
    return 0;
}

/* Reads one nested store's rows into by_parent (pool memory), grouped by
 * the parent's id; rows without a parent are left out. */
static int read_nested_store(tb_db_t *db, const tb_store_t *child,
                             const char *board, apr_pool_t *pool,
                             apr_hash_t *by_parent, int *bad_values,
                             tb_db_error_t *err)
{
    tb_store_request_t sr;
    nested_read_t nr;
    int i, rv;

    memset(&sr, 0, sizeof(sr));
    sr.store = child;
    memset(&nr, 0, sizeof(nr));
    nr.db = db;
    nr.child = child;
    nr.pool = pool;
    nr.by_parent = by_parent;
    nr.bad_values = bad_values;
    for (i = 0; i < child->fields->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(child->fields, i, tb_field_t *)->name,
                   child->nested_field) == 0) {
            nr.parent_col = i + 1;
        }
    }
    if (apr_pool_create(&nr.scratch, db->pool) != APR_SUCCESS) {
        return tb_db_fail(db, 0, "reading rows", err);
    }
    rv = each_row(db, &sr, NULL, board, nested_row, &nr, err);
    apr_pool_destroy(nr.scratch);
    return rv;
}

/* The nested stores' rows of a parent store, or NULL without any. */
static int read_nested(tb_db_t *db, const tb_store_t *store,
                       const char *board, apr_pool_t *pool,
                       nested_rows_t **nested, int *bad_values,
                       tb_db_error_t *err)
{
    int i, rv;

    *nested = NULL;
    if (!store->children || store->children->nelts == 0) {
        return 0;
    }
    *nested = apr_pcalloc(pool, sizeof(nested_rows_t)
                                * store->children->nelts);
    for (i = 0; i < store->children->nelts; i++) {
        (*nested)[i].store = APR_ARRAY_IDX(store->children, i,
                                           const tb_store_t *);
        (*nested)[i].by_parent = apr_hash_make(pool);
        if ((rv = read_nested_store(db, (*nested)[i].store, board, pool,
                                    (*nested)[i].by_parent, bad_values,
                                    err)) != 0) {
            return rv;
        }
    }
    return 0;
}

/* Writes a row's values (id first) without the closing brace: the one
 * encoding of a row, for read rows and rebuilt ones alike. */
static void write_values(tb_jw_t *jw, const tb_store_t *store,
                         const char **values, int *bad_values)
{
    int i;

    tb_jw_raw(jw, "{\"id\":", 6);
    *bad_values += tb_write_db_value(jw, store->id_field.type, values[0]);
    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *field = APR_ARRAY_IDX(store->fields, i,
                                                const tb_field_t *);
        tb_jw_raw(jw, ",", 1);
        tb_jw_cstr(jw, field->json_key);
        *bad_values += tb_write_db_value(jw, field->type, values[i + 1]);
    }
}

/* Writes one row without its closing brace (a tree row may get its
 * children first), with the rows of its nested stores; copies is NULL for
 * the rows of the text protocol, else the pool for the values of this
 * row; values has room for every column and gets them.  Nothing is
 * written when a value cannot be read. */
static int write_row(tb_jw_t *jw, const tb_store_t *store, tb_db_t *db,
                     apr_dbd_row_t *row, apr_pool_t *copies,
                     const char **values, int *bad_values,
                     const nested_rows_t *nested, tb_db_error_t *err)
{
    int i, ncols = store->fields->nelts + 1;

    for (i = 0; i < ncols; i++) {
        if (row_value(db, row, i, copies, &values[i], err)) {
            return -1;
        }
    }
    write_values(jw, store, values, bad_values);
    if (nested) {
        write_nested(jw, store, nested, values[0]);
    }
    return 0;
}

/* Where a store's rows go as they are read: straight into the answer, or
 * for a tree into the tree (tb_tree.h), which writes them nested once
 * the last is read. */
typedef struct rows_out_t {
    tb_db_t *db;
    const tb_store_t *store;
    int *bad_values;
    tb_jw_t *answer;
    tb_tree_t *tree;            /* NULL: a flat store */
    tb_jw_t *tree_jw;           /* the tree's sink, for one row at a time */
    const nested_rows_t *nested;/* the rows of its nested stores, or NULL */
    apr_int64_t rows;
} rows_out_t;

static int out_row(void *baton, apr_dbd_row_t *row, apr_pool_t *copies,
                   const char **values, tb_db_error_t *err)
{
    rows_out_t *out = baton;
    const tb_store_t *store = out->store;

    if (!out->tree) {
        if (out->rows++ > 0) {
            tb_jw_raw(out->answer, ",", 1);
        }
        if (write_row(out->answer, store, out->db, row, copies, values,
                      out->bad_values, out->nested, err)) {
            return -1;
        }
        tb_jw_raw(out->answer, "}", 1);
        return 0;
    }
    out->rows++;
    if (write_row(out->tree_jw, store, out->db, row, copies, values,
                  out->bad_values, out->nested, err)) {
        return -1;
    }
    if (tb_jw_flush(out->tree_jw)
        || tb_tree_end_row(out->tree, values[0],
                           values[store->tree_parent_col])) {
        return out_of_memory(err, "nesting a tree's rows");
    }
    return 0;
}

/* The number of the store's rows (of the board, when scoped). */
static int count_rows(tb_db_t *db, const tb_store_t *store,
                      const char *board, const char **total,
                      tb_db_error_t *err)
{
    apr_array_header_t *rows = apr_array_make(db->pool, 1, sizeof(char **));
    int rv;

    if (!store->scope) {
        return tb_db_select_value(db, store->sql_count, total, err);
    }
    if ((rv = tb_db_query_rows(db, store->sql_count, 1, &board, 1, rows,
                               "counting rows", err)) != 0) {
        return rv;
    }
    *total = rows->nelts ? APR_ARRAY_IDX(rows, 0, const char **)[0] : NULL;
    return 0;
}

int tb_load_board(tb_db_t *db, const tb_revision_t *rev, const char *board,
                  const char **stored, const char **revision,
                  tb_db_error_t *err)
{
    apr_array_header_t *rows = apr_array_make(db->pool, 1,
                                              sizeof(const char **));
    const char **row;
    int rv;

    *stored = *revision = NULL;
    if (!rev->sql_select_key || !board) {
        *stored = board;
        return tb_load_revision(db, rev, board, revision, err);
    }
    rv = tb_db_query_rows(db, rev->sql_select_key, 1, &board, 2, rows,
                          "reading the board", err);
    if (rv != 0 || rows->nelts == 0) {
        return rv;
    }
    row = APR_ARRAY_IDX(rows, 0, const char **);
    if (row[0] && row[1] && tb_is_json_number(row[1])) {
        *stored = row[0];
        *revision = row[1];
    }
    return 0;
}

int tb_load_store(tb_db_t *db, tb_jw_t *jw, const tb_store_request_t *sr,
                  const tb_lazy_params_t *lazy, const char *board,
                  int *bad_values, tb_db_error_t *err)
{
    const char *total_text = NULL;
    nested_rows_t *nested;
    apr_pool_t *tree_pool = NULL;
    tb_store_request_t whole;
    rows_out_t out;
    int rv;

    /* A tree is never paged: a page of it would cut subtrees apart. */
    if (sr->store->tree_parent && sr->limit) {
        whole = *sr;
        whole.page = whole.page_size = whole.limit = whole.offset = 0;
        sr = &whole;
    }
    /* A page needs the count of all rows; a whole table counts itself. */
    if (sr->limit && (rv = count_rows(db, sr->store, board, &total_text,
                                     err)) != 0) {
        return rv;
    }
    if ((rv = read_nested(db, sr->store, board, db->pool, &nested,
                          bad_values, err)) != 0) {
        return rv;
    }
    memset(&out, 0, sizeof(out));
    out.db = db;
    out.store = sr->store;
    out.bad_values = bad_values;
    out.answer = jw;
    out.nested = nested;
    if (sr->store->tree_parent) {
        if (apr_pool_create(&tree_pool, db->pool) != APR_SUCCESS) {
            return tb_db_fail(db, 0, "selecting rows", err);
        }
        out.tree = tb_tree_create(tree_pool);
        out.tree_jw = apr_palloc(tree_pool, sizeof(tb_jw_t));
        tb_jw_init(out.tree_jw, tb_tree_sink, out.tree);
    }
    tb_jw_cstr(jw, sr->store->json_key);
    tb_jw_raw(jw, "{\"rows\":[", 9);
    rv = each_row(db, sr, lazy, board, out_row, &out, err);
    if (!rv && out.tree && tb_tree_write(out.tree, jw)) {
        rv = out_of_memory(err, "nesting a tree's rows");
    }
    if (tree_pool) {
        apr_pool_destroy(tree_pool);
    }
    if (rv) {
        return rv;
    }
    tb_jw_raw(jw, "],\"total\":", 10);
    if (sr->limit) {
        tb_jw_cstr(jw, total_text ? total_text : "0");
    }
    else {
        tb_jw_cstr(jw, apr_psprintf(db->pool, "%" APR_INT64_T_FMT,
                                    out.rows));
    }
    tb_jw_raw(jw, "}", 1);
    return 0;
}

int tb_load_project(tb_db_t *db, tb_jw_t *jw, const tb_store_t *project,
                    const char *board, int *bad_values, tb_db_error_t *err)
{
    apr_array_header_t *rows = apr_array_make(db->pool, 1,
                                              sizeof(const char **));
    int ncols = project->fields->nelts + 1, i, rv;
    const char *args[2], **row;

    /* scoped: the key and the board are both the board (tb_sql.c) */
    args[0] = project->scope ? board : project->project_key;
    args[1] = board;
    if ((rv = tb_db_query_rows(db, project->sql_select_id,
                               project->scope ? 2 : 1, args, ncols, rows,
                               "reading the project", err)) != 0) {
        return rv;
    }
    if (rows->nelts == 0) {
        return 0;
    }
    row = APR_ARRAY_IDX(rows, 0, const char **);
    tb_jw_raw(jw, ",", 1);
    tb_jw_cstr(jw, project->json_key);
    tb_jw_raw(jw, "{", 1);
    for (i = 0; i < project->fields->nelts; i++) {
        const tb_field_t *field = APR_ARRAY_IDX(project->fields, i,
                                                const tb_field_t *);
        if (i > 0) {
            tb_jw_raw(jw, ",", 1);
        }
        tb_jw_cstr(jw, field->json_key);
        *bad_values += tb_write_db_value(jw, field->type, row[i + 1]);
    }
    tb_jw_raw(jw, "}", 1);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* A load rebuilt from an earlier revision's answer and the journal */

static const char *expect(const char *p, const char *end, const char *lit)
{
    apr_size_t n = strlen(lit);

    return p && (apr_size_t)(end - p) >= n && memcmp(p, lit, n) == 0
           ? p + n : NULL;
}

/* Skips one JSON value at p, as the module writes them (no white space
 * between tokens); NULL when it does not end before end. */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;

    if (!p) {
        return NULL;
    }
    do {
        if (p >= end) {
            return NULL;
        }
        switch (*p) {
        case '"':
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\') {
                    p++;
                }
            }
            if (p >= end) {
                return NULL;
            }
            p++;
            break;
        case '{':
        case '[':
            depth++;
            p++;
            break;
        case '}':
        case ']':
            if (depth == 0) {
                return NULL;
            }
            depth--;
            p++;
            break;
        default:
            if (depth == 0) {   /* a number, true, false or null */
                while (p < end && *p != ',' && *p != '}' && *p != ']') {
                    p++;
                }
                return p;
            }
            p++;                /* , : and scalars inside */
        }
    } while (depth > 0);
    return p;
}

/* The rows of one store of an answer, from "rows":[ on; p after the ]. */
static const char *index_rows(apr_pool_t *pool, const char *p,
                              const char *end, apr_hash_t *rows)
{
    if (p && p < end && *p == ']') {
        return p + 1;
    }
    while (p) {
        const char *row = p, *id = expect(p, end, "{\"id\":");
        const char *id_end = skip_value(id, end);
        tb_load_span_t *span;

        if (!id_end || !(p = skip_value(row, end))) {
            return NULL;
        }
        span = apr_palloc(pool, sizeof(*span));
        span->at = row;
        span->len = (apr_size_t)(p - row);
        apr_hash_set(rows, id, id_end - id, span);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        return expect(p, end, "]");
    }
    return NULL;
}

int tb_load_index_answer(apr_pool_t *pool, const char *body, apr_size_t len,
                         const apr_array_header_t *stores,
                         tb_load_indexed_t **index)
{
    const char *end = body + len, *p;
    tb_load_indexed_t *idx = apr_pcalloc(pool, sizeof(*idx)
                                               * (stores->nelts + 1));
    int i;

    p = skip_value(expect(body, end, ",\"revision\":"), end);
    for (i = 0; p && i < stores->nelts; i++) {
        const tb_store_t *store = APR_ARRAY_IDX(stores, i,
                                                tb_store_request_t).store;
        const char *start = p;

        idx[i].rows = apr_hash_make(pool);
        p = expect(expect(expect(p, end, ","), end, store->json_key), end,
                   "{\"rows\":[");
        p = index_rows(pool, p, end, idx[i].rows);
        p = expect(skip_value(expect(p, end, ",\"total\":"), end), end, "}");
        if (p) {
            idx[i].whole.at = start;
            idx[i].whole.len = (apr_size_t)(p - start);
        }
    }
    if (!p) {
        return -1;
    }
    *index = idx;
    return 0;
}

int tb_load_can_rebuild(const tb_load_request_t *req,
                        const tb_journal_t *journal)
{
    int i;

    if (req->is_lazy) {
        return 0;
    }
    for (i = 0; i < req->stores->nelts; i++) {
        const tb_store_request_t *sr = &APR_ARRAY_IDX(req->stores, i,
                                                      tb_store_request_t);
        const tb_store_t *store = sr->store;
        /* A tree and the parents of nested stores are written in other
         * shapes; a page or window shifts with every row before it.  A
         * store shared by the boards of a scoped journal changes under
         * the other boards' revisions. */
        if (sr->pick != TB_PICK_ALL || sr->limit || store->tree_parent
            || (store->children && store->children->nelts)
            || (journal->scope && !store->scope)) {
            return 0;
        }
    }
    return 1;
}

/* The JSON text of an id, as a row written by write_values has it. */
static const char *id_json(apr_pool_t *pool, const tb_store_t *store,
                           const char *id)
{
    tb_membuf_t mb;
    tb_jw_t jw;

    tb_membuf_init(&mb, pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_write_db_value(&jw, store->id_field.type, id);
    tb_jw_flush(&jw);
    return apr_pstrmemdup(pool, mb.buf ? mb.buf : "", mb.len);
}

/* Reads the changed rows of a store (ids, TB_SELECT_IDS at a time) into
 * fresh: id's JSON text -> the row's text.  Ids gone are not there. */
static int read_changed(tb_db_t *db, const tb_store_t *store,
                        const char *board, const apr_array_header_t *ids,
                        apr_hash_t *fresh, int *bad_values,
                        tb_db_error_t *err)
{
    int ncols = store->fields->nelts + 1, at, i, n;
    int nargs = TB_SELECT_IDS + (store->scope ? 1 : 0);
    const char *args[TB_SELECT_IDS + 1];
    apr_dbd_prepared_t *batch;
    apr_array_header_t *rows;

    if (tb_db_statement(db, store->sql_select_ids, 0, &batch, err)) {
        return -1;
    }
    for (at = 0; at < ids->nelts; at += n) {
        n = ids->nelts - at < TB_SELECT_IDS ? ids->nelts - at : TB_SELECT_IDS;
        /* the last id fills the rest of the IN list */
        for (i = 0; i < TB_SELECT_IDS; i++) {
            args[i] = APR_ARRAY_IDX(ids, at + (i < n ? i : n - 1),
                                    const char *);
        }
        args[TB_SELECT_IDS] = board;
        rows = apr_array_make(db->pool, n, sizeof(char **));
        if (tb_db_select_rows(db, batch, nargs, args, ncols, rows,
                              "reading changed rows", err)) {
            return -1;
        }
        for (i = 0; i < rows->nelts; i++) {
            const char **values = APR_ARRAY_IDX(rows, i, const char **);
            tb_load_span_t *span = apr_palloc(db->pool, sizeof(*span));
            tb_membuf_t mb;
            tb_jw_t jw;

            tb_membuf_init(&mb, db->pool);
            tb_jw_init(&jw, tb_membuf_sink, &mb);
            write_values(&jw, store, values, bad_values);
            tb_jw_raw(&jw, "}", 1);
            if (tb_jw_flush(&jw)) {
                return out_of_memory(err, "reading changed rows");
            }
            span->at = mb.buf;
            span->len = mb.len;
            apr_hash_set(fresh, id_json(db->pool, store, values[0]),
                         APR_HASH_KEY_STRING, span);
        }
    }
    return 0;
}

/* The ids of store's table in the journal's read, each once. */
static apr_array_header_t *changed_ids(apr_pool_t *pool,
                                       const tb_store_t *store,
                                       const tb_journal_read_t *read)
{
    apr_array_header_t *ids = apr_array_make(pool, 8, sizeof(char *));
    apr_hash_t *seen = apr_hash_make(pool);
    int i;

    for (i = 0; i < read->entries->nelts; i++) {
        const tb_journal_entry_t *e =
            &APR_ARRAY_IDX(read->entries, i, tb_journal_entry_t);
        if (strcmp(e->table, store->table) == 0
            && !apr_hash_get(seen, e->id, APR_HASH_KEY_STRING)) {
            apr_hash_set(seen, e->id, APR_HASH_KEY_STRING, e);
            APR_ARRAY_PUSH(ids, const char *) = e->id;
        }
    }
    return ids;
}

/* A changed store's rows in their new order (tb_load_span_t): the
 * changed ones read again, the others kept from the earlier answer.
 * 1 (and *why) when a row is neither. */
static int rebuild_store(tb_db_t *db, const tb_store_t *store,
                         const char *board, const apr_array_header_t *ids,
                         const tb_load_indexed_t *old,
                         apr_array_header_t *spans, int *bad_values,
                         const char **why, tb_db_error_t *err)
{
    apr_hash_t *fresh = apr_hash_make(db->pool);
    apr_array_header_t *order = apr_array_make(db->pool, 64, sizeof(char **));
    apr_dbd_prepared_t *stmt;
    int i;

    if (read_changed(db, store, board, ids, fresh, bad_values, err)
        || tb_db_statement(db, store->sql_select_order, 0, &stmt, err)
        || tb_db_select_rows(db, stmt, store->scope ? 1 : 0, &board, 1,
                             order, "reading the rows' order", err)) {
        return -1;
    }
    for (i = 0; i < order->nelts; i++) {
        const char *id = APR_ARRAY_IDX(order, i, const char **)[0];
        const char *key = id_json(db->pool, store, id);
        const tb_load_span_t *span = apr_hash_get(fresh, key,
                                                  APR_HASH_KEY_STRING);

        if (!span && !(span = apr_hash_get(old->rows, key,
                                           APR_HASH_KEY_STRING))) {
            *why = apr_psprintf(db->pool, "row %s of %s is neither in the "
                                "earlier answer nor in the journal", key,
                                store->id);
            return 1;
        }
        APR_ARRAY_PUSH(spans, const tb_load_span_t *) = span;
    }
    return 0;
}

/* Writes a rebuilt store: its key, its rows and their number. */
static void write_rebuilt(tb_jw_t *jw, const tb_store_t *store,
                          const apr_array_header_t *spans)
{
    char total[32];
    int i;

    tb_jw_raw(jw, ",", 1);
    tb_jw_cstr(jw, store->json_key);
    tb_jw_raw(jw, "{\"rows\":[", 9);
    for (i = 0; i < spans->nelts; i++) {
        const tb_load_span_t *span = APR_ARRAY_IDX(spans, i,
                                                   const tb_load_span_t *);
        if (i > 0) {
            tb_jw_raw(jw, ",", 1);
        }
        tb_jw_raw(jw, span->at, span->len);
    }
    snprintf(total, sizeof(total), "],\"total\":%d}", spans->nelts);
    tb_jw_cstr(jw, total);
}

int tb_load_rebuild(tb_db_t *db, tb_jw_t *jw, const tb_load_request_t *req,
                    const tb_store_t *project, const tb_journal_t *journal,
                    const char *board, const char *old_body,
                    apr_size_t old_len, const char *old_revision,
                    const char *revision, int *bad_values, const char **why,
                    tb_db_error_t *err)
{
    int nstores = req->stores->nelts, i, rv;
    apr_array_header_t **spans = apr_pcalloc(db->pool, sizeof(*spans)
                                                       * (nstores + 1));
    apr_int64_t since, upto;
    tb_journal_read_t read;
    tb_load_indexed_t *old;
    tb_membuf_t project_text;
    tb_jw_t project_jw;

    if (!tb_parse_int64(old_revision, &since)
        || !tb_parse_int64(revision, &upto) || since >= upto) {
        *why = "the earlier answer is not of an earlier revision";
        return 1;
    }
    if (tb_load_index_answer(db->pool, old_body, old_len, req->stores,
                             &old)) {
        *why = "the earlier answer is not of the stores asked for";
        return 1;
    }
    if (tb_journal_since(db, journal, board, since, upto, &read, err)) {
        return -1;
    }
    if (!read.covered) {
        *why = "the journal does not cover the revisions since";
        return 1;
    }
    /* Everything is read before anything is written: whatever fails
     * leaves the answer to the full read. */
    for (i = 0; i < nstores; i++) {
        const tb_store_t *store = APR_ARRAY_IDX(req->stores, i,
                                                tb_store_request_t).store;
        apr_array_header_t *ids = changed_ids(db->pool, store, &read);

        if (ids->nelts == 0) {
            continue;           /* copied whole */
        }
        spans[i] = apr_array_make(db->pool, apr_hash_count(old[i].rows) + 8,
                                  sizeof(tb_load_span_t *));
        if ((rv = rebuild_store(db, store, board, ids, &old[i], spans[i],
                                bad_values, why, err)) != 0) {
            return rv;
        }
    }
    tb_membuf_init(&project_text, db->pool);
    tb_jw_init(&project_jw, tb_membuf_sink, &project_text);
    if (project && tb_load_project(db, &project_jw, project, board,
                                   bad_values, err)) {
        return -1;
    }
    if (tb_jw_flush(&project_jw)) {
        return out_of_memory(err, "reading the project");
    }

    tb_jw_raw(jw, ",\"revision\":", 12);
    tb_jw_cstr(jw, revision);
    for (i = 0; i < nstores; i++) {
        if (spans[i]) {
            write_rebuilt(jw, APR_ARRAY_IDX(req->stores, i,
                                            tb_store_request_t).store,
                          spans[i]);
        }
        else {
            tb_jw_raw(jw, old[i].whole.at, old[i].whole.len);
        }
    }
    if (project_text.len) {
        tb_jw_raw(jw, project_text.buf, project_text.len);
    }
    tb_jw_raw(jw, "}", 1);
    return 0;
}
