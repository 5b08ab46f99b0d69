/* test_convert.c: unit cases of the value conversions (tb_convert.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_convert.c: values between the client's JSON, the database's text
 * and the JSON a load answers with. */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_convert.h"

typedef struct {
    char buf[1024];
    apr_size_t len;
} capture_t;

static int capture_sink(void *ctx, const char *buf, apr_size_t len)
{
    capture_t *c = ctx;

    if (c->len + len >= sizeof(c->buf)) {
        return 1;
    }
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    c->buf[c->len] = '\0';
    return 0;
}

/* The JSON that tb_write_db_value makes of a database text value. */
static const char *db_value(tb_type_e type, const char *text, int *fallback)
{
    capture_t *c = apr_pcalloc(tb_test_pool, sizeof(*c));
    tb_jw_t jw;

    tb_jw_init(&jw, capture_sink, c);
    *fallback = tb_write_db_value(&jw, type, text);
    tb_jw_flush(&jw);
    return c->buf;
}

/* tb_client_value on a JSON text, for one field. */
static const char *value_of(const tb_field_t *f, const char *json,
                            const char **msg)
{
    const char *sql = "unset";
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);

    *msg = tb_client_value(tb_test_pool, f, v, &sql);
    json_decref(v);
    return sql;
}

static tb_field_t field_of(tb_type_e type)
{
    tb_field_t f;

    memset(&f, 0, sizeof(f));
    f.name = "x";
    f.type = type;
    return f;
}

static void int64_text(void)
{
    apr_int64_t v;

    CHECK(tb_parse_int64("1795745553220012", &v) && v == 1795745553220012LL);
    CHECK(tb_parse_int64("-7", &v) && v == -7);
    CHECK(!tb_parse_int64("+7", &v));
    CHECK(!tb_parse_int64(" 7", &v));
}

static void json_numbers(void)
{
    CHECK(tb_is_json_number("0"));
    CHECK(tb_is_json_number("-0.5e-3"));
    CHECK(!tb_is_json_number("01"));
    CHECK(!tb_is_json_number("1."));
    CHECK(!tb_is_json_number("inf"));
}

static void dates(void)
{
    apr_pool_t *p = tb_test_pool;

    CHECK_STR(tb_date_normalize(p, "2024-05-30"), "2024-05-30");
    CHECK_STR(tb_date_normalize(p, "2024-04-31"), NULL);
    CHECK_STR(tb_date_normalize(p, "2024-5-30"), NULL);
}

static void datetimes_to_utc(void)
{
    static const struct {
        const char *in, *utc;               /* utc NULL: refused */
    } rows[] = {
        /* the client's forms, all stored as UTC */
        {"2024-03-05T10:30:00Z", "2024-03-05 10:30:00"},
        {"2024-03-05T10:30:00+01:00", "2024-03-05 09:30:00"},
        {"2024-03-05T10:30:00-0230", "2024-03-05 13:00:00"},
        {"2024-03-05T10:30:00", "2024-03-05 10:30:00"},
        {"2024-03-05T10:30:00.123Z", "2024-03-05 10:30:00.123"},
        {"2024-03-05 10:30", "2024-03-05 10:30:00"},
        {"2024-03-05", "2024-03-05 00:00:00"},
        /* offsets that cross midnight, a month and a leap day */
        {"2024-03-01T00:30:00+02:00", "2024-02-29 22:30:00"},
        {"2023-12-31T23:30:00-01:00", "2024-01-01 00:30:00"},
        {"2024-03-05T24:00:00Z", NULL},
        {"2024-03-05T10:30:00+1", NULL},
        {"2024-03-05T10:30:00Zjunk", NULL},
        {"tomorrow", NULL},
    };
    apr_pool_t *p = tb_test_pool;
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        CHECK_STR_ROW(rows[i].in, tb_datetime_to_utc_sql(p, rows[i].in),
                      rows[i].utc);
    }
}

static void db_text_to_json(void)
{
    static const struct {
        tb_type_e type;
        const char *text, *json;
        int fallback;               /* written as a string, and reported */
    } rows[] = {
        {TB_TYPE_INT, NULL, "null", 0},
        {TB_TYPE_INT, "42", "42", 0},
        {TB_TYPE_NUMBER, "100.00", "100.00", 0},
        {TB_TYPE_BOOLEAN, "1", "true", 0},
        {TB_TYPE_BOOLEAN, "0", "false", 0},
        {TB_TYPE_DATE, "2024-05-30", "\"2024-05-30\"", 0},
        {TB_TYPE_DATE, "2024-05-30 12:00:00", "\"2024-05-30\"", 0},
        {TB_TYPE_DATE, "0000-00-00", "null", 0},
        {TB_TYPE_DATETIME, "2024-03-01 09:30:00", "\"2024-03-01T09:30:00Z\"",
         0},
        {TB_TYPE_DATETIME, "2024-03-01 09:30:00.123456",
         "\"2024-03-01T09:30:00.123Z\"", 0},
        {TB_TYPE_DATETIME, "2024-03-01", "\"2024-03-01T00:00:00Z\"", 0},
        {TB_TYPE_JSON, "{\"a\": [1, true]}", "{\"a\":[1,true]}", 0},
        {TB_TYPE_STRING, "say \"hi\"", "\"say \\\"hi\\\"\"", 0},
        /* a value that does not fit its type */
        {TB_TYPE_INT, "abc", "\"abc\"", 1},
        {TB_TYPE_JSON, "{bad", "\"{bad\"", 1},
        /* found by the fuzzer: datetime text that is not MySQL's was
         * copied unescaped; it now goes the escaped string way */
        {TB_TYPE_DATETIME, "2024-03-05 10:\"0:00",
         "\"2024-03-05 10:\\\"0:00\"", 1},
        {TB_TYPE_DATETIME, "0000-0\x10-00", "\"0000-0\\u0010-00\"", 1},
    };
    apr_pool_t *p = tb_test_pool;
    apr_size_t i;
    int fallback;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *row = apr_pstrcat(p, tb_type_name(rows[i].type), " ",
                                      rows[i].text ? rows[i].text : "NULL",
                                      NULL);
        CHECK_STR_ROW(row, db_value(rows[i].type, rows[i].text, &fallback),
                      rows[i].json);
        CHECK_ROW(row, fallback == rows[i].fallback);
    }
}

