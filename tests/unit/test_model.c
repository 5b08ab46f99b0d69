/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include "tb_test.h"
#include "tb_model.h"

static tb_field_t field_of(tb_type_e type)
{
    tb_field_t f;

    memset(&f, 0, sizeof(f));
    f.name = "f";
    f.column = "f";
    f.type = type;
    return f;
}

void test_model(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_field_t f;
    tb_type_e type;
    tb_store_t *store;
    const char *allowed[] = {"todo", "doing"};
    apr_array_header_t *list;

    CHECK(tb_is_identifier("tasks"));
    CHECK(tb_is_identifier("_x9"));
    CHECK(tb_is_identifier("A_b_C"));
    CHECK(!tb_is_identifier(""));
    CHECK(!tb_is_identifier(NULL));
    CHECK(!tb_is_identifier("9lives"));
    CHECK(!tb_is_identifier("bad-name"));
    CHECK(!tb_is_identifier("a b"));
    CHECK(!tb_is_identifier("x;drop"));
    CHECK(!tb_is_identifier("a`b"));
    CHECK(!tb_is_identifier("caf\xc3\xa9"));
    CHECK(tb_is_identifier(
        "a234567890123456789012345678901234567890123456789012345678901234"));
    CHECK(!tb_is_identifier(
        "a2345678901234567890123456789012345678901234567890123456789012345"));

    CHECK(tb_type_parse("datetime", &type) == 0 && type == TB_TYPE_DATETIME);
    CHECK(tb_type_parse("json", &type) == 0 && type == TB_TYPE_JSON);
    CHECK(tb_type_parse("integer", &type) == -1);
    CHECK(tb_type_parse("INT", &type) == -1);
    CHECK_STR(tb_type_name(TB_TYPE_BOOLEAN), "boolean");

    f = field_of(TB_TYPE_INT);
    CHECK(tb_field_check_text(p, &f, "-42") == NULL);
    CHECK(tb_field_check_text(p, &f, "9223372036854775807") == NULL);
    CHECK(tb_field_check_text(p, &f, "9223372036854775808") != NULL);
    CHECK(tb_field_check_text(p, &f, "abc") != NULL);
    CHECK(tb_field_check_text(p, &f, "1.5") != NULL);
    CHECK(tb_field_check_text(p, &f, "12abc") != NULL);
    CHECK(tb_field_check_text(p, &f, "") != NULL);

    f = field_of(TB_TYPE_NUMBER);
    CHECK(tb_field_check_text(p, &f, "100.25") == NULL);
    CHECK(tb_field_check_text(p, &f, "-1e3") == NULL);
    CHECK(tb_field_check_text(p, &f, "NaN") != NULL);
    CHECK(tb_field_check_text(p, &f, ".5") != NULL);

    f = field_of(TB_TYPE_BOOLEAN);
    CHECK(tb_field_check_text(p, &f, "true") == NULL);
    CHECK(tb_field_check_text(p, &f, "0") == NULL);
    CHECK(tb_field_check_text(p, &f, "yes") != NULL);

    f = field_of(TB_TYPE_DATE);
    CHECK(tb_field_check_text(p, &f, "2024-02-29") == NULL);
    CHECK(tb_field_check_text(p, &f, "2023-02-29") != NULL);
    CHECK(tb_field_check_text(p, &f, "2024-13-01") != NULL);
    CHECK(tb_field_check_text(p, &f, "2024-03-05T10:00:00Z") != NULL);

    f = field_of(TB_TYPE_DATETIME);
    CHECK(tb_field_check_text(p, &f, "2024-03-05T10:30:00+01:00") == NULL);
    CHECK(tb_field_check_text(p, &f, "2024-03-05 25:00") != NULL);

    f = field_of(TB_TYPE_JSON);
    CHECK(tb_field_check_text(p, &f, "{\"a\":[1,2]}") == NULL);
    CHECK(tb_field_check_text(p, &f, "{a:1}") != NULL);

    f = field_of(TB_TYPE_STRING);
    f.max_length = 3;
    /* three characters, six bytes: the limit counts characters */
    CHECK(tb_field_check_text(p, &f, "\xc3\xa4\xc3\xb6\xc3\xbc") == NULL);
    CHECK(tb_field_check_text(p, &f, "abcd") != NULL);
    CHECK(tb_field_check_text(p, &f, "\xff") != NULL);

    list = apr_array_make(p, 2, sizeof(char *));
    APR_ARRAY_PUSH(list, const char *) = allowed[0];
    APR_ARRAY_PUSH(list, const char *) = allowed[1];
    f = field_of(TB_TYPE_STRING);
    f.allowed = list;
    CHECK(tb_field_check_text(p, &f, "doing") == NULL);
    CHECK(tb_field_check_text(p, &f, "done") != NULL);

    store = tb_store_create(p, "tasks");
    CHECK_STR(store->table, "tasks");
    CHECK_STR(store->id_field.column, "id");
    CHECK(store->id_kind == TB_ID_AUTO);
    CHECK_STR(store->json_key, "\"tasks\":");
    CHECK(tb_store_field(store, "name") == NULL);
    CHECK(tb_store_field_by_column(store, "ID") == &store->id_field);
}
