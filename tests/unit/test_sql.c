/* test_sql.c: unit cases of the SQL made from the mapping (tb_sql.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_sql.c: the statements built once per store, revision, journal and
 * retry table, with and without a board scope. */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_sql.h"

static void add_field(tb_store_t *store, const char *name,
                      const char *column, tb_type_e type)
{
    tb_field_t *f = apr_pcalloc(tb_test_pool, sizeof(*f));

    f->name = name;
    f->column = column;
    f->type = type;
    APR_ARRAY_PUSH(store->fields, tb_field_t *) = f;
}

/* assignments(event, resource), ordered by event descending, then id */
static tb_store_t *assignments(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_store_t *store = tb_store_create(p, "assignments");
    tb_order_t *o;

    add_field(store, "eventId", "event", TB_TYPE_INT);
    add_field(store, "resourceId", "resource", TB_TYPE_INT);
    o = apr_array_push(store->order);
    o->column = "event";
    o->descending = 1;
    o = apr_array_push(store->order);
    o->column = "id";
    o->descending = 0;
    tb_sql_build_store(p, store);
    return store;
}

static void store_selects(void)
{
    tb_store_t *store = assignments();

    CHECK_STR(store->sql_select_all,
              "SELECT `id`,`event`,`resource` FROM `assignments` "
              "ORDER BY `event` DESC,`id` ASC");
    CHECK_STR(store->sql_select_page,
              "SELECT `id`,`event`,`resource` FROM `assignments` "
              "ORDER BY `event` DESC,`id` ASC LIMIT %lld OFFSET %lld");
    CHECK_STR(store->sql_count, "SELECT COUNT(*) FROM `assignments`");
    /* the ids alone in the same order: a rebuilt load's row order */
    CHECK_STR(store->sql_select_order,
              "SELECT `id` FROM `assignments` ORDER BY `event` DESC,`id` ASC");
    CHECK(strncmp(store->label_select_page, "taskboard_page_", 15) == 0);
}

/* TaskBoardTree: siblings by the order field first, whatever
 * TaskBoardOrder says after it */
static void tree_order_first(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_store_t *store = tb_store_create(p, "tasks");
    tb_order_t *o;

    add_field(store, "parentId", "parent_id", TB_TYPE_INT);
    add_field(store, "parentIndex", "position", TB_TYPE_INT);
    store->tree_parent = APR_ARRAY_IDX(store->fields, 0, tb_field_t *);
    store->tree_order = APR_ARRAY_IDX(store->fields, 1, tb_field_t *);
    o = apr_array_push(store->order);
    o->column = "parent_id";
    o->descending = 1;
    tb_sql_build_store(p, store);
    CHECK_STR(store->sql_select_all, "SELECT `id`,`parent_id`,`position` "
              "FROM `tasks` ORDER BY `position` ASC,`parent_id` DESC,"
              "`id` ASC");

    /* already first: not twice */
    store = tb_store_create(p, "tasks");
    add_field(store, "parentId", "parent_id", TB_TYPE_INT);
    add_field(store, "parentIndex", "position", TB_TYPE_INT);
    store->tree_parent = APR_ARRAY_IDX(store->fields, 0, tb_field_t *);
    store->tree_order = APR_ARRAY_IDX(store->fields, 1, tb_field_t *);
    o = apr_array_push(store->order);
    o->column = "position";
    o->descending = 0;
    tb_sql_build_store(p, store);
    CHECK_STR(store->sql_select_all, "SELECT `id`,`parent_id`,`position` "
              "FROM `tasks` ORDER BY `position` ASC,`id` ASC");
}

static void revision_keyed_row(void)
{
    tb_revision_t rev;

    memset(&rev, 0, sizeof(rev));
    rev.table = "options";
    rev.column = "value";
    rev.key_column = "name";
    rev.key_value = "revision";
    tb_sql_build_revision(tb_test_pool, &rev);
    CHECK_STR(rev.sql_select,
              "SELECT `value` FROM `options` WHERE `name` = %s");
    /* the key as stored, for the events' feeds */
    CHECK_STR(rev.sql_select_key, "SELECT `name`, `value` FROM `options` "
              "WHERE `name` = %s LIMIT 1");
}

