/* tb_sql.c: the SQL generated from the mapping at configuration time.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "tb_sql.h"

static const char *quote_id(apr_pool_t *pool, const char *identifier)
{
    return apr_pstrcat(pool, "`", identifier, "`", NULL);
}

/* " AND `column` = %s" of a scoped table (its board is the statement's
 * last placeholder), or "". */
static const char *and_scope(apr_pool_t *pool, const tb_scope_t *scope)
{
    return scope ? apr_pstrcat(pool, " AND ", quote_id(pool, scope->column),
                               " = %s", NULL)
                 : "";
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

/* The column of a store's field named by the client, quoted. */
static const char *field_column(apr_pool_t *pool, const tb_store_t *store,
                                const char *name)
{
    const tb_field_t *field = tb_store_field(store, name);

    return quote_id(pool, field ? field->column : name);
}

/* Overlap with [%s, %s), bound as (end, start): begins before the end,
 * ends at or after the start.  Each side alone is an open range of its
 * index (everything before the window's end, everything after its
 * start), which the optimizer reads as a table scan for a window in the
 * middle of the data; the longest span, when declared, bounds the start
 * from below too (a third placeholder, the start again), so that the
 * window reads [start - max days, end) of the start column's index. */
static const char *span_condition(apr_pool_t *pool, const tb_store_t *store)
{
    const char *start = field_column(pool, store, store->span_start);
    const char *cond = apr_pstrcat(pool, start, " < %s AND ",
                                   field_column(pool, store,
                                                store->span_end),
                                   " >= %s", NULL);

    if (store->span_max_days) {
        cond = apr_psprintf(pool, "%s AND %s >= %%s - INTERVAL %d DAY",
                            cond, start, store->span_max_days);
    }
    return cond;
}

/* The lazy-loading statements of a store's own window.  A span is an
 * overlap with [startDate, endDate): start before its end, end at or
 * after its start (a milestone on the first day is in it); rows without
 * a start or an end are in no window.  Listed ids come as one JSON array,
 * so that any number of them (up to TB_LAZY_MAX_IDS) is one statement. */
static void build_lazy(apr_pool_t *pool, tb_store_t *store,
                       const char *columns, const char *order)
{
    const char *table = quote_id(pool, store->table);
    const char *in_board = and_scope(pool, store->scope);

    if (store->lazy == TB_LAZY_ROWS) {
        store->sql_select_listed = apr_pstrcat(
            pool, "SELECT ", columns, " FROM ", table, " WHERE ",
            quote_id(pool, store->id_field.column), " IN (SELECT v FROM "
            "JSON_TABLE(%s, '$[*]' COLUMNS (v ",
            store->id_kind == TB_ID_AUTO ? "BIGINT" : "VARCHAR(255)",
            " PATH '$')) AS tb_listed)", in_board, " ORDER BY ", order,
            NULL);
    }
    else if (store->lazy == TB_LAZY_SPAN) {
        store->sql_select_span = apr_pstrcat(
            pool, "SELECT ", columns, " FROM ", table, " WHERE ",
            span_condition(pool, store), in_board, " ORDER BY ", order,
            NULL);
    }
}

int tb_sql_span_args(const tb_store_t *store)
{
    return store->span_max_days ? 3 : 2;
}

void tb_sql_build_follow(apr_pool_t *pool, tb_store_t *store,
                         const tb_store_t *target)
{
    apr_array_header_t *parts = apr_array_make(pool, 4, sizeof(char *));
    const char *table = quote_id(pool, store->table);
    const char *id_column = quote_id(pool, store->id_field.column);
    const char *window, *columns, *order;
    int i, args_per_ref = tb_sql_span_args(target) + !!target->scope
                                                + !!store->scope;

    /* The target's ids in the window: the same condition as its own
     * load, so that both use the same index. */
    window = apr_pstrcat(pool, "SELECT ",
                         quote_id(pool, target->id_field.column), " FROM ",
                         quote_id(pool, target->table), " WHERE ",
                         span_condition(pool, target),
                         and_scope(pool, target->scope), NULL);
    /* One SELECT per reference, joined by UNION: an OR of IN subqueries
     * would be evaluated row by row over the whole table. */
    store->follow_args = 0;
    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *field = APR_ARRAY_IDX(store->fields, i,
                                                const tb_field_t *);
        if (!field->references
            || strcmp(field->references, target->id) != 0) {
            continue;
        }
        APR_ARRAY_PUSH(parts, const char *) =
            apr_pstrcat(pool, "SELECT ", id_column, " AS tb_id FROM ",
                        table, " WHERE ", quote_id(pool, field->column),
                        " IN (", window, ")", and_scope(pool, store->scope),
                        NULL);
        store->follow_args += args_per_ref;
    }
    if (parts->nelts == 0) {
        return;
    }
    /* The store's columns and order, of the joined table. */
    columns = apr_pstrcat(pool, "tb_rows.", id_column, NULL);
    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *field = APR_ARRAY_IDX(store->fields, i,
                                                const tb_field_t *);
        columns = apr_pstrcat(pool, columns, ",tb_rows.",
                              quote_id(pool, field->column), NULL);
    }
    order = "";
    for (i = 0; i < store->order->nelts; i++) {
        const tb_order_t *o = &APR_ARRAY_IDX(store->order, i, tb_order_t);
        order = apr_pstrcat(pool, order, i ? "," : "", "tb_rows.",
                            quote_id(pool, o->column),
                            o->descending ? " DESC" : " ASC", NULL);
    }
    window = APR_ARRAY_IDX(parts, 0, const char *);
    for (i = 1; i < parts->nelts; i++) {
        window = apr_pstrcat(pool, window, " UNION ",
                             APR_ARRAY_IDX(parts, i, const char *), NULL);
    }
    store->follows = target;
    store->sql_select_follow = apr_pstrcat(
        pool, "SELECT ", columns, " FROM ", table, " AS tb_rows JOIN (",
        window, ") AS tb_window ON tb_rows.", id_column,
        " = tb_window.tb_id ORDER BY ", order, NULL);
}

