/*
 * json.h - a small JSON reader and writer for the spawn helper's side of Node's IPC channel.
 *
 * Node's "json" IPC serialization sends one JSON.stringify()'d value per line. The helper
 * only needs to read objects of a known shape and to write a few flat objects, so this is
 * deliberately small: values are parsed into an arena that is freed after each message.
 */
#ifndef TSINETD_JSON_H
#define TSINETD_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    json_value *next;   /* next element of the enclosing array or object */
    const char *key;    /* member name when inside an object (NUL-terminated) */
    union {
        int boolean;
        double number;
        struct { char *chars; size_t len; } string;   /* NUL-terminated; len excludes the NUL */
        struct { json_value *first; size_t count; } list; /* array elements or object members */
    } u;
};

typedef struct json_chunk json_chunk;
typedef struct {
    json_chunk *chunks;
} json_arena;

/* Parses exactly one JSON value spanning text[0..len). Returns NULL with *error set on failure. */
json_value *json_parse(json_arena *arena, const char *text, size_t len, const char **error);

/* Allocates n bytes (suitably aligned) that live until json_arena_free; NULL when out of memory. */
void *json_alloc(json_arena *arena, size_t n);

/* Frees everything allocated on this arena. */
void json_arena_free(json_arena *arena);

/* Member `key` of an object, or NULL (also when obj is not an object). */
const json_value *json_get(const json_value *obj, const char *key);

/* True when v is a number holding an integer in [min, max]; the value goes to *out. */
int json_integer(const json_value *v, long long min, long long max, long long *out);

/* A growable byte buffer, used for the helper's outgoing messages. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} json_buf;

int json_buf_append(json_buf *b, const char *s, size_t n);
int json_buf_printf(json_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string (escaping quotes, backslashes and control characters). */
int json_buf_string(json_buf *b, const char *s);
/* Drops the first n bytes. */
void json_buf_consume(json_buf *b, size_t n);

#endif
