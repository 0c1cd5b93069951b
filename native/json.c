/*
 * json.c - the JSON reader (recursive descent into an arena) and the output buffer of the
 * spawn helper. Strict RFC 8259 syntax: what Node's JSON.stringify produces always parses;
 * anything else is rejected with a short reason, never a crash.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 32
#define CHUNK_MIN 4096

struct json_chunk {
    json_chunk *next;
    size_t used;
    size_t size;
    max_align_t data[];
};

void *json_alloc(json_arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    json_chunk *c = a->chunks;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = malloc(sizeof(json_chunk) + size);
        if (c == NULL)
            return NULL;
        c->next = a->chunks;
        c->used = 0;
        c->size = size;
        a->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

void json_arena_free(json_arena *a)
{
    json_chunk *c = a->chunks;
    while (c != NULL) {
        json_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
}

typedef struct {
    json_arena *arena;
    const char *p;
    const char *end;
    const char *error;
    int depth;
} parser;

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static json_value *new_value(parser *ps, json_type t)
{
    json_value *v = json_alloc(ps->arena, sizeof *v);
    if (v == NULL) {
        ps->error = "out of memory";
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = t;
    return v;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *dst, unsigned cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string starting at the opening quote into arena memory. */
static int parse_string(parser *ps, char **out, size_t *out_len)
{
    const char *s = ++ps->p; /* after the quote */
    const char *q = s;
    while (q < ps->end && *q != '"') {
        if (*q == '\\')
            q++;
        q++;
    }
    if (q >= ps->end) {
        ps->error = "unterminated string";
        return 0;
    }
    /* Decoded text is never longer than the escaped text. */
    char *dst = json_alloc(ps->arena, (size_t)(q - s) + 1);
    if (dst == NULL) {
        ps->error = "out of memory";
        return 0;
    }
    size_t n = 0;
    const char *p = s;
    while (p < q) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20) {
            ps->error = "control character in string";
            return 0;
        }
        if (c != '\\') {
            dst[n++] = (char)c;
            p++;
            continue;
        }
        p++;
        switch (*p) {
        case '"': dst[n++] = '"'; p++; break;
        case '\\': dst[n++] = '\\'; p++; break;
        case '/': dst[n++] = '/'; p++; break;
        case 'b': dst[n++] = '\b'; p++; break;
        case 'f': dst[n++] = '\f'; p++; break;
        case 'n': dst[n++] = '\n'; p++; break;
        case 'r': dst[n++] = '\r'; p++; break;
        case 't': dst[n++] = '\t'; p++; break;
        case 'u': {
            unsigned cp, lo;
            if (q - p < 5 || !hex4(p + 1, &cp)) {
                ps->error = "bad \\u escape";
                return 0;
            }
            p += 5;
            if (cp >= 0xD800 && cp <= 0xDBFF && q - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                hex4(p + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* lone surrogate: JSON.stringify escapes them; map to U+FFFD */
            }
            n += put_utf8(dst + n, cp);
            break;
        }
        default:
            ps->error = "bad escape in string";
            return 0;
        }
    }
    dst[n] = '\0';
    *out = dst;
    *out_len = n;
    ps->p = q + 1;
    return 1;
}

static json_value *parse_value(parser *ps);

/* Skips one or more digits from *p; 0 if there is none. */
static int skip_digits(const char **p, const char *end)
{
    const char *q = *p;
    while (q < end && *q >= '0' && *q <= '9')
        q++;
    if (q == *p)
        return 0;
    *p = q;
    return 1;
}

static json_value *parse_number(parser *ps)
{
    const char *start = ps->p;
    const char *p = start;
    if (p < ps->end && *p == '-')
        p++;
    int ok;
    if (p < ps->end && *p == '0')
        ok = (p++, 1); /* no leading zeros */
    else
        ok = skip_digits(&p, ps->end);
    if (ok && p < ps->end && *p == '.') {
        p++;
        ok = skip_digits(&p, ps->end);
    }
    if (ok && p < ps->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        ok = skip_digits(&p, ps->end);
    }
    if (!ok) {
        ps->error = "bad number";
        return NULL;
    }
    char tmp[64];
    size_t len = (size_t)(p - start);
    if (len >= sizeof tmp) {
        ps->error = "number too long";
        return NULL;
    }
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    json_value *v = new_value(ps, JSON_NUMBER);
    if (v == NULL)
        return NULL;
    v->u.number = strtod(tmp, NULL);
    ps->p = p;
    return v;
}

