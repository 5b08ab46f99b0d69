/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

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

void test_sql(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_store_t *store = tb_store_create(p, "assignments");
    tb_revision_t rev, single;
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
    CHECK_STR(store->sql_select_all,
              "SELECT `id`,`event`,`resource` FROM `assignments` "
              "ORDER BY `event` DESC,`id` ASC");
    CHECK_STR(store->sql_select_page,
              "SELECT `id`,`event`,`resource` FROM `assignments` "
              "ORDER BY `event` DESC,`id` ASC LIMIT %lld OFFSET %lld");
    CHECK_STR(store->sql_count, "SELECT COUNT(*) FROM `assignments`");
    CHECK(strncmp(store->label_select_page, "taskboard_page_", 15) == 0);

    memset(&rev, 0, sizeof(rev));
    rev.table = "options";
    rev.column = "value";
    rev.key_column = "name";
    rev.key_value = "revision";
    tb_sql_build_revision(p, &rev);
    CHECK_STR(rev.sql_select,
              "SELECT `value` FROM `options` WHERE `name` = %s");

    memset(&single, 0, sizeof(single));
    single.table = "board_revision";
    single.column = "rev";
    tb_sql_build_revision(p, &single);
    CHECK_STR(single.sql_select, "SELECT `rev` FROM `board_revision` LIMIT 1");
    /* equal SQL shares a label, different SQL does not */
    CHECK_STR(tb_sql_label(p, "x", "SELECT 1"), tb_sql_label(p, "x",
                                                             "SELECT 1"));
    CHECK(strcmp(tb_sql_label(p, "x", "SELECT 1"),
                 tb_sql_label(p, "x", "SELECT 2")) != 0);
}