/* The project's key as a column of its rows, and how its statements
 * find the row by that key.  Without a key column the row is the table's
 * only one: its key is the constant 1 (bound as "1"), so that its
 * statements take an id like every record's. */
static const char *project_key(apr_pool_t *pool, const tb_store_t *store)
{
    return *store->id_field.column ? quote_id(pool, store->id_field.column)
                                   : "1";
}

static const char *project_limit(const tb_store_t *store)
{
    return *store->id_field.column ? "" : " LIMIT 1";
}

/* The statements of the project's row (<TaskBoardProject>): read, locked,
 * and read for the journal's deltas, by its key (and under TaskBoardScope
 * by the board, which is the key).  It is never added or removed. */
static void build_project(apr_pool_t *pool, tb_store_t *store)
{
    apr_array_header_t *parts = apr_array_make(pool, 16, sizeof(char *));
    const char *key = project_key(pool, store), *columns, *from;
    const char *in_board = and_scope(pool, store->scope);
    int i;

    APR_ARRAY_PUSH(parts, const char *) = key;
    for (i = 0; i < store->fields->nelts; i++) {
        tb_field_t *field = APR_ARRAY_IDX(store->fields, i, tb_field_t *);
        APR_ARRAY_PUSH(parts, const char *) = quote_id(pool, field->column);
    }
    columns = apr_array_pstrcat(pool, parts, ',');
    from = apr_pstrcat(pool, "SELECT ", columns, " FROM ",
                       quote_id(pool, store->table), " WHERE ", key, NULL);
    store->sql_select_id = apr_pstrcat(pool, from, " = %s", in_board,
                                       project_limit(store), NULL);
    store->sql_lock_id = apr_pstrcat(pool, store->sql_select_id,
                                     " FOR UPDATE", NULL);
    store->sql_returning = apr_pstrcat(pool, " RETURNING ", columns, NULL);
    apr_array_clear(parts);
    for (i = 0; i < TB_SELECT_IDS; i++) {
        APR_ARRAY_PUSH(parts, const char *) = "%s";
    }
    store->sql_select_ids = apr_pstrcat(pool, from, " IN (",
                                        apr_array_pstrcat(pool, parts, ','),
                                        ")", in_board, project_limit(store),
                                        NULL);
    store->sql_referrers = apr_pcalloc(pool, sizeof(char *)
                                             * (store->fields->nelts + 1));
}