static void revision_single_row(void)
{
    tb_revision_t single;

    memset(&single, 0, sizeof(single));
    single.table = "board_revision";
    single.column = "rev";
    tb_sql_build_revision(tb_test_pool, &single);
    CHECK_STR(single.sql_select, "SELECT `rev` FROM `board_revision` LIMIT 1");
    CHECK(single.sql_select_key == NULL);
}

static void labels(void)
{
    apr_pool_t *p = tb_test_pool;

    CHECK_STR(tb_sql_label(p, "x", "SELECT 1"), tb_sql_label(p, "x",
                                                             "SELECT 1"));
    CHECK(strcmp(tb_sql_label(p, "x", "SELECT 1"),
                 tb_sql_label(p, "x", "SELECT 2")) != 0);
}

/* An administrator's query: %s are counted, %% is a percent sign, any
 * other conversion is refused by name. */
static void placeholders(void)
{
    char other = 0;

    CHECK(tb_sql_count_placeholders("SELECT 1", &other) == 0);
    CHECK(tb_sql_count_placeholders("a = %s AND b = %s", &other) == 2);
    CHECK(tb_sql_count_placeholders("a LIKE 'x%%' AND b = %s", &other) == 1);
    CHECK(tb_sql_count_placeholders("a = %d", &other) == -1 && other == 'd');
    CHECK(tb_sql_count_placeholders("a = %", &other) == -1 && other == ' ');
}

/* Under a scope, every statement on a table carries the board, as its
 * last placeholder (the page's first: LIMIT and OFFSET follow it). */
static tb_scope_t *int_scope(void)
{
    tb_scope_t *scope = apr_pcalloc(tb_test_pool, sizeof(*scope));

    scope->column = "board_id";
    scope->type = TB_TYPE_INT;
    return scope;
}

/* tasks(name, parent_id) on boards */
static tb_store_t *scoped_tasks(void)
{
    tb_store_t *store = tb_store_create(tb_test_pool, "tasks");

    store->scope = int_scope();
    add_field(store, "name", "name", TB_TYPE_STRING);
    add_field(store, "parentId", "parent_id", TB_TYPE_INT);
    APR_ARRAY_IDX(store->fields, 1, tb_field_t *)->references = "tasks";
    tb_sql_build_store(tb_test_pool, store);
    return store;
}

static void scoped_store_statements(void)
{
    tb_store_t *store = scoped_tasks();

    CHECK_STR(store->sql_select_all, "SELECT `id`,`name`,`parent_id` FROM "
              "`tasks` WHERE `board_id` = %s ORDER BY `id` ASC");
    CHECK_STR(store->sql_count,
              "SELECT COUNT(*) FROM `tasks` WHERE `board_id` = %s");
    CHECK_STR(store->sql_lock_id, "SELECT `id`,`name`,`parent_id` FROM "
              "`tasks` WHERE `id` = %s AND `board_id` = %s FOR UPDATE");
    CHECK_STR(store->sql_delete_id,
              "DELETE FROM `tasks` WHERE `id` = %s AND `board_id` = %s");
    CHECK_STR(store->sql_referrers[1], "SELECT `id` FROM `tasks` WHERE "
              "`parent_id` = %s AND `board_id` = %s FOR UPDATE");
    CHECK(strstr(store->sql_select_ids, ",%s) AND `board_id` = %s") != NULL);
}

static void scoped_insert_update(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_store_t *store = scoped_tasks();
    const char *columns[] = {"name"};

    CHECK_STR(tb_sql_insert(p, store, columns, NULL, 1),
              "INSERT INTO `tasks` (`name`,`board_id`) VALUES (%s,%s)");
    CHECK_STR(tb_sql_insert(p, store, columns, NULL, 0),
              "INSERT INTO `tasks` (`board_id`) VALUES (%s)");
    CHECK_STR(tb_sql_update(p, store, columns, NULL, 1), "UPDATE `tasks` SET "
              "`name` = %s WHERE `id` = %s AND `board_id` = %s");
}

