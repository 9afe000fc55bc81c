/* SPDX-License-Identifier: MIT */
/*
 * encode_num.c: numbers as text, exactly and without allocation (except BIGNUM).
 *
 * Integers use a two-digits-at-a-time loop; 128-bit values are split into base-10^9 pieces by
 * long division over 32-bit limbs. DECIMAL is its unscaled integer with the point placed
 * `scale` digits from the right (always exactly `scale` fraction digits, like DuckDB).
 * Doubles are printed as the shortest decimal that reads back as the same double, in the
 * layout DuckDB (and Python's repr) use: fixed notation for 1e-4 <= |v| < 1e16 with at least
 * one fraction digit ("3.0"), otherwise d.ddde[+-]XX ("1e+20", "1.5e-07"). The hot path
 * handles values with at most 6 fraction digits without any printf (see fast_double); the
 * rest try 15, 16, then 17 significant digits and keep the first that reads back exactly (any
 * decimal of at most 15 digits survives that trip, so the first hit is the shortest; subnormals,
 * which hold fewer digits, start the search at 1). FLOAT works alike with 6 to 9 digits.
 */
#include "engine/encode_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char dig2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                           "34353637383940414243444546474849505152535455565758596061626364656667"
                           "6869707172737475767778798081828384858687888990919293949596979899";

static const uint64_t pow10u[20] = {1u,
                                    10u,
                                    100u,
                                    1000u,
                                    10000u,
                                    100000u,
                                    1000000u,
                                    10000000u,
                                    100000000u,
                                    1000000000u,
                                    10000000000u,
                                    100000000000u,
                                    1000000000000u,
                                    10000000000000u,
                                    100000000000000u,
                                    1000000000000000u,
                                    10000000000000000u,
                                    100000000000000000u,
                                    1000000000000000000u,
                                    10000000000000000000u};

size_t qk_fmt_u64(char *p, uint64_t v)
{
    size_t n = 1;
    char *q;
    while (n < 20 && v >= pow10u[n])
        n++;
    q = p + n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        q -= 2;
        q[0] = dig2[2 * r];
        q[1] = dig2[2 * r + 1];
    }
    if (v >= 10) {
        q[-2] = dig2[2 * v];
        q[-1] = dig2[2 * v + 1];
    } else {
        q[-1] = (char)('0' + v);
    }
    return n;
}

size_t qk_fmt_i64(char *p, int64_t v)
{
    if (v >= 0) return qk_fmt_u64(p, (uint64_t)v);
    *p = '-';
    return 1 + qk_fmt_u64(p + 1, 0 - (uint64_t)v);
}

/* Divide the 128-bit value in limbs (most significant first) by d; return the remainder. */
static uint32_t div_limbs(uint32_t l[4], uint32_t d)
{
    uint64_t rem = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t cur = (rem << 32) | l[i];
        l[i] = (uint32_t)(cur / d);
        rem = cur % d;
    }
    return (uint32_t)rem;
}

size_t qk_fmt_u128(char *p, uint64_t hi, uint64_t lo)
{
    uint32_t l[4] = {(uint32_t)(hi >> 32), (uint32_t)hi, (uint32_t)(lo >> 32), (uint32_t)lo};
    uint32_t part[5];
    int np = 0;
    size_t n;
    if (hi == 0) return qk_fmt_u64(p, lo);
    while (l[0] | l[1] | l[2] | l[3])
        part[np++] = div_limbs(l, 1000000000u);
    n = qk_fmt_u64(p, part[--np]);
    while (np > 0) { /* every lower piece has exactly 9 digits */
        uint32_t v = part[--np];
        for (int i = 8; i >= 0; i--) {
            p[n + (size_t)i] = (char)('0' + v % 10);
            v /= 10;
        }
        n += 9;
    }
    return n;
}