/* The store's ORDER BY list, completed: a tree's order field first (the
 * load nests the rows in the order they are read, tb_tree.c), then the
 * configured order, then the id, so that paging is stable and a store
 * without TaskBoardOrder has one too.  store->order is completed too. */
static const char *order_by(apr_pool_t *pool, tb_store_t *store)
{
    apr_array_header_t *parts = apr_array_make(pool, 4, sizeof(char *));
    int i;

    if (store->tree_order
        && (store->order->nelts == 0
            || strcasecmp(APR_ARRAY_IDX(store->order, 0, tb_order_t).column,
                          store->tree_order->column) != 0
            || APR_ARRAY_IDX(store->order, 0, tb_order_t).descending)) {
        tb_order_t *o;

        apr_array_push(store->order);   /* room for it, first */
        memmove(store->order->elts + sizeof(tb_order_t), store->order->elts,
                (store->order->nelts - 1) * sizeof(tb_order_t));
        o = &APR_ARRAY_IDX(store->order, 0, tb_order_t);
        o->column = store->tree_order->column;
        o->descending = 0;
    }
    for (i = 0; i < store->order->nelts; i++) {
        tb_order_t *o = &APR_ARRAY_IDX(store->order, i, tb_order_t);
        if (strcasecmp(o->column, store->id_field.column) == 0) {
            break;
        }
    }
    if (i == store->order->nelts) {
        tb_order_t *o = apr_array_push(store->order);
        o->column = store->id_field.column;
        o->descending = 0;
    }
    for (i = 0; i < store->order->nelts; i++) {
        tb_order_t *o = &APR_ARRAY_IDX(store->order, i, tb_order_t);
        APR_ARRAY_PUSH(parts, const char *) =
            apr_pstrcat(pool, quote_id(pool, o->column),
                        o->descending ? " DESC" : " ASC", NULL);
    }
    return apr_array_pstrcat(pool, parts, ',');
}

void tb_sql_build_store(apr_pool_t *pool, tb_store_t *store)
{
    apr_array_header_t *parts = apr_array_make(pool, 16, sizeof(char *));
    const char *columns, *order, *table = quote_id(pool, store->table);
    const char *id_column, *in_board = and_scope(pool, store->scope);
    const char *where_board = "";
    int i;

    if (store->is_project) {
        build_project(pool, store);
        return;
    }

    APR_ARRAY_PUSH(parts, const char *) = quote_id(pool,
                                                   store->id_field.column);
    for (i = 0; i < store->fields->nelts; i++) {
        tb_field_t *field = APR_ARRAY_IDX(store->fields, i, tb_field_t *);
        APR_ARRAY_PUSH(parts, const char *) = quote_id(pool, field->column);
    }
    columns = apr_array_pstrcat(pool, parts, ',');

    order = order_by(pool, store);

    if (store->scope) {
        where_board = apr_pstrcat(pool, " WHERE ",
                                  quote_id(pool, store->scope->column),
                                  " = %s", NULL);
    }
    store->sql_select_all = apr_pstrcat(pool, "SELECT ", columns, " FROM ",
                                        table, where_board, " ORDER BY ",
                                        order, NULL);
    store->label_select_all = tb_sql_label(pool, "all",
                                           store->sql_select_all);
    store->sql_select_page = apr_pstrcat(pool, store->sql_select_all,
                                         " LIMIT %lld OFFSET %lld", NULL);
    store->sql_count = apr_pstrcat(pool, "SELECT COUNT(*) FROM ", table,
                                   where_board, NULL);
    store->sql_select_order = apr_pstrcat(pool, "SELECT ",
                                          quote_id(pool,
                                                   store->id_field.column),
                                          " FROM ", table, where_board,
                                          " ORDER BY ", order, NULL);
    store->label_select_page = tb_sql_label(pool, "page",
                                            store->sql_select_page);
    build_lazy(pool, store, columns, order);

    /* Sync: one row by id, locked or not, its removal, and for each
     * reference the rows that point at a given id (for cascades). */
    id_column = quote_id(pool, store->id_field.column);
    store->sql_select_id = apr_pstrcat(pool, "SELECT ", columns, " FROM ",
                                       table, " WHERE ", id_column, " = %s",
                                       in_board, NULL);
    store->sql_lock_id = apr_pstrcat(pool, store->sql_select_id,
                                     " FOR UPDATE", NULL);
    store->sql_returning = apr_pstrcat(pool, " RETURNING ", columns, NULL);
    apr_array_clear(parts);
    for (i = 0; i < TB_SELECT_IDS; i++) {
        APR_ARRAY_PUSH(parts, const char *) = "%s";
    }
    store->sql_select_ids = apr_pstrcat(pool, "SELECT ", columns, " FROM ",
                                        table, " WHERE ", id_column, " IN (",
                                        apr_array_pstrcat(pool, parts, ','),
                                        ")", in_board, NULL);
    store->sql_delete_id = apr_pstrcat(pool, "DELETE FROM ", table,
                                       " WHERE ", id_column, " = %s",
                                       in_board, NULL);
    store->sql_referrers = apr_pcalloc(pool, sizeof(char *)
                                             * (store->fields->nelts + 1));
    for (i = 0; i < store->fields->nelts; i++) {
        tb_field_t *field = APR_ARRAY_IDX(store->fields, i, tb_field_t *);
        if (field->references) {
            store->sql_referrers[i] =
                apr_pstrcat(pool, "SELECT ", id_column, " FROM ", table,
                            " WHERE ", quote_id(pool, field->column),
                            " = %s", in_board, " FOR UPDATE", NULL);
        }
    }
}

