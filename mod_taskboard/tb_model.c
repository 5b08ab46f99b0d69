/* tb_model.c: the store and field mapping declared in httpd.conf.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "tb_model.h"
#include "tb_convert.h"
#include "tb_json.h"

/* MySQL's own limit for table and column names. */
#define TB_IDENTIFIER_MAX 64

int tb_is_identifier(const char *s)
{
    apr_size_t i;

    if (!s || !(apr_isalpha(s[0]) || s[0] == '_')) {
        return 0;
    }
    for (i = 1; s[i]; i++) {
        if (!(apr_isalnum(s[i]) || s[i] == '_') || i >= TB_IDENTIFIER_MAX) {
            return 0;
        }
    }
    /* apr_isalpha follows the C locale, so no byte >= 0x80 gets here. */
    return 1;
}

static const struct {
    const char *name;
    tb_type_e type;
} type_names[] = {
    {"int", TB_TYPE_INT},
    {"number", TB_TYPE_NUMBER},
    {"string", TB_TYPE_STRING},
    {"text", TB_TYPE_TEXT},
    {"boolean", TB_TYPE_BOOLEAN},
    {"date", TB_TYPE_DATE},
    {"datetime", TB_TYPE_DATETIME},
    {"json", TB_TYPE_JSON},
};

int tb_type_parse(const char *name, tb_type_e *type)
{
    apr_size_t i;

    for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (strcmp(name, type_names[i].name) == 0) {
            *type = type_names[i].type;
            return 0;
        }
    }
    return -1;
}

const char *tb_type_name(tb_type_e type)
{
    apr_size_t i;

    for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (type_names[i].type == type) {
            return type_names[i].name;
        }
    }
    return "?";
}

const char *tb_type_names(void)
{
    return "int|number|string|text|boolean|date|datetime|json";
}

/* Checks the value against the field's type only. */
static const char *check_type(apr_pool_t *pool, const tb_field_t *field,
                              const char *value)
{
    json_error_t err;
    json_t *json;

    switch (field->type) {
    case TB_TYPE_INT:
        if (!tb_parse_int64(value, NULL)) {
            return apr_psprintf(pool, "'%s' is not a valid int", value);
        }
        break;
    case TB_TYPE_NUMBER:
        if (!tb_is_json_number(value)) {
            return apr_psprintf(pool, "'%s' is not a valid number", value);
        }
        break;
    case TB_TYPE_BOOLEAN:
        if (strcmp(value, "true") && strcmp(value, "false")
            && strcmp(value, "1") && strcmp(value, "0")) {
            return apr_psprintf(pool, "'%s' is not a valid boolean "
                                "(use true|false|1|0)", value);
        }
        break;
    case TB_TYPE_DATE:
        if (!tb_date_normalize(pool, value)) {
            return apr_psprintf(pool, "'%s' is not a valid date "
                                "(use YYYY-MM-DD)", value);
        }
        break;
    case TB_TYPE_DATETIME:
        if (!tb_datetime_to_utc_sql(pool, value)) {
            return apr_psprintf(pool, "'%s' is not a valid datetime "
                                "(use ISO 8601, e.g. 2024-03-05T10:30:00Z)",
                                value);
        }
        break;
    case TB_TYPE_JSON:
        json = json_loads(value, JSON_DECODE_ANY, &err);
        if (!json) {
            return apr_psprintf(pool, "'%s' is not valid JSON: %s", value,
                                err.text);
        }
        json_decref(json);
        break;
    case TB_TYPE_STRING:
    case TB_TYPE_TEXT:
        if (tb_utf8_length(value, strlen(value)) < 0) {
            return "the value is not valid UTF-8";
        }
        break;
    }
    return NULL;
}