size_t qk_fmt_i128(char *p, int64_t hi, uint64_t lo)
{
    uint64_t uh = (uint64_t)hi, ul = lo;
    if (hi >= 0) return qk_fmt_u128(p, uh, ul);
    ul = ~ul + 1; /* two's complement negation over both halves */
    uh = ~uh + (ul == 0);
    *p = '-';
    return 1 + qk_fmt_u128(p + 1, uh, ul);
}

size_t qk_fmt_decimal(char *p, int64_t hi, uint64_t lo, unsigned scale)
{
    char digits[48];
    size_t n, o = 0;
    bool neg = hi < 0;
    n = qk_fmt_i128(digits, hi, lo);
    if (neg) {
        p[o++] = '-';
        memmove(digits, digits + 1, --n);
    }
    if (scale == 0) {
        memcpy(p + o, digits, n);
        return o + n;
    }
    if (n <= scale) {
        p[o++] = '0';
        p[o++] = '.';
        memset(p + o, '0', scale - n);
        o += scale - n;
        memcpy(p + o, digits, n);
        return o + n;
    }
    memcpy(p + o, digits, n - scale);
    o += n - scale;
    p[o++] = '.';
    memcpy(p + o, digits + n - scale, scale);
    return o + scale;
}

/* Lay out significant digits d (n of them, no trailing zeros) with decimal exponent x
 * (value = d[0].d[1..] * 10^x) the way DuckDB prints doubles. */
static size_t layout_digits(char *p, const char *d, size_t n, int x)
{
    size_t o = 0;
    if (x >= -4 && x < 16) {
        if (x < 0) {
            memcpy(p, "0.", 2);
            o = 2;
            memset(p + o, '0', (size_t)(-x - 1));
            o += (size_t)(-x - 1);
            memcpy(p + o, d, n);
            return o + n;
        }
        size_t ilen = (size_t)x + 1;
        if (n <= ilen) {
            memcpy(p, d, n);
            memset(p + n, '0', ilen - n);
            memcpy(p + ilen, ".0", 2);
            return ilen + 2;
        }
        memcpy(p, d, ilen);
        p[ilen] = '.';
        memcpy(p + ilen + 1, d + ilen, n - ilen);
        return n + 1;
    }
    p[o++] = d[0];
    if (n > 1) {
        p[o++] = '.';
        memcpy(p + o, d + 1, n - 1);
        o += n - 1;
    }
    p[o++] = 'e';
    p[o++] = x < 0 ? '-' : '+';
    if (x < 0) x = -x;
    if (x < 10) p[o++] = '0';
    return o + qk_fmt_u64(p + o, (uint64_t)x);
}

/* Parse "%.*e" output ("d.ddde+XX") into digits without trailing zeros and an exponent. */
static size_t split_sci(const char *s, char *d, int *x)
{
    size_t n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9') d[n++] = *s;
    *x = *s == 'e' ? (int)strtol(s + 1, NULL, 10) : 0;
    while (n > 1 && d[n - 1] == '0')
        n--;
    return n;
}

static const double pow10tab[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};

/*
 * v > 0. If v has a decimal form with at most 6 fraction digits that reads back as v, print
 * it and return its length; else 0. For v < 2^32 the spacing of doubles is below 1e-6, so at
 * most one such decimal lies within v's rounding interval: the one found is then the shortest
 * (and the one DuckDB prints). m / 10^k is exact IEEE division of two exact values, so it
 * equals v exactly when the decimal m/10^k reads back as v.
 */
