/*
 * json-fuzz.c - a bounded fuzz run of the helper's JSON reader and writer (native/json.c), to be
 * compiled with -fsanitize=address,undefined (test/unit/json-fuzz.test.ts does): any memory
 * error or undefined behaviour aborts the run.
 *
 *   json-fuzz SEED ITERATIONS SECONDS
 *
 * Inputs are requests of the shapes the daemon sends, mutated from a seeded xorshift generator
 * (byte flips, insertions of JSON punctuation and escapes, deletions, truncations, splices,
 * deep nesting), each parsed into an arena that is walked and freed. Two properties are checked
 * besides the sanitizers: whatever parses, parses to a value whose walk stays in bounds; and any
 * NUL-free string written by json_buf_string reads back equal. Prints "inputs N" and exits 0, or
 * names the failing input and exits 1. Not part of the helper, which is built from the .c files
 * of native/ itself.
 */
#include "../json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long long rng_state;

static unsigned long long next_random(void)
{
    unsigned long long x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t below(size_t n)
{
    return n == 0 ? 0 : (size_t)(next_random() % n);
}

static const char *const seeds[] = {
    "{\"cmd\":\"spawn\",\"id\":1,\"path\":\"/bin/true\",\"argv\":[\"true\"],\"env\":[\"PATH=/bin\"],\"uid\":null,"
    "\"gid\":65534,\"groups\":[1,2],\"umask\":18,\"nice\":-5,\"rlimits\":{\"as\":1048576,\"cpu\":\"unlimited\"},"
    "\"keepalive\":true,\"linger\":5,\"pre\":\"6f6b\"}",
    "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":{\"cmd\":\"listen\",\"lid\":3}}",
    "{\"cmd\":\"batch\",\"list\":[{\"cmd\":\"reply\",\"cid\":5,\"hex\":\"0d0a\"},{\"cmd\":\"drop\",\"cid\":6},"
    "{\"cmd\":\"kill\",\"pid\":42,\"sig\":15}]}",
    "{\"cmd\":\"ping\",\"id\":9007199254740991}",
    "{\"cmd\":\"ubind\",\"lid\":7,\"path\":\"/run/tsinetd/d\\u00e9.sock\"}",
    "{\"cmd\":\"batch\",\"list\":[{\"cmd\":\"watch\",\"lid\":7},{\"cmd\":\"drain\",\"lid\":7},"
    "{\"cmd\":\"spawn\",\"id\":2,\"lid\":7,\"path\":\"/bin/dd\",\"argv\":[\"dd\"],\"env\":[],\"uid\":null,"
    "\"gid\":null,\"groups\":null,\"umask\":18,\"nice\":null,\"rlimits\":{}},{\"cmd\":\"unlisten\",\"lid\":7}]}",
    "[1.5e300,-0,0.0001,true,false,null,\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\"]",
};

static const char *const tokens[] = { "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "\\udc00", "1e999",
                                      "-", "0", ".", "e+", "null", "true", "\x00", "\xff", "\xc3\xa9", " ", "\n" };

static size_t mutate(char *buf, size_t len, size_t cap)
{
    int rounds = 1 + (int)below(8);
    for (int r = 0; r < rounds; r++) {
        switch (below(7)) {
        case 0: /* flip a byte */
            if (len > 0)
                buf[below(len)] ^= (char)(1u << below(8));
            break;
        case 1: { /* insert a token */
            const char *t = tokens[below(sizeof tokens / sizeof tokens[0])];
            size_t tl = t[0] == '\0' ? 1 : strlen(t), at = below(len + 1);
            if (len + tl <= cap) {
                memmove(buf + at + tl, buf + at, len - at);
                memcpy(buf + at, t, tl);
                len += tl;
            }
            break;
        }
        case 2: { /* delete a span */
            size_t at = below(len + 1), n = below(len - at + 1);
            memmove(buf + at, buf + at + n, len - at - n);
            len -= n;
            break;
        }
        case 3: /* truncate */
            len = below(len + 1);
            break;
        case 4: { /* duplicate a span (splice) */
            size_t at = below(len + 1), n = below(len - at + 1);
            if (len + n <= cap) {
                memmove(buf + at + n, buf + at, len - at);
                memcpy(buf + at + n, buf + at, n);
                len += n;
            }
            break;
        }
        case 5: { /* nest deeply */
            size_t depth = below(80);
            if (len + 2 * depth <= cap) {
                memmove(buf + depth, buf, len);
                memset(buf, '[', depth);
                memset(buf + depth + len, ']', depth);
                len += 2 * depth;
            }
            break;
        }
        default: /* a random byte anywhere */
            if (len < cap) {
                size_t at = below(len + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (char)next_random();
                len++;
            }
        }
    }
    return len;
}

/* Visits every value, reading each field the helper reads. */
static size_t walk(const json_value *v, int depth)
{
    size_t n = 1;
    long long i;
    if (depth > 64)
        abort(); /* deeper than the reader allows */
    switch (v->type) {
    case JSON_STRING:
        if (v->u.string.chars[v->u.string.len] != '\0')
            abort();
        break;
    case JSON_NUMBER:
        (void)json_integer(v, -9007199254740991LL, 9007199254740991LL, &i);
        break;
    case JSON_ARRAY:
    case JSON_OBJECT: {
        size_t count = 0;
        for (const json_value *e = v->u.list.first; e != NULL; e = e->next, count++) {
            if (v->type == JSON_OBJECT && (e->key == NULL || json_get(v, e->key) == NULL))
                abort();
            n += walk(e, depth + 1);
        }
        if (count != v->u.list.count)
            abort();
        break;
    }
    default:
        break;
    }
    return n;
}

/* A random NUL-free string written by json_buf_string reads back as written: ASCII unchanged,
 * each other byte as the character of that number (json_buf_string escapes it as \u00XX so
 * that the output is valid JSON even when the text is not UTF-8), in UTF-8. */
static int round_trip(void)
{
    char s[256];
    size_t n = below(sizeof s - 1);
    for (size_t k = 0; k < n; k++) {
        do
            s[k] = (char)next_random();
        while (s[k] == '\0');
    }
    s[n] = '\0';
    json_buf b = { NULL, 0, 0 };
    if (!json_buf_string(&b, s))
        return 1; /* out of memory: not a finding */
    json_arena a = { NULL };
    const char *err = NULL;
    json_value *v = json_parse(&a, b.data, b.len, &err);
    char want[2 * sizeof s];
    size_t wl = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x80) {
            want[wl++] = (char)c;
        } else {
            want[wl++] = (char)(0xc0 | c >> 6);
            want[wl++] = (char)(0x80 | (c & 0x3f));
        }
    }
    int ok = v != NULL && v->type == JSON_STRING && v->u.string.len == wl && memcmp(v->u.string.chars, want, wl) == 0;
    json_arena_free(&a);
    free(b.data);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: json-fuzz SEED ITERATIONS SECONDS\n");
        return 2;
    }
    rng_state = strtoull(argv[1], NULL, 10) * 2654435761ULL + 88172645463325252ULL;
    long iterations = strtol(argv[2], NULL, 10);
    time_t stop = time(NULL) + strtol(argv[3], NULL, 10);
    enum { CAP = 8192 };
    static char buf[CAP];
    long done = 0, parsed = 0;
    for (; done < iterations && (done % 256 != 0 || time(NULL) < stop); done++) {
        const char *seed = seeds[below(sizeof seeds / sizeof seeds[0])];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        len = mutate(buf, len, CAP);
        /* Exactly len bytes, in a block of their own: a read past the end is caught. */
        char *input = malloc(len == 0 ? 1 : len);
        if (input == NULL)
            return 1;
        memcpy(input, buf, len);
        json_arena a = { NULL };
        const char *err = NULL;
        json_value *v = json_parse(&a, input, len, &err);
        if (v != NULL) {
            parsed++;
            (void)walk(v, 0);
        } else if (err == NULL) {
            fprintf(stderr, "json-fuzz: refused without a reason: %.*s\n", (int)len, input);
            return 1;
        }
        json_arena_free(&a);
        free(input);
        if (!round_trip()) {
            fprintf(stderr, "json-fuzz: a string did not read back equal (iteration %ld)\n", done);
            return 1;
        }
    }
    printf("inputs %ld parsed %ld\n", done, parsed);
    return 0;
}