const char *tb_sql_insert(apr_pool_t *pool, const tb_store_t *store,
                          const char *const *columns, const char *flagged,
                          int ncolumns)
{
    apr_array_header_t *names = apr_array_make(pool, ncolumns + 1,
                                               sizeof(char *));
    apr_array_header_t *marks = apr_array_make(pool, ncolumns + 1,
                                               sizeof(char *));
    int i;

    for (i = 0; i < ncolumns; i++) {
        const char *column = quote_id(pool, columns[i]);
        APR_ARRAY_PUSH(names, const char *) = column;
        APR_ARRAY_PUSH(marks, const char *) =
            (flagged && flagged[i])
            ? apr_pstrcat(pool, "IF(%s, %s, DEFAULT(", column, "))", NULL)
            : "%s";
    }
    /* the board last, as in every scoped statement */
    if (store->scope) {
        APR_ARRAY_PUSH(names, const char *) = quote_id(pool,
                                                       store->scope->column);
        APR_ARRAY_PUSH(marks, const char *) = "%s";
    }
    if (names->nelts == 0) {
        return apr_pstrcat(pool, "INSERT INTO ", quote_id(pool, store->table),
                           " () VALUES ()", NULL);
    }
    return apr_pstrcat(pool, "INSERT INTO ", quote_id(pool, store->table),
                       " (", apr_array_pstrcat(pool, names, ','),
                       ") VALUES (", apr_array_pstrcat(pool, marks, ','), ")",
                       NULL);
}

const char *tb_sql_update(apr_pool_t *pool, const tb_store_t *store,
                          const char *const *columns, const char *flagged,
                          int ncolumns)
{
    apr_array_header_t *sets = apr_array_make(pool, ncolumns, sizeof(char *));
    int i;

    for (i = 0; i < ncolumns; i++) {
        const char *column = quote_id(pool, columns[i]);
        APR_ARRAY_PUSH(sets, const char *) =
            (flagged && flagged[i])
            ? apr_pstrcat(pool, column, " = IF(%s, %s, ", column, ")", NULL)
            : apr_pstrcat(pool, column, " = %s", NULL);
    }
    if (store->is_project) {
        return apr_pstrcat(pool, "UPDATE ", quote_id(pool, store->table),
                           " SET ", apr_array_pstrcat(pool, sets, ','),
                           " WHERE ", project_key(pool, store), " = %s",
                           and_scope(pool, store->scope),
                           project_limit(store), NULL);
    }
    return apr_pstrcat(pool, "UPDATE ", quote_id(pool, store->table),
                       " SET ", apr_array_pstrcat(pool, sets, ','),
                       " WHERE ", quote_id(pool, store->id_field.column),
                       " = %s", and_scope(pool, store->scope), NULL);
}