/* records that share a statement but not their fields */
static void scoped_shared_statements(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_store_t *store = scoped_tasks();
    const char *both[] = {"name", "parent_id"};

    CHECK_STR(tb_sql_insert(p, store, both, "\0\1", 2),
              "INSERT INTO `tasks` (`name`,`parent_id`,`board_id`) VALUES "
              "(%s,IF(%s, %s, DEFAULT(`parent_id`)),%s)");
    CHECK_STR(tb_sql_update(p, store, both, "\0\1", 2), "UPDATE `tasks` SET "
              "`name` = %s,`parent_id` = IF(%s, %s, `parent_id`) WHERE "
              "`id` = %s AND `board_id` = %s");
}

static void scoped_journal(void)
{
    tb_journal_t journal;

    memset(&journal, 0, sizeof(journal));
    journal.table = "board_journal";
    journal.scope = int_scope();
    tb_sql_build_journal(tb_test_pool, &journal);
    CHECK(strncmp(journal.sql_insert_one, "INSERT INTO `board_journal` "
                  "(`revision`, `tbl`, `record_id`, `operation`, `board_id`) "
                  "VALUES (%s,%s,%s,%s,%s) ON DUPLICATE", 106) == 0);
    CHECK(strstr(journal.sql_since, "`revision` <= %s AND `board_id` = %s "
                 "ORDER BY") != NULL);
    CHECK(strstr(journal.sql_prune, "`revision` <= %s AND `board_id` = %s")
          != NULL);
}

static void scoped_idempotency(void)
{
    tb_idempotency_t idem;

    memset(&idem, 0, sizeof(idem));
    idem.phantom_table = "board_phantoms";
    idem.request_table = "board_requests";
    idem.scope = int_scope();
    tb_sql_build_idempotency(tb_test_pool, &idem);
    CHECK_STR(idem.sql_phantom_find, "SELECT `real_id` FROM `board_phantoms` "
              "WHERE `tbl` = %s AND `phantom` = %s AND `user` = %s AND "
              "`board_id` = %s");
    CHECK_STR(idem.sql_phantom_add, "INSERT INTO `board_phantoms` (`tbl`, "
              "`phantom`, `user`, `real_id`, `board_id`) VALUES (%s, %s, %s, "
              "%s, %s)");
    CHECK_STR(idem.sql_request_add, "INSERT IGNORE INTO `board_requests` "
              "(`request_id`, `body_hash`, `response`, `board_id`) VALUES "
              "(%s, %s, %s, %s)");
}

/* the board's value: one spelling per int board, none for junk */
static void scope_int_values(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_scope_t *scope = int_scope();
    const char *msg = NULL;

    CHECK_STR(tb_scope_value(p, scope, "007", &msg), "7");
    CHECK(tb_scope_value(p, scope, "7x", &msg) == NULL && msg);
    CHECK(tb_scope_value(p, scope, "", &msg) == NULL);
    CHECK(tb_scope_value(p, scope, NULL, &msg) == NULL);
    CHECK(tb_scope_value(p, scope, "99999999999999999999", &msg) == NULL);
}

static void scope_string_values(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_scope_t *scope = int_scope();
    const char *msg = NULL;

    scope->type = TB_TYPE_STRING;
    CHECK_STR(tb_scope_value(p, scope, "team-α", &msg), "team-α");
    CHECK(tb_scope_value(p, scope, "a\tb", &msg) == NULL);
    CHECK(tb_scope_value(p, scope, "\xff\xfe", &msg) == NULL);
}

/* The project's row as <TaskBoardProject> declares it: key column ""
 * for the table's only row; scope: the board, matched by the key. */
