/* tb_answer.c: the JSON answers that the core writes (tb_answer.h).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <stdio.h>
#include <string.h>

#include "tb_answer.h"
#include "tb_convert.h"

static void write_invalid_entry(tb_jw_t *jw, const tb_invalid_t *inv)
{
    tb_jw_cstr(jw, "{\"store\":");
    tb_jw_string(jw, inv->store, strlen(inv->store));
    tb_jw_raw(jw, ",", 1);
    tb_jw_cstr(jw, inv->key_json);
    tb_jw_cstr(jw, ",\"field\":");
    if (inv->field) {
        tb_jw_string(jw, inv->field, strlen(inv->field));
    }
    else {
        tb_jw_cstr(jw, "null");
    }
    tb_jw_cstr(jw, ",\"message\":");
    tb_jw_string(jw, inv->message, strlen(inv->message));
    tb_jw_raw(jw, "}", 1);
}

void tb_sync_write_invalid(tb_jw_t *jw, const tb_sync_t *sync)
{
    int i;

    tb_jw_cstr(jw, "\"errors\":[");
    for (i = 0; i < sync->invalid->nelts; i++) {
        if (i > 0) {
            tb_jw_raw(jw, ",", 1);
        }
        write_invalid_entry(jw, &APR_ARRAY_IDX(sync->invalid, i,
                                               tb_invalid_t));
    }
    tb_jw_raw(jw, "]", 1);
}

void tb_write_error(tb_jw_t *jw, const char *type, const char *request_id,
                    const char *message, int status,
                    const tb_sync_t *invalid)
{
    char code[32];

    tb_jw_cstr(jw, "{\"success\":false,\"type\":");
    tb_jw_string(jw, type, strlen(type));
    if (request_id) {
        tb_jw_cstr(jw, ",\"requestId\":");
        tb_jw_cstr(jw, request_id);
    }
    tb_jw_cstr(jw, ",\"message\":");
    tb_jw_string(jw, message, strlen(message));
    snprintf(code, sizeof(code), ",\"code\":%d", status);
    tb_jw_cstr(jw, code);
    if (invalid && invalid->invalid->nelts > 0) {
        tb_jw_raw(jw, ",", 1);
        tb_sync_write_invalid(jw, invalid);
    }
    tb_jw_raw(jw, "}", 1);
}

void tb_sync_write_response(tb_jw_t *jw, const tb_sync_t *sync)
{
    int i, j;

    tb_jw_cstr(jw, "{\"success\":true,\"type\":\"sync\"");
    if (sync->request_id) {
        tb_jw_cstr(jw, ",\"requestId\":");
        tb_jw_cstr(jw, sync->request_id);
    }
    if (sync->revision) {
        tb_jw_cstr(jw, ",\"revision\":");
        tb_jw_cstr(jw, sync->revision);
    }
    for (i = 0; i < sync->changes->nelts; i++) {
        const tb_changes_t *ch = APR_ARRAY_IDX(sync->changes, i,
                                               const tb_changes_t *);
        if (!ch->rows_out->nelts && !ch->removed_out->nelts) {
            continue;
        }
        tb_jw_raw(jw, ",", 1);
        tb_jw_cstr(jw, ch->store->json_key);
        if (ch->store->is_project) {
            /* a plain object: the fields the server changed, or all of
             * it when others changed it (its one row; a row that went
             * away is not reported, the project cannot be removed) */
            tb_jw_cstr(jw, ch->rows_out->nelts
                           ? APR_ARRAY_IDX(ch->rows_out,
                                           ch->rows_out->nelts - 1,
                                           const char *)
                           : "{}");
            continue;
        }
        tb_jw_raw(jw, "{", 1);
        if (ch->rows_out->nelts) {
            tb_jw_cstr(jw, "\"rows\":[");
            for (j = 0; j < ch->rows_out->nelts; j++) {
                if (j > 0) {
                    tb_jw_raw(jw, ",", 1);
                }
                tb_jw_cstr(jw, APR_ARRAY_IDX(ch->rows_out, j, const char *));
            }
            tb_jw_raw(jw, "]", 1);
        }
        if (ch->removed_out->nelts) {
            tb_jw_cstr(jw, ch->rows_out->nelts ? ",\"removed\":["
                                               : "\"removed\":[");
            for (j = 0; j < ch->removed_out->nelts; j++) {
                tb_jw_cstr(jw, j > 0 ? ",{\"id\":" : "{\"id\":");
                tb_write_db_value(jw, ch->store->id_field.type,
                                  APR_ARRAY_IDX(ch->removed_out, j,
                                                const char *));
                tb_jw_raw(jw, "}", 1);
            }
            tb_jw_raw(jw, "]", 1);
        }
        tb_jw_raw(jw, "}", 1);
    }
    tb_jw_raw(jw, "}", 1);
}
