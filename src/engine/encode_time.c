/* SPDX-License-Identifier: MIT */
/*
 * encode_time.c: dates, times, timestamps and intervals as text, without allocation.
 *
 * Days since 1970-01-01 become a proleptic Gregorian (year, month, day) with the civil-from-days
 * algorithm (H. Hinnant), in 64-bit arithmetic so every DuckDB date and timestamp converts.
 * Two spellings:
 *   ISO (JSON):   2019-04-01T13:05:00.5, TIMESTAMPTZ as UTC with Z, TIME WITH TIME ZONE with
 *                 +02:00; years outside 0..9999 as a sign and at least 6 digits (+010000,
 *                 -000043, as JavaScript's Date does); INTERVAL as an ISO-8601 duration.
 *   DuckDB text:  2019-04-01 13:05:00.5, TIMESTAMPTZ as UTC with +00, BC years as
 *                 "0044-03-15 (BC)", INTERVAL as "1 year 2 months 3 days 04:05:06.5".
 * Fractional seconds print only when non-zero, without trailing zeros (as DuckDB does).
 * Infinite dates and timestamps print as infinity and -infinity.
 */
#include "engine/encode_int.h"

#define DAY_SECONDS 86400
#define MICROS_PER_HOUR INT64_C(3600000000)
#define MICROS_PER_MINUTE INT64_C(60000000)
#define MICROS_PER_SECOND INT64_C(1000000)
/* TIME WITH TIME ZONE: micros in the top 40 bits, (MAX_OFFSET - offset seconds) below. */
#define TZ_OFFSET_BITS 24
#define TZ_MAX_OFFSET (16 * 60 * 60 - 1)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void two(char *p, unsigned v);

/* v with at least `width` digits (zero-padded). */
static size_t pad_u64(char *p, uint64_t v, size_t width)
{
    size_t digits = 1, o = 0;
    if (width == 4 && v <= 9999) { /* the common year */
        two(p, (unsigned)(v / 100));
        two(p + 2, (unsigned)(v % 100));
        return 4;
    }
    for (uint64_t t = v; t >= 10; t /= 10)
        digits++;
    while (digits + o < width)
        p[o++] = '0';
    return o + qk_fmt_u64(p + o, v);
}