static size_t fast_double(char *p, double v)
{
    size_t n;
    if (v < 1e-4 || v >= 9007199254740992.0) return 0;
    if (v >= 1.0 && v == (double)(uint64_t)v) {
        n = qk_fmt_u64(p, (uint64_t)v);
        memcpy(p + n, ".0", 2);
        return n + 2;
    }
    if (v >= 4294967296.0) return 0;
    for (int k = 1; k <= 6; k++) {
        double m = v * pow10tab[k];
        uint64_t mi = (uint64_t)m;
        if ((double)mi != m || (double)mi / pow10tab[k] != v) continue;
        char d[24];
        size_t nd = qk_fmt_u64(d, mi), ip;
        size_t kk = (size_t)k;
        while (kk > 1 && d[nd - 1] == '0')
            nd--, kk--; /* v*10^(k-1) may have missed by a rounding */
        if (nd > kk) {
            ip = nd - kk;
            memcpy(p, d, ip);
            p[ip] = '.';
            memcpy(p + ip + 1, d + ip, kk);
            return nd + 1;
        }
        memcpy(p, "0.", 2);
        memset(p + 2, '0', kk - nd);
        memcpy(p + 2 + kk - nd, d, nd);
        return 2 + kk;
    }
    return 0;
}

/* Does the decimal text s read back as v (as a double, or as a float)? */
static bool reads_back(const char *s, double v, bool is_float)
{
    return is_float ? strtof(s, NULL) == (float)v : strtod(s, NULL) == v;
}

/* v's exact decimal expansion has exactly p + 1 significant digits, the last a 5: the two
 * p-digit neighbours are equally close. */
static bool is_tie(double v, int p)
{
    char buf[80], *e;
    int n = 0;
    snprintf(buf, sizeof buf, "%.*e", p + 40, v); /* exact for floats */
    e = strchr(buf, 'e');
    for (char *q = buf; q < e; q++) {
        if (*q < '0' || *q > '9') continue;
        n++;
        if (n == p + 1 && *q != '5') return false;
        if (n > p + 1 && *q != '0') return false;
    }
    return true;
}

/* For a float v: does the decimal s lie exactly halfway to a neighbouring float? (Halfway
 * points have 25 significant bits, so a double holds them exactly.) */
static bool on_float_boundary(const char *s, float v)
{
    double r = strtod(s, NULL);
    double up = ((double)v + (double)nextafterf(v, INFINITY)) / 2;
    double down = ((double)v + (double)nextafterf(v, -INFINITY)) / 2;
    return r == up || r == down;
}