void tb_sql_build_revision(apr_pool_t *pool, tb_revision_t *revision)
{
    const char *select = apr_pstrcat(pool, "SELECT ",
                                     quote_id(pool, revision->column),
                                     " FROM ",
                                     quote_id(pool, revision->table), NULL);

    const char *column = quote_id(pool, revision->column);
    const char *where = revision->key_column
        ? apr_pstrcat(pool, " WHERE ", quote_id(pool, revision->key_column),
                      " = %s", NULL)
        : " LIMIT 1";

    revision->sql_select = apr_pstrcat(pool, select, where, NULL);
    revision->sql_lock = apr_pstrcat(pool, select, where, " FOR UPDATE",
                                     NULL);
    /* UPDATE ... LIMIT 1 keeps a keyless revision table to its one row. */
    revision->sql_raise = apr_pstrcat(pool, "UPDATE ",
                                      quote_id(pool, revision->table),
                                      " SET ", column, " = ", column, " + 1",
                                      where, NULL);
    revision->label_select = tb_sql_label(pool, "revision",
                                          revision->sql_select);
    /* The key as the database has it: a board named in other spellings
     * that the key column's collation takes for the same value (case,
     * trailing spaces) is one board, and its event feed is keyed by this. */
    revision->sql_select_key = revision->key_column
        ? apr_pstrcat(pool, "SELECT ", quote_id(pool, revision->key_column),
                      ", ", column, " FROM ",
                      quote_id(pool, revision->table), where, " LIMIT 1",
                      NULL)
        : NULL;
}

void tb_sql_build_idempotency(apr_pool_t *pool, tb_idempotency_t *idem)
{
    /* Scoped: a board's retry records are its own, so that one board's
     * phantom or requestId never answers for another's.  Pruning goes by
     * age for all boards at once, in bounded steps, so that it never holds
     * locks long. */
    const char *board = and_scope(pool, idem->scope);
    const char *board_column = idem->scope
        ? apr_pstrcat(pool, ", ", quote_id(pool, idem->scope->column), NULL)
        : "";
    const char *board_mark = idem->scope ? ", %s" : "";

    if (idem->phantom_table) {
        const char *t = quote_id(pool, idem->phantom_table);
        /* A phantom id is its user's: another user's record with the
         * same one is another record ('' when no user signed in). */
        idem->sql_phantom_find = apr_pstrcat(pool, "SELECT `real_id` FROM ", t,
                                             " WHERE `tbl` = %s AND "
                                             "`phantom` = %s AND `user` = %s",
                                             board, NULL);
        idem->sql_phantom_add = apr_pstrcat(pool, "INSERT INTO ", t,
                                            " (`tbl`, `phantom`, `user`, "
                                            "`real_id`", board_column,
                                            ") VALUES (%s, %s, %s, %s",
                                            board_mark, ")", NULL);
        idem->sql_phantom_prune = apr_pstrcat(pool, "DELETE FROM ", t,
                                              " WHERE `created_at` < NOW() - "
                                              "INTERVAL %s SECOND LIMIT 10000",
                                              NULL);
    }
    if (idem->request_table) {
        const char *t = quote_id(pool, idem->request_table);
        idem->sql_request_find = apr_pstrcat(pool, "SELECT `response` FROM ",
                                             t, " WHERE `request_id` = %s AND "
                                             "`body_hash` = %s", board, NULL);
        idem->sql_request_add = apr_pstrcat(pool, "INSERT IGNORE INTO ", t,
                                            " (`request_id`, `body_hash`, "
                                            "`response`", board_column,
                                            ") VALUES (%s, %s, %s",
                                            board_mark, ")", NULL);
        idem->sql_request_prune = apr_pstrcat(pool, "DELETE FROM ", t,
                                              " WHERE `created_at` < NOW() - "
                                              "INTERVAL %s SECOND LIMIT 10000",
                                              NULL);
    }
}

