/* tb_answer.h: the JSON answers that the core writes.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_answer.h
 * @brief The error answer of every handler, and a sync's answers (its
 *        success, and the "errors" of a 422), written to a tb_jw sink;
 *        independent of httpd.
 */

#ifndef TB_ANSWER_H
#define TB_ANSWER_H

#include "tb_json.h"
#include "tb_sync.h"

/** Writes the success response of an applied sync. */
void tb_sync_write_response(tb_jw_t *jw, const tb_sync_t *sync);

/** Writes the 422 "errors" array. */
void tb_sync_write_invalid(tb_jw_t *jw, const tb_sync_t *sync);

/**
 * Writes the error response of a load or sync:
 * {"success":false,"type":..,"requestId":..,"message":..,"code":status}
 * and the "errors" of a 422 when invalid holds any.
 * @param request_id the requestId as JSON text, or NULL
 */
void tb_write_error(tb_jw_t *jw, const char *type, const char *request_id,
                    const char *message, int status,
                    const tb_sync_t *invalid);

#endif /* TB_ANSWER_H */
