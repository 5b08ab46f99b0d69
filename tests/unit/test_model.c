/* test_model.c: unit cases of the store and field mapping (tb_model.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_model.c: identifiers, type names, values as database text, and a
 * store's defaults. */

#include <apr_strings.h>

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

static void identifiers(void)
{
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
}

static void type_names(void)
{
    tb_type_e type;

    CHECK(tb_type_parse("datetime", &type) == 0 && type == TB_TYPE_DATETIME);
    CHECK(tb_type_parse("json", &type) == 0 && type == TB_TYPE_JSON);
    CHECK(tb_type_parse("integer", &type) == -1);
    CHECK(tb_type_parse("INT", &type) == -1);
    CHECK_STR(tb_type_name(TB_TYPE_BOOLEAN), "boolean");
}

/* Database text for a field of each type without options: what the
 * type accepts and nothing else. */
static void field_text_by_type(void)
{
    static const struct {
        tb_type_e type;
        const char *text;
        int accepted;
    } rows[] = {
        {TB_TYPE_INT, "-42", 1},
        {TB_TYPE_INT, "9223372036854775807", 1},
        {TB_TYPE_INT, "9223372036854775808", 0},
        {TB_TYPE_INT, "abc", 0},
        {TB_TYPE_INT, "1.5", 0},
        {TB_TYPE_INT, "12abc", 0},
        {TB_TYPE_INT, "", 0},
        {TB_TYPE_NUMBER, "100.25", 1},
        {TB_TYPE_NUMBER, "-1e3", 1},
        {TB_TYPE_NUMBER, "NaN", 0},
        {TB_TYPE_NUMBER, ".5", 0},
        {TB_TYPE_BOOLEAN, "true", 1},
        {TB_TYPE_BOOLEAN, "0", 1},
        {TB_TYPE_BOOLEAN, "yes", 0},
        {TB_TYPE_DATE, "2024-02-29", 1},
        {TB_TYPE_DATE, "2023-02-29", 0},
        {TB_TYPE_DATE, "2024-13-01", 0},
        {TB_TYPE_DATE, "2024-03-05T10:00:00Z", 0},
        {TB_TYPE_DATETIME, "2024-03-05T10:30:00+01:00", 1},
        {TB_TYPE_DATETIME, "2024-03-05 25:00", 0},
        {TB_TYPE_JSON, "{\"a\":[1,2]}", 1},
        {TB_TYPE_JSON, "{a:1}", 0},
    };
    apr_pool_t *p = tb_test_pool;
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        tb_field_t f = field_of(rows[i].type);

        CHECK_ROW(apr_pstrcat(p, tb_type_name(rows[i].type), " ",
                              rows[i].text, NULL),
                  (tb_field_check_text(p, &f, rows[i].text) == NULL)
                  == rows[i].accepted);
    }
}

static void string_text(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_field_t f = field_of(TB_TYPE_STRING);

    f.max_length = 3;
    /* three characters, six bytes: the limit counts characters */
    CHECK(tb_field_check_text(p, &f, "\xc3\xa4\xc3\xb6\xc3\xbc") == NULL);
    CHECK(tb_field_check_text(p, &f, "abcd") != NULL);
    CHECK(tb_field_check_text(p, &f, "\xff") != NULL);
}

static void allowed_values(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_field_t f = field_of(TB_TYPE_STRING);
    apr_array_header_t *list = apr_array_make(p, 2, sizeof(char *));

    APR_ARRAY_PUSH(list, const char *) = "todo";
    APR_ARRAY_PUSH(list, const char *) = "doing";
    f.allowed = list;
    CHECK(tb_field_check_text(p, &f, "doing") == NULL);
    CHECK(tb_field_check_text(p, &f, "done") != NULL);
}

static void store_defaults(void)
{
    tb_store_t *store = tb_store_create(tb_test_pool, "tasks");

    CHECK_STR(store->table, "tasks");
    CHECK_STR(store->id_field.column, "id");
    CHECK(store->id_kind == TB_ID_AUTO);
    CHECK_STR(store->json_key, "\"tasks\":");
    CHECK(tb_store_field(store, "name") == NULL);
    CHECK(tb_store_field_by_column(store, "ID") == &store->id_field);
}

const tb_case_t tb_model_cases[] = {
    {"identifiers: a letter or _, then letters, digits, _; 64 at most",
     identifiers},
    {"types are parsed by their lower-case names only", type_names},
    {"database text: each type accepts its own form only",
     field_text_by_type},
    {"database text: a string's maxlength= counts characters, UTF-8 only",
     string_text},
    {"database text: values= lets only the listed values in",
     allowed_values},
    {"a new store: its table, an auto id, no fields", store_defaults},
    {NULL, NULL}
};