static void two(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* ".ddd" with `digits` digits of frac, trailing zeros removed; nothing for 0. */
static size_t put_frac(char *p, uint64_t frac, int digits)
{
    int n = digits;
    if (frac == 0) return 0;
    while (frac % 10 == 0)
        frac /= 10, n--;
    p[0] = '.';
    for (int i = n; i > 0; i--) {
        p[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return (size_t)n + 1;
}

/* Year, month and day; *bc set for DuckDB text of years <= 0 (caller appends " (BC)"). */
static size_t put_ymd(char *p, int64_t days, bool iso, bool *bc)
{
    int64_t y;
    unsigned m, d;
    size_t o = 0;
    civil_from_days(days, &y, &m, &d);
    *bc = false;
    if (iso && (y < 0 || y > 9999)) {
        p[o++] = y < 0 ? '-' : '+';
        o += pad_u64(p + o, y < 0 ? (uint64_t)(-y) : (uint64_t)y, 6);
    } else if (!iso && y <= 0) {
        *bc = true;
        o += pad_u64(p, (uint64_t)(1 - y), 4);
    } else {
        o += pad_u64(p, (uint64_t)y, 4);
    }
    p[o] = '-';
    two(p + o + 1, m);
    p[o + 3] = '-';
    two(p + o + 4, d);
    return o + 6;
}

static size_t put_infinity(char *p, bool negative)
{
    if (negative) {
        memcpy(p, "-infinity", 9);
        return 9;
    }
    memcpy(p, "infinity", 8);
    return 8;
}

size_t qk_fmt_date(char *p, int32_t days, bool iso)
{
    bool bc;
    size_t n;
    if (days == INT32_MAX || days == -INT32_MAX) return put_infinity(p, days < 0);
    n = put_ymd(p, days, iso, &bc);
    if (bc) {
        memcpy(p + n, " (BC)", 5);
        n += 5;
    }
    return n;
}

/* hh:mm:ss of a second-of-day count (hours may reach 24 for TIME '24:00:00'). */
static size_t put_hms(char *p, uint64_t secs)
{
    two(p, (unsigned)(secs / 3600));
    p[2] = ':';
    two(p + 3, (unsigned)(secs / 60 % 60));
    p[5] = ':';
    two(p + 6, (unsigned)(secs % 60));
    return 8;
}

size_t qk_fmt_time(char *p, int64_t micros)
{
    uint64_t u = micros < 0 ? 0 : (uint64_t)micros;
    size_t n = put_hms(p, u / 1000000);
    return n + put_frac(p + n, u % 1000000, 6);
}

size_t qk_fmt_time_ns(char *p, int64_t nanos)
{
    uint64_t u = nanos < 0 ? 0 : (uint64_t)nanos;
    size_t n = put_hms(p, u / 1000000000);
    return n + put_frac(p + n, u % 1000000000, 9);
}

size_t qk_fmt_time_tz(char *p, uint64_t bits, bool iso)
{
    int64_t micros = (int64_t)(bits >> TZ_OFFSET_BITS);
    int32_t off = TZ_MAX_OFFSET - (int32_t)(bits & ((UINT64_C(1) << TZ_OFFSET_BITS) - 1));
    size_t n = qk_fmt_time(p, micros);
    unsigned a = (unsigned)(off < 0 ? -off : off);
    p[n++] = off < 0 ? '-' : '+';
    two(p + n, a / 3600);
    n += 2;
    if (iso || a % 3600 != 0) {
        p[n] = ':';
        two(p + n + 1, a / 60 % 60);
        n += 3;
    }
    if (a % 60 != 0) {
        p[n] = ':';
        two(p + n + 1, a % 60);
        n += 3;
    }
    return n;
}

size_t qk_fmt_timestamp(char *p, int64_t v, int64_t unit, bool tz, bool iso)
{
    int64_t per_day = unit * DAY_SECONDS, days, rem;
    size_t n;
    bool bc;
    int digits = unit == 1000 ? 3 : unit == 1000000 ? 6 : unit == 1000000000 ? 9 : 0;
    if (v == INT64_MAX || v == -INT64_MAX) return put_infinity(p, v < 0);
    days = floor_div(v, per_day);
    rem = v - days * per_day;
    n = put_ymd(p, days, iso, &bc);
    if (bc) {
        memcpy(p + n, " (BC)", 5);
        n += 5;
    }
    p[n++] = iso ? 'T' : ' ';
    n += put_hms(p + n, (uint64_t)(rem / unit));
    n += put_frac(p + n, (uint64_t)(rem % unit), digits);
    if (tz) {
        memcpy(p + n, iso ? "Z" : "+00", iso ? 1 : 3);
        n += iso ? 1 : 3;
    }
    return n;
}

/* "<n> <unit>[s]" for DuckDB's interval text, with a separating space when not first. */
static size_t put_part(char *p, size_t o, int32_t v, const char *unit)
{
    size_t n = strlen(unit);
    if (o) p[o++] = ' ';
    o += qk_fmt_i64(p + o, v);
    p[o++] = ' ';
    memcpy(p + o, unit, n);
    o += n;
    if (v != 1 && v != -1) p[o++] = 's';
    return o;
}

static size_t interval_text(char *p, int32_t months, int32_t days, int64_t micros)
{
    size_t o = 0;
    uint64_t u;
    if (months / 12) o = put_part(p, o, months / 12, "year");
    if (months % 12) o = put_part(p, o, months % 12, "month");
    if (days) o = put_part(p, o, days, "day");
    if (micros == 0) {
        if (o == 0) memcpy(p, "00:00:00", (o = 8));
        return o;
    }
    if (o) p[o++] = ' ';
    if (micros < 0) p[o++] = '-';
    u = micros < 0 ? 0 - (uint64_t)micros : (uint64_t)micros;
    o += pad_u64(p + o, u / (uint64_t)MICROS_PER_HOUR, 2);
    p[o++] = ':';
    two(p + o, (unsigned)(u / (uint64_t)MICROS_PER_MINUTE % 60));
    p[o + 2] = ':';
    two(p + o + 3, (unsigned)(u / (uint64_t)MICROS_PER_SECOND % 60));
    o += 5;
    return o + put_frac(p + o, u % (uint64_t)MICROS_PER_SECOND, 6);
}

/* One ISO-8601 duration component: [-]<v><designator>. */
static size_t iso_part(char *p, bool neg, uint64_t v, char designator)
{
    size_t o = 0;
    if (neg) p[o++] = '-';
    o += qk_fmt_u64(p + o, v);
    p[o++] = designator;
    return o;
}

static size_t interval_iso(char *p, int32_t months, int32_t days, int64_t micros)
{
    size_t o = 1;
    uint64_t u = micros < 0 ? 0 - (uint64_t)micros : (uint64_t)micros, secs;
    bool neg = micros < 0;
    int32_t y = months / 12, m = months % 12;
    p[0] = 'P';
    if (months == 0 && days == 0 && micros == 0) return memcpy(p, "PT0S", 4), 4;
    if (y) o += iso_part(p + o, y < 0, y < 0 ? 0 - (uint64_t)y : (uint64_t)y, 'Y');
    if (m) o += iso_part(p + o, m < 0, (uint64_t)(m < 0 ? -m : m), 'M');
    if (days) o += iso_part(p + o, days < 0, days < 0 ? 0 - (uint64_t)days : (uint64_t)days, 'D');
    if (u == 0) return o;
    p[o++] = 'T';
    if (u / (uint64_t)MICROS_PER_HOUR)
        o += iso_part(p + o, neg, u / (uint64_t)MICROS_PER_HOUR, 'H');
    if (u / (uint64_t)MICROS_PER_MINUTE % 60)
        o += iso_part(p + o, neg, u / (uint64_t)MICROS_PER_MINUTE % 60, 'M');
    secs = u % (uint64_t)MICROS_PER_MINUTE;
    if (secs) {
        if (neg) p[o++] = '-';
        o += qk_fmt_u64(p + o, secs / (uint64_t)MICROS_PER_SECOND);
        o += put_frac(p + o, secs % (uint64_t)MICROS_PER_SECOND, 6);
        p[o++] = 'S';
    }
    return o;
}

size_t qk_fmt_interval(char *p, int32_t months, int32_t days, int64_t micros, bool iso)
{
    return iso ? interval_iso(p, months, days, micros) : interval_text(p, months, days, micros);
}