const char *tb_field_check_text(apr_pool_t *pool, const tb_field_t *field,
                                const char *value)
{
    const char *msg = check_type(pool, field, value);
    int i;

    if (msg) {
        return msg;
    }
    if ((field->type == TB_TYPE_INT || field->type == TB_TYPE_NUMBER)
        && ((field->has_min && strtod(value, NULL) < field->min)
            || (field->has_max && strtod(value, NULL) > field->max))) {
        char min[40] = "", max[40] = "";
        /* snprintf, not APR's %g, which writes 0.5 as ".5" */
        if (field->has_min) {
            snprintf(min, sizeof(min), " from %.15g", field->min);
        }
        if (field->has_max) {
            snprintf(max, sizeof(max), " to %.15g", field->max);
        }
        return apr_psprintf(pool, "%s is outside the allowed range%s%s",
                            value, min, max);
    }
    if (field->max_length > 0
        && tb_utf8_length(value, strlen(value)) > field->max_length) {
        return apr_psprintf(pool, "the value is longer than %" APR_INT64_T_FMT
                            " characters", field->max_length);
    }
    if (field->allowed) {
        for (i = 0; i < field->allowed->nelts; i++) {
            if (strcmp(APR_ARRAY_IDX(field->allowed, i, const char *),
                       value) == 0) {
                return NULL;
            }
        }
        return apr_psprintf(pool, "'%s' is not one of the allowed values "
                            "(%s)", value,
                            apr_array_pstrcat(pool, field->allowed, ','));
    }
    return NULL;
}

tb_store_t *tb_store_create(apr_pool_t *pool, const char *store_id)
{
    tb_store_t *store = apr_pcalloc(pool, sizeof(*store));

    store->id = apr_pstrdup(pool, store_id);
    store->json_key = apr_pstrcat(pool, tb_json_quote(pool, store_id), ":",
                                  NULL);
    store->table = store->id;
    store->id_kind = TB_ID_AUTO;
    store->id_field.name = "id";
    store->id_field.column = "id";
    store->id_field.type = TB_TYPE_INT;
    store->id_field.readonly = 1;
    store->id_field.json_key = "\"id\":";
    store->fields = apr_array_make(pool, 8, sizeof(tb_field_t *));
    store->order = apr_array_make(pool, 2, sizeof(tb_order_t));
    return store;
}

const tb_store_t *tb_store_find(const apr_array_header_t *stores,
                                const char *store_id)
{
    int i;

    for (i = 0; i < stores->nelts; i++) {
        const tb_store_t *s = APR_ARRAY_IDX(stores, i, const tb_store_t *);
        if (strcmp(s->id, store_id) == 0) {
            return s;
        }
    }
    return NULL;
}

tb_field_t *tb_store_field(const tb_store_t *store, const char *name)
{
    int i;

    for (i = 0; i < store->fields->nelts; i++) {
        tb_field_t *field = APR_ARRAY_IDX(store->fields, i, tb_field_t *);
        if (strcmp(field->name, name) == 0
            || tb_field_alias(field, name) >= 0) {
            return field;
        }
    }
    return NULL;
}

int tb_field_alias(const tb_field_t *field, const char *name)
{
    int i;

    for (i = 0; field->aliases && i < field->aliases->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(field->aliases, i, const char *),
                   name) == 0) {
            return i;
        }
    }
    return -1;
}

const tb_field_t *tb_store_field_by_column(const tb_store_t *store,
                                           const char *column)
{
    int i;

    /* MySQL column names are case-insensitive. */
    if (strcasecmp(store->id_field.column, column) == 0) {
        return &store->id_field;
    }
    for (i = 0; i < store->fields->nelts; i++) {
        tb_field_t *field = APR_ARRAY_IDX(store->fields, i, tb_field_t *);
        if (strcasecmp(field->column, column) == 0) {
            return field;
        }
    }
    return NULL;
}

const char *tb_scope_value(apr_pool_t *pool, const tb_scope_t *scope,
                           const char *raw, const char **msg)
{
    apr_size_t len = raw ? strlen(raw) : 0;
    apr_int64_t number;
    const char *p;

    if (!raw || !len) {
        *msg = "the request names no board";
        return NULL;
    }
    if (scope->type == TB_TYPE_INT) {
        /* "007" and "7" must be one board everywhere, and "7abc" none:
         * MySQL would compare it as 7. */
        if (len > 20 || !tb_parse_int64(raw, &number)) {
            *msg = "the board must be a whole number";
            return NULL;
        }
        return apr_psprintf(pool, "%" APR_INT64_T_FMT, number);
    }
    if (len > TB_SCOPE_MAX_LENGTH * 4
        || tb_utf8_length(raw, len) < 0
        || tb_utf8_length(raw, len) > TB_SCOPE_MAX_LENGTH) {
        *msg = apr_psprintf(pool, "the board must be valid UTF-8 of at most "
                            "%d characters", TB_SCOPE_MAX_LENGTH);
        return NULL;
    }
    for (p = raw; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *msg = "the board must not contain control characters";
            return NULL;
        }
    }
    return raw;
}