static void client_values(void)
{
    static const struct {
        tb_type_e type;
        const char *json, *sql;
        int refused;
    } rows[] = {
        {TB_TYPE_INT, "42", "42", 0},
        {TB_TYPE_INT, "7.0", "7", 0},
        {TB_TYPE_INT, "7.5", NULL, 1},
        {TB_TYPE_INT, "\"abc\"", NULL, 1},
        {TB_TYPE_INT, "null", NULL, 0},
        {TB_TYPE_NUMBER, "0.1", "0.1", 0},
        {TB_TYPE_NUMBER, "100", "100", 0},
        {TB_TYPE_BOOLEAN, "true", "1", 0},
        {TB_TYPE_BOOLEAN, "0", "0", 0},
        {TB_TYPE_BOOLEAN, "\"yes\"", NULL, 1},
        {TB_TYPE_DATE, "\"2024-03-05\"", "2024-03-05", 0},
        /* the day the user picked, not the UTC day */
        {TB_TYPE_DATE, "\"2024-03-05T00:00:00+02:00\"", "2024-03-05", 0},
        {TB_TYPE_DATE, "\"2024-02-30\"", NULL, 1},
        {TB_TYPE_DATETIME, "\"2024-03-05T10:30:00+01:00\"",
         "2024-03-05 09:30:00", 0},
        {TB_TYPE_JSON, "{\"a\": [1, 2]}", "{\"a\":[1,2]}", 0},
    };
    apr_pool_t *p = tb_test_pool;
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        tb_field_t f = field_of(rows[i].type);
        const char *row = apr_pstrcat(p, tb_type_name(rows[i].type), " ",
                                      rows[i].json, NULL);
        const char *msg, *sql = value_of(&f, rows[i].json, &msg);

        if (rows[i].refused) {
            CHECK_ROW(row, msg != NULL);
        }
        else {
            CHECK_STR_ROW(row, sql, rows[i].sql);
            CHECK_ROW(row, msg == NULL);
        }
    }
}

static void client_int_out_of_range(void)
{
    tb_field_t f = field_of(TB_TYPE_INT);
    const char *msg;

    f.has_min = f.has_max = 1;
    f.min = 0;
    f.max = 10;
    value_of(&f, "11", &msg);
    CHECK(msg != NULL && strstr(msg, "range"));
}

static void client_string_too_long(void)
{
    tb_field_t f = field_of(TB_TYPE_STRING);
    const char *msg;

    f.max_length = 2;
    value_of(&f, "\"abc\"", &msg);
    CHECK(msg != NULL);
}

/* What the database gives back against what the module wrote. */
static void stored_equals_written(void)
{
    CHECK(tb_db_value_equal(TB_TYPE_NUMBER, "100", "100.00"));
    CHECK(!tb_db_value_equal(TB_TYPE_NUMBER, "100.5", "100.00"));
    CHECK(tb_db_value_equal(TB_TYPE_DATETIME, "2024-03-05 09:30:00",
                            "2024-03-05 09:30:00"));
    CHECK(tb_db_value_equal(TB_TYPE_DATETIME, "2024-03-05 09:30:00.500",
                            "2024-03-05 09:30:00.5"));
    CHECK(!tb_db_value_equal(TB_TYPE_DATETIME, "2024-03-05 09:30:00.123",
                             "2024-03-05 09:30:00"));
    CHECK(tb_db_value_equal(TB_TYPE_JSON, "{\"a\":1}", "{\"a\": 1}"));
    CHECK(tb_db_value_equal(TB_TYPE_INT, NULL, NULL));
    CHECK(!tb_db_value_equal(TB_TYPE_STRING, "x", NULL));
}

const tb_case_t tb_convert_cases[] = {
    {"int64 text is digits with an optional minus", int64_text},
    {"JSON numbers are RFC 8259's", json_numbers},
    {"dates are real days as YYYY-MM-DD", dates},
    {"the client's datetimes become UTC, other text is refused",
     datetimes_to_utc},
    {"database text becomes typed JSON, a misfit an escaped string",
     db_text_to_json},
    {"client values become SQL text by type, misfits are refused",
     client_values},
    {"a client int outside min=/max= is refused as out of range",
     client_int_out_of_range},
    {"a client string longer than maxlength= is refused",
     client_string_too_long},
    {"stored values equal what was written, as the database spells them",
     stored_equals_written},
    {NULL, NULL}
};