/* The p-digit decimal next above (dir > 0) or below the one in buf, both as "d.ddde+X". */
static void neighbour(const char *buf, int dir, char *out, size_t cap)
{
    char d[24];
    int x;
    size_t n = 0;
    uint64_t m = 0, top = 1;
    for (const char *q = buf; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') d[n++] = *q;
    x = (int)strtol(strchr(buf, 'e') + 1, NULL, 10);
    for (size_t i = 0; i < n; i++)
        m = m * 10 + (uint64_t)(d[i] - '0'), top *= 10;
    m = dir > 0 ? m + 1 : m - 1;
    if (m == top)
        m /= 10, x++;
    else if (m < top / 10)
        m = m * 10 + 9, x--;
    n = qk_fmt_u64(d, m);
    snprintf(out, cap, "%c.%.*se%d", d[0], (int)n - 1, d + 1, x);
}

/*
 * The shortest decimal that reads back as v (> 0, finite), as significant digits (no trailing
 * zeros) and a decimal exponent, chosen as DuckDB (fmt's Grisu with a Dragon4 fallback) does:
 * - the correctly rounded p-digit decimal is the candidate, except just above a power of two,
 *   where the interval that reads back is lopsided and a neighbour may fit when it does not;
 * - FLOAT: when the candidate sits exactly on the interval's edge, or v lies exactly halfway
 *   between two candidates, Grisu gives up and the fallback prints the shortest digits of v
 *   as a double (so 244471.375f prints as 244471.375, not 244471.38).
 */
static size_t shortest_digits(double v, bool is_float, char *d, int *x)
{
    char buf[64], alt[64];
    int lo = is_float ? (v < FLT_MIN ? 1 : 6) : (v < DBL_MIN ? 1 : 15), hi = is_float ? 9 : 17, e2;
    bool pow2 = frexp(v, &e2) == 0.5;
    for (int p = lo; p <= hi; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        if (reads_back(buf, v, is_float)) {
            if (is_float && (is_tie(v, p) || on_float_boundary(buf, (float)v)))
                return shortest_digits(v, false, d, x);
            break;
        }
        if (!pow2 || p == hi) continue;
        for (int dir = 1; dir >= -1; dir -= 2) {
            neighbour(buf, dir, alt, sizeof alt);
            if (reads_back(alt, v, is_float) && !(is_float && on_float_boundary(alt, (float)v)))
                return split_sci(alt, d, x);
        }
    }
    return split_sci(buf, d, x);
}

static size_t fmt_binary(char *p, double v, bool is_float)
{
    char d[24];
    size_t o = 0, n;
    int x;
    if (isnan(v)) return memcpy(p, "nan", 3), 3;
    if (isinf(v)) return v < 0 ? (memcpy(p, "-inf", 4), 4) : (memcpy(p, "inf", 3), 3);
    if (signbit(v)) {
        p[o++] = '-';
        v = -v;
    }
    if (v == 0) return memcpy(p + o, "0.0", 3), o + 3;
    if (!is_float && (n = fast_double(p + o, v)) != 0) return o + n;
    n = shortest_digits(v, is_float, d, &x);
    return o + layout_digits(p + o, d, n, x);
}

size_t qk_fmt_double(char *p, double v)
{
    return fmt_binary(p, v, false);
}

size_t qk_fmt_float(char *p, float v)
{
    return fmt_binary(p, v, true);
}

/* Emit base-10^9 pieces (least significant first) as decimal digits. */
static int put_pieces(qk_buf *b, const uint32_t *part, size_t np, bool negative)
{
    char tmp[16];
    int rc = negative ? qk_buf_addc(b, '-') : 0;
    if (!rc) rc = qk_buf_add(b, tmp, qk_fmt_u64(tmp, part[np - 1]));
    for (size_t i = np - 1; i-- > 0 && !rc;) {
        uint32_t v = part[i];
        for (int j = 8; j >= 0; j--) {
            tmp[j] = (char)('0' + v % 10);
            v /= 10;
        }
        rc = qk_buf_add(b, tmp, 9);
    }
    return rc;
}

/* DuckDB's BIGNUM layout: a 3-byte header whose top bit is 1 for a positive number, then the
 * magnitude in big-endian bytes; a negative number has every byte (header too) inverted. */
int qk_fmt_bignum(qk_buf *b, const uint8_t *blob, size_t size)
{
    size_t n, nl, np = 0, first = 0;
    const uint8_t *be;
    uint8_t flip;
    uint32_t *l = NULL, *part = NULL;
    int rc;
    if (size < 3) return qk_buf_addc(b, '0');
    flip = (blob[0] & 0x80) ? 0 : 0xFF;
    be = blob + 3;
    n = size - 3;
    while (n > 0 && (uint8_t)(be[0] ^ flip) == 0)
        be++, n--; /* leading zero bytes */
    if (n == 0) return qk_buf_addc(b, '0');
    nl = (n + 3) / 4;
    l = calloc(nl, sizeof *l);
    part = calloc(nl * 32 / 29 + 2, sizeof *part); /* 10^9 > 2^29 */
    if (!l || !part) {
        rc = QK_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) { /* big-endian bytes into most-significant-first limbs */
        size_t bit = (n - 1 - i) * 8;
        l[nl - 1 - bit / 32] |= (uint32_t)(uint8_t)(be[i] ^ flip) << (bit % 32);
    }
    while (first < nl) {
        uint64_t rem = 0;
        for (size_t i = first; i < nl; i++) {
            uint64_t cur = (rem << 32) | l[i];
            l[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        part[np++] = (uint32_t)rem;
        while (first < nl && l[first] == 0)
            first++;
    }
    rc = put_pieces(b, part, np, flip != 0);
out:
    free(l);
    free(part);
    return rc;
}
