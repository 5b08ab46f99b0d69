/* tb_convert.h: values between the database's text and typed JSON.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_convert.h
 * @brief Type conversion between the database's text form of a value and
 *        its typed JSON form, independent of httpd.
 */

#ifndef TB_CONVERT_H
#define TB_CONVERT_H

#include <apr_pools.h>

#include "tb_model.h"
#include "tb_json.h"

/**
 * Writes a value that the database returned as text (NULL for SQL NULL)
 * as typed JSON: numbers as numbers, booleans as true/false, dates as
 * YYYY-MM-DD, datetimes as UTC ISO 8601 with Z, json as embedded JSON.
 * @return 0, or 1 when the text did not fit the type and was written in
 *         a fallback form (a string, or null), which the caller may log
 */
int tb_write_db_value(tb_jw_t *jw, tb_type_e type, const char *text);

/** 1 when s is a JSON number in full (no leading '+', no "NaN"). */
int tb_is_json_number(const char *s);

/** 1 when s is a decimal integer that fits a signed 64-bit value. */
int tb_parse_int64(const char *s, apr_int64_t *out);

/**
 * Parses a date "YYYY-MM-DD" (checked against the calendar) and returns
 * it in the same form, or NULL.
 */
const char *tb_date_normalize(apr_pool_t *pool, const char *s);

/**
 * Parses an ISO 8601 datetime as the client sends it
 * ("YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]]" with "Z", "+HH:MM",
 * "+HHMM" or no offset, which means UTC; a space may stand for the T)
 * and returns it in UTC as the database wants it,
 * "YYYY-MM-DD HH:MM:SS[.ffffff]", or NULL when it is not valid.
 */
const char *tb_datetime_to_utc_sql(apr_pool_t *pool, const char *s);

/**
 * Converts a client's JSON value for a field into the text that is bound
 * to the SQL statement (*sql = NULL for null), and checks it against the
 * field: type, date format, range, length and allowed values.
 * @return NULL, or a message for a person
 */
const char *tb_client_value(apr_pool_t *pool, const tb_field_t *field,
                            json_t *value, const char **sql);

/**
 * 1 when the value the database holds (its text form, NULL for NULL) is
 * the value the module wrote (tb_client_value's text): 100 and 100.00,
 * or the same JSON with other spacing, are equal.
 */
int tb_db_value_equal(tb_type_e type, const char *written,
                      const char *stored);

#endif /* TB_CONVERT_H */