void tb_sql_build_journal(apr_pool_t *pool, tb_journal_t *journal)
{
    const char *t = quote_id(pool, journal->table);
    const char *board = and_scope(pool, journal->scope);
    /* Scoped: revisions are per board, so every row carries its board,
     * last in each row. */
    const char *row = journal->scope ? "(%s,%s,%s,%s,%s)" : "(%s,%s,%s,%s)";
    const char *insert = apr_pstrcat(pool, "INSERT INTO ", t,
                                     " (`revision`, `tbl`, `record_id`, "
                                     "`operation`",
                                     journal->scope
                                         ? apr_pstrcat(pool, ", ",
                                               quote_id(pool,
                                                   journal->scope->column),
                                               NULL)
                                         : "",
                                     ") VALUES ", NULL);
    /* One record twice in one sync (an update of a row that the same
     * sync's removal took along): the later operation stands. */
    const char *dup = " ON DUPLICATE KEY UPDATE `operation` = "
                      "VALUES(`operation`)";
    apr_array_header_t *rows = apr_array_make(pool, TB_JOURNAL_BATCH,
                                              sizeof(char *));
    int i;

    for (i = 0; i < TB_JOURNAL_BATCH; i++) {
        APR_ARRAY_PUSH(rows, const char *) = row;
    }
    journal->sql_insert_one = apr_pstrcat(pool, insert, row, dup, NULL);
    journal->sql_insert_batch = apr_pstrcat(pool, insert,
                                            apr_array_pstrcat(pool, rows, ','),
                                            dup, NULL);
    rows->nelts = TB_JOURNAL_FEW;
    journal->sql_insert_few = apr_pstrcat(pool, insert,
                                          apr_array_pstrcat(pool, rows, ','),
                                          dup, NULL);
    /* One row more than is used tells that the journal was cut short. */
    journal->sql_since = apr_psprintf(pool, "SELECT `revision`, `tbl`, "
                                      "`record_id`, `operation` FROM %s "
                                      "WHERE `revision` > %%s AND "
                                      "`revision` <= %%s%s ORDER BY "
                                      "`revision` LIMIT %d", t, board,
                                      TB_JOURNAL_MAX_READ + 1);
    journal->sql_horizon = apr_pstrcat(pool, "SELECT MAX(`revision`) FROM ",
                                       t, " WHERE `changed_at` < NOW() - "
                                       "INTERVAL %s SECOND", board, NULL);
    /* Whole revisions go: a revision with part of its rows would answer
     * "what changed" wrongly, one without rows is known to be gone. */
    journal->sql_prune = apr_pstrcat(pool, "DELETE FROM ", t,
                                     " WHERE `revision` <= %s", board, NULL);
}

const char *tb_sql_events_poll(apr_pool_t *pool, const tb_revision_t *rev,
                               const tb_journal_t *journal)
{
    const char *where = rev->key_column
        ? apr_pstrcat(pool, " WHERE ", quote_id(pool, rev->key_column),
                      " = %s", NULL)
        : " LIMIT 1";

    return apr_psprintf(pool, "(SELECT %s, NULL FROM %s%s) UNION ALL "
                        "(SELECT DISTINCT `revision`, `tbl` FROM %s WHERE "
                        "`revision` > %%s%s ORDER BY `revision` LIMIT %d)",
                        quote_id(pool, rev->column),
                        quote_id(pool, rev->table), where,
                        quote_id(pool, journal->table),
                        and_scope(pool, journal->scope),
                        TB_JOURNAL_MAX_READ);
}

int tb_sql_count_placeholders(const char *query, char *other)
{
    const char *p;
    int n = 0;

    for (p = strchr(query, '%'); p; p = strchr(p + 2, '%')) {
        if (p[1] == '%') {
            continue;           /* a percent sign, as in LIKE 'a%%' */
        }
        if (p[1] != 's') {
            *other = p[1] ? p[1] : ' ';
            return -1;
        }
        n++;
    }
    return n;
}
