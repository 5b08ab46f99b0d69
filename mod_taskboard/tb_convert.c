/* tb_convert.c: values between the database's text and typed JSON.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "tb_convert.h"

int tb_is_json_number(const char *s)
{
    const char *p = s;

    if (*p == '-') {
        p++;
    }
    if (*p == '0') {
        p++;
    }
    else if (*p >= '1' && *p <= '9') {
        while (apr_isdigit(*p)) {
            p++;
        }
    }
    else {
        return 0;
    }
    if (*p == '.') {
        p++;
        if (!apr_isdigit(*p)) {
            return 0;
        }
        while (apr_isdigit(*p)) {
            p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        if (!apr_isdigit(*p)) {
            return 0;
        }
        while (apr_isdigit(*p)) {
            p++;
        }
    }
    return *p == '\0';
}

int tb_parse_int64(const char *s, apr_int64_t *out)
{
    char *end;
    apr_int64_t v;
    const char *p = (*s == '-') ? s + 1 : s;

    if (!apr_isdigit(*p)) {
        return 0;
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return 0;
    }
    if (out) {
        *out = v;
    }
    return 1;
}

/* Reads exactly n digits; returns -1 when they are not there. */
static int read_digits(const char **p, int n)
{
    int v = 0;

    while (n-- > 0) {
        if (!apr_isdigit(**p)) {
            return -1;
        }
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    return v;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return (month == 2 && leap) ? 29 : days[month - 1];
}

/* Parses YYYY-MM-DD at *p; advances *p.  Returns 0 on success. */
static int parse_ymd(const char **p, int *y, int *m, int *d)
{
    *y = read_digits(p, 4);
    if (*y < 1 || **p != '-') {
        return -1;
    }
    (*p)++;
    *m = read_digits(p, 2);
    if (*m < 1 || *m > 12 || **p != '-') {
        return -1;
    }
    (*p)++;
    *d = read_digits(p, 2);
    if (*d < 1 || *d > days_in_month(*y, *m)) {
        return -1;
    }
    return 0;
}

const char *tb_date_normalize(apr_pool_t *pool, const char *s)
{
    int y, m, d;
    const char *p = s;

    if (parse_ymd(&p, &y, &m, &d) != 0 || *p != '\0') {
        return NULL;
    }
    return apr_psprintf(pool, "%04d-%02d-%02d", y, m, d);
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back
 * (the civil calendar algorithms of H. Hinnant). */
static long days_from_civil(int y, int m, int d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    long era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

const char *tb_datetime_to_utc_sql(apr_pool_t *pool, const char *s)
{
    int y, m, d, hh = 0, mi = 0, ss = 0, off_h, off_m, sign;
    char frac[7] = "";
    const char *p = s;
    long minutes;

    if (parse_ymd(&p, &y, &m, &d) != 0) {
        return NULL;
    }
    if (*p == 'T' || *p == ' ') {
        p++;
        hh = read_digits(&p, 2);
        if (hh < 0 || hh > 23 || *p != ':') {
            return NULL;
        }
        p++;
        mi = read_digits(&p, 2);
        if (mi < 0 || mi > 59) {
            return NULL;
        }
        if (*p == ':') {
            p++;
            ss = read_digits(&p, 2);
            if (ss < 0 || ss > 59) {
                return NULL;
            }
            if (*p == '.') {
                int n = 0;
                p++;
                if (!apr_isdigit(*p)) {
                    return NULL;
                }
                while (apr_isdigit(*p)) {
                    if (n < 6) {
                        frac[n++] = *p;
                    }
                    p++;
                }
                frac[n] = '\0';
            }
        }
    }
    else if (*p != '\0') {
        return NULL;
    }

    /* The offset: none or Z is UTC, else move the time to UTC. */
    minutes = 0;
    if (*p == 'Z') {
        p++;
    }
    else if (*p == '+' || *p == '-') {
        sign = (*p == '-') ? -1 : 1;
        p++;
        off_h = read_digits(&p, 2);
        if (*p == ':') {
            p++;
        }
        off_m = read_digits(&p, 2);
        if (off_h < 0 || off_h > 23 || off_m < 0 || off_m > 59) {
            return NULL;
        }
        minutes = sign * (off_h * 60 + off_m);
    }
    if (*p != '\0') {
        return NULL;
    }
    if (minutes != 0) {
        long total = days_from_civil(y, m, d) * 1440L + hh * 60 + mi
                     - minutes;
        long days = (total >= 0) ? total / 1440 : -((-total + 1439) / 1440);
        long rest = total - days * 1440;

        civil_from_days(days, &y, &m, &d);
        hh = (int)(rest / 60);
        mi = (int)(rest % 60);
        if (y < 1 || y > 9999) {
            return NULL;
        }
    }
    return apr_psprintf(pool, "%04d-%02d-%02d %02d:%02d:%02d%s%s", y, m, d,
                        hh, mi, ss, frac[0] ? "." : "", frac);
}

/* Writes DATETIME/TIMESTAMP text "YYYY-MM-DD HH:MM:SS[.ffffff]" (or a bare
 * date) as "YYYY-MM-DDTHH:MM:SS[.fff]Z".  The values are UTC because the
 * connection runs with time_zone '+00:00' (see docs/configuration.md). */
/* 1 when s[from..to) are all digits. */
static int digits(const char *s, apr_size_t from, apr_size_t to)
{
    for (; from < to; from++) {
        if (!apr_isdigit(s[from])) {
            return 0;
        }
    }
    return 1;
}

static int write_datetime(tb_jw_t *jw, const char *text)
{
    char out[32];
    apr_size_t len = strlen(text), n;

    /* Only the shapes MySQL returns are copied unescaped; anything else
     * (a datetime field mapped onto a text column) goes the string way. */
    if (len < 10 || text[4] != '-' || text[7] != '-' || !digits(text, 0, 4)
        || !digits(text, 5, 7) || !digits(text, 8, 10)
        || (len > 10 && (len < 19 || text[13] != ':' || text[16] != ':'
                         || !digits(text, 11, 13) || !digits(text, 14, 16)
                         || !digits(text, 17, 19)
                         || (len > 19 && (text[19] != '.'
                                          || !digits(text, 20, len)))))) {
        return -1;
    }
    if (strncmp(text, "0000-00-00", 10) == 0) {
        tb_jw_raw(jw, "null", 4);
        return 0;
    }
    out[0] = '"';
    memcpy(out + 1, text, 10);
    if (len == 10) {
        memcpy(out + 11, "T00:00:00", 9);
        n = 20;
    }
    else if (len >= 19 && (text[10] == ' ' || text[10] == 'T')) {
        out[11] = 'T';
        memcpy(out + 12, text + 11, 8);
        n = 20;
        if (len > 20 && text[19] == '.') {
            /* JavaScript dates carry milliseconds: keep three digits. */
            apr_size_t digits = len - 20 > 3 ? 3 : len - 20;
            out[n++] = '.';
            memcpy(out + n, text + 20, digits);
            n += digits;
        }
    }
    else {
        return -1;
    }
    out[n++] = 'Z';
    out[n++] = '"';
    tb_jw_raw(jw, out, n);
    return 0;
}

static int json_dump_sink(const char *buf, size_t size, void *data)
{
    tb_jw_raw((tb_jw_t *)data, buf, size);
    return ((tb_jw_t *)data)->failed ? -1 : 0;
}

int tb_write_db_value(tb_jw_t *jw, tb_type_e type, const char *text)
{
    if (text == NULL) {
        tb_jw_raw(jw, "null", 4);
        return 0;
    }
    switch (type) {
    case TB_TYPE_INT:
    case TB_TYPE_NUMBER:
        if (tb_is_json_number(text)) {
            tb_jw_cstr(jw, text);
            return 0;
        }
        break;
    case TB_TYPE_BOOLEAN:
        /* TINYINT(1) and BIT come back as digits; anything but 0 is set. */
        if (tb_is_json_number(text)) {
            if (strtod(text, NULL) != 0.0) {
                tb_jw_raw(jw, "true", 4);
            }
            else {
                tb_jw_raw(jw, "false", 5);
            }
            return 0;
        }
        break;
    case TB_TYPE_DATE:
        if (strlen(text) >= 10 && text[4] == '-' && text[7] == '-') {
            if (strncmp(text, "0000-00-00", 10) == 0) {
                tb_jw_raw(jw, "null", 4);
            }
            else {
                tb_jw_string(jw, text, 10);
            }
            return 0;
        }
        break;
    case TB_TYPE_DATETIME:
        if (write_datetime(jw, text) == 0) {
            return 0;
        }
        break;
    case TB_TYPE_JSON: {
        json_error_t err;
        json_t *value = json_loads(text, JSON_DECODE_ANY, &err);
        if (value) {
            json_dump_callback(value, json_dump_sink, jw,
                               JSON_COMPACT | JSON_ENCODE_ANY);
            json_decref(value);
            return 0;
        }
        break;
    }
    case TB_TYPE_STRING:
    case TB_TYPE_TEXT:
        tb_jw_string(jw, text, strlen(text));
        return 0;
    }
    /* The column holds something the mapping did not expect: send it as
     * a string rather than invalid JSON, and let the caller log it. */
    tb_jw_string(jw, text, strlen(text));
    return 1;
}

/* The shortest decimal text that reads back as the same double.  The C
 * library's %g, not APR's: apr_psprintf writes 0.1 as ".1", which is
 * not JSON. */
static const char *number_text(apr_pool_t *pool, double v)
{
    char buf[40];

    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v) {
        snprintf(buf, sizeof(buf), "%.17g", v);
    }
    return apr_pstrdup(pool, buf);
}

const char *tb_client_value(apr_pool_t *pool, const tb_field_t *field,
                            json_t *value, const char **sql)
{
    const char *text = NULL, *s;
    double d;

    *sql = NULL;
    if (!value || json_is_null(value)) {
        return NULL;
    }
    switch (field->type) {
    case TB_TYPE_INT:
        if (json_is_integer(value)) {
            text = apr_psprintf(pool, "%" APR_INT64_T_FMT,
                                (apr_int64_t)json_integer_value(value));
        }
        else if (json_is_real(value)
                 && (d = json_real_value(value)) >= -9.2e18 && d <= 9.2e18
                 && d == (double)(apr_int64_t)d) {
            text = apr_psprintf(pool, "%" APR_INT64_T_FMT, (apr_int64_t)d);
        }
        else {
            return "must be a whole number";
        }
        break;
    case TB_TYPE_NUMBER:
        if (json_is_integer(value)) {
            text = apr_psprintf(pool, "%" APR_INT64_T_FMT,
                                (apr_int64_t)json_integer_value(value));
        }
        else if (json_is_real(value)) {
            text = number_text(pool, json_real_value(value));
        }
        else {
            return "must be a number";
        }
        break;
    case TB_TYPE_BOOLEAN:
        if (json_is_boolean(value)) {
            text = json_is_true(value) ? "1" : "0";
        }
        else if (json_is_integer(value)
                 && (json_integer_value(value) == 0
                     || json_integer_value(value) == 1)) {
            text = json_integer_value(value) ? "1" : "0";
        }
        else {
            return "must be true or false";
        }
        break;
    case TB_TYPE_STRING:
    case TB_TYPE_TEXT:
        if (json_is_string(value)) {
            text = json_string_value(value);
        }
        else if (json_is_number(value)) {
            text = tb_json_encode(pool, value);
        }
        else {
            return "must be a string";
        }
        break;
    case TB_TYPE_DATE:
        /* A date field keeps the calendar day the user picked, whatever
         * time and offset the client added to it. */
        s = json_is_string(value) ? json_string_value(value) : NULL;
        if (!s || strlen(s) < 10 || !tb_datetime_to_utc_sql(pool, s)
            || !(text = tb_date_normalize(pool, apr_pstrndup(pool, s, 10)))) {
            return "must be a date (YYYY-MM-DD)";
        }
        break;
    case TB_TYPE_DATETIME:
        s = json_is_string(value) ? json_string_value(value) : NULL;
        if (!s || !(text = tb_datetime_to_utc_sql(pool, s))) {
            return "must be a date and time in ISO 8601 "
                   "(e.g. 2024-03-05T10:30:00Z)";
        }
        break;
    case TB_TYPE_JSON:
        text = tb_json_encode(pool, value);
        if (!text) {
            return "cannot be stored as JSON";
        }
        break;
    }
    s = tb_field_check_text(pool, field, text);
    if (s) {
        return s;
    }
    *sql = text;
    return NULL;
}

/* "YYYY-MM-DD HH:MM:SS[.fff]" without trailing zeros in the fraction. */
static const char *datetime_key(char *buf, apr_size_t size, const char *s)
{
    apr_size_t len = strlen(s);

    if (len >= size) {
        return s;
    }
    memcpy(buf, s, len + 1);
    if (len >= 10) {
        buf[10] = ' ';
    }
    if (strchr(buf, '.')) {
        while (len > 0 && buf[len - 1] == '0') {
            buf[--len] = '\0';
        }
        if (len > 0 && buf[len - 1] == '.') {
            buf[--len] = '\0';
        }
    }
    return buf;
}

int tb_db_value_equal(tb_type_e type, const char *written,
                      const char *stored)
{
    char a[40], b[40];

    if (!written || !stored) {
        return written == stored;
    }
    switch (type) {
    case TB_TYPE_INT:
    case TB_TYPE_NUMBER:
    case TB_TYPE_BOOLEAN:
        return strtod(written, NULL) == strtod(stored, NULL);
    case TB_TYPE_DATE:
        return strncmp(written, stored, 10) == 0;
    case TB_TYPE_DATETIME:
        return strcmp(datetime_key(a, sizeof(a), written),
                      datetime_key(b, sizeof(b), stored)) == 0;
    case TB_TYPE_JSON: {
        json_t *x = json_loads(written, JSON_DECODE_ANY, NULL);
        json_t *y = json_loads(stored, JSON_DECODE_ANY, NULL);
        int equal = x && y && json_equal(x, y);
        json_decref(x);
        json_decref(y);
        return equal;
    }
    case TB_TYPE_STRING:
    case TB_TYPE_TEXT:
        break;
    }
    return strcmp(written, stored) == 0;
}