static tb_store_t *project(const char *key_column, const tb_scope_t *scope)
{
    apr_pool_t *p = tb_test_pool;
    tb_store_t *store = tb_store_create(p, TB_PROJECT_ID);

    store->is_project = 1;
    store->table = "project";
    store->id_kind = TB_ID_STRING;
    store->id_field.column = key_column;
    store->project_key = scope ? NULL : "1";
    if (scope) {
        tb_scope_t *by_key = apr_pmemdup(p, scope, sizeof(*by_key));
        by_key->column = key_column;
        store->scope = by_key;
    }
    add_field(store, "calendar", "calendar", TB_TYPE_STRING);
    add_field(store, "startDate", "start_date", TB_TYPE_DATE);
    tb_sql_build_store(p, store);
    return store;
}

static void project_single_row(void)
{
    const char *columns[] = {"calendar"};
    tb_store_t *store = project("", NULL);

    CHECK_STR(store->sql_select_id, "SELECT 1,`calendar`,`start_date` FROM "
              "`project` WHERE 1 = %s LIMIT 1");
    CHECK_STR(store->sql_lock_id, "SELECT 1,`calendar`,`start_date` FROM "
              "`project` WHERE 1 = %s LIMIT 1 FOR UPDATE");
    CHECK(strstr(store->sql_select_ids, "WHERE 1 IN (%s,") != NULL);
    CHECK_STR(tb_sql_update(tb_test_pool, store, columns, NULL, 1),
              "UPDATE `project` SET `calendar` = %s WHERE 1 = %s LIMIT 1");
    /* never a whole-table read, insert or removal */
    CHECK(store->sql_select_all == NULL && store->sql_delete_id == NULL);
}

static void project_keyed_rows(void)
{
    const char *columns[] = {"calendar"};
    tb_scope_t scope;
    tb_store_t *store = project("id", NULL);

    CHECK_STR(store->sql_select_id, "SELECT `id`,`calendar`,`start_date` "
              "FROM `project` WHERE `id` = %s");
    CHECK_STR(tb_sql_update(tb_test_pool, store, columns, NULL, 1),
              "UPDATE `project` SET `calendar` = %s WHERE `id` = %s");
    memset(&scope, 0, sizeof(scope));
    scope.column = "board_id";
    store = project("board_id", &scope);
    CHECK_STR(store->sql_select_id, "SELECT `board_id`,`calendar`,"
              "`start_date` FROM `project` WHERE `board_id` = %s AND "
              "`board_id` = %s");
    CHECK_STR(tb_sql_update(tb_test_pool, store, columns, NULL, 1),
              "UPDATE `project` SET `calendar` = %s WHERE `board_id` = %s "
              "AND `board_id` = %s");
    CHECK(strstr(store->sql_select_ids, ",%s) AND `board_id` = %s") != NULL);
}

const tb_case_t tb_sql_cases[] = {
    {"project: the table's only row, by the constant key 1",
     project_single_row},
    {"project: a keyed row, and the board's row under a scope",
     project_keyed_rows},
    {"a store's selects: all rows, a page, the count, one label each",
     store_selects},
    {"a tree's rows come by its order field first", tree_order_first},
    {"a revision in a keyed row, and its key for the feeds",
     revision_keyed_row},
    {"a revision in a one-row table", revision_single_row},
    {"equal SQL shares a label, different SQL does not", labels},
    {"an administrator's query: its %s counted, other conversions named",
     placeholders},
    {"scoped: every statement on a store carries the board",
     scoped_store_statements},
    {"scoped: INSERT and UPDATE carry the board last",
     scoped_insert_update},
    {"scoped: records that share a statement but not their fields",
     scoped_shared_statements},
    {"scoped: the journal's statements carry the board", scoped_journal},
    {"scoped: the retry tables' statements carry the board",
     scoped_idempotency},
    {"scoped: an int board has one spelling, junk none", scope_int_values},
    {"scoped: a string board is printable UTF-8", scope_string_values},
    {NULL, NULL}
};