static int literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return 0;
    ps->p += n;
    return 1;
}

static json_value *parse_list(parser *ps, int is_object)
{
    json_value *v = new_value(ps, is_object ? JSON_OBJECT : JSON_ARRAY);
    if (v == NULL)
        return NULL;
    char close = is_object ? '}' : ']';
    json_value **tail = &v->u.list.first;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        if (is_object) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"') {
                ps->error = "expected member name";
                return NULL;
            }
            if (!parse_string(ps, &key, &key_len))
                return NULL;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                ps->error = "expected ':'";
                return NULL;
            }
            ps->p++;
        }
        json_value *item = parse_value(ps);
        if (item == NULL)
            return NULL;
        item->key = key;
        *tail = item;
        tail = &item->next;
        v->u.list.count++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return v;
        }
        ps->error = is_object ? "expected ',' or '}'" : "expected ',' or ']'";
        return NULL;
    }
}

static json_value *parse_value(parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end) {
        ps->error = "unexpected end of message";
        return NULL;
    }
    char c = *ps->p;
    if (c == '{' || c == '[') {
        if (++ps->depth > JSON_MAX_DEPTH) {
            ps->error = "nested too deeply";
            return NULL;
        }
        json_value *v = parse_list(ps, c == '{');
        ps->depth--;
        return v;
    }
    if (c == '"') {
        json_value *v = new_value(ps, JSON_STRING);
        if (v == NULL || !parse_string(ps, &v->u.string.chars, &v->u.string.len))
            return NULL;
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(ps);
    int is_true = literal(ps, "true");
    if (is_true || literal(ps, "false")) {
        json_value *v = new_value(ps, JSON_BOOL);
        if (v != NULL)
            v->u.boolean = is_true;
        return v;
    }
    if (literal(ps, "null"))
        return new_value(ps, JSON_NULL);
    ps->error = "unexpected character";
    return NULL;
}

json_value *json_parse(json_arena *arena, const char *text, size_t len, const char **error)
{
    parser ps = { arena, text, text + len, NULL, 0 };
    json_value *v = parse_value(&ps);
    if (v != NULL) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            ps.error = "trailing characters";
            v = NULL;
        }
    }
    if (v == NULL && error != NULL)
        *error = ps.error != NULL ? ps.error : "invalid JSON";
    return v;
}

const json_value *json_get(const json_value *obj, const char *key)
{
    if (obj == NULL || obj->type != JSON_OBJECT)
        return NULL;
    /* JSON.parse keeps the last of duplicate names; do the same. */
    const json_value *found = NULL;
    for (const json_value *m = obj->u.list.first; m != NULL; m = m->next)
        if (strcmp(m->key, key) == 0)
            found = m;
    return found;
}

int json_integer(const json_value *v, long long min, long long max, long long *out)
{
    if (v == NULL || v->type != JSON_NUMBER)
        return 0;
    double d = v->u.number;
    /* 2^63 as a double; every integral double below it converts exactly. */
    if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return 0;
    long long n = (long long)d;
    if (n < min || n > max)
        return 0;
    *out = n;
    return 1;
}

int json_buf_append(json_buf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2)
                return 0;
            cap *= 2;
        }
        char *data = realloc(b->data, cap);
        if (data == NULL)
            return 0;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 1;
}

int json_buf_printf(json_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return 0;
    if ((size_t)n < sizeof small)
        return json_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        return 0;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int ok = json_buf_append(b, big, (size_t)n);
    free(big);
    return ok;
}

int json_buf_string(json_buf *b, const char *s)
{
    if (!json_buf_append(b, "\"", 1))
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            if (!json_buf_append(b, esc, 2))
                return 0;
        } else if (*p < 0x20 || *p >= 0x80) {
            /* Non-ASCII bytes are escaped one by one so the output is valid even when the
             * input is not UTF-8 (messages may quote a path). */
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            if (!json_buf_append(b, esc, 6))
                return 0;
        } else if (!json_buf_append(b, (const char *)p, 1)) {
            return 0;
        }
    }
    return json_buf_append(b, "\"", 1);
}

void json_buf_consume(json_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
