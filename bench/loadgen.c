/*
 * loadgen.c - the benchmark's closed-loop client (built by bench/run.mjs into bench/.cache/).
 *
 * C "slots" run at once on one epoll loop. A TCP slot connects, optionally sends a request and
 * half-closes, reads until the server closes, checks the reply, then starts over. A UDP slot
 * sends one datagram on its connected socket and waits for one reply; a reply that does not
 * come within the timeout counts as lost and the slot moves to a fresh socket, so a late reply
 * can never be taken for the next one.
 *
 * Every run is bounded twice: by time (-d) and by count (-n). When the time is up, exchanges
 * still in flight are abandoned (counted apart, neither ok nor failed). Latency runs from the
 * start of connect() (or send()) to EOF (or the reply).
 *
 * usage: loadgen -p PORT [-a ADDR] [-c CONC] [-d SECONDS] [-n MAX] [-u] [-s REQUEST]
 *                [-e EXPECT] [-m MIN_BYTES] [-t TIMEOUT_MS]
 *   REQUEST may contain \n, \r, \t and \\ escapes.
 * Output: one JSON object on stdout. Exit status 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEEP_BYTES 512          /* reply bytes kept per slot for the EXPECT check */
#define RETRY_DELAY_NS 5000000  /* a slot rests 5 ms after a failure: refusals must not spin */
#define TICK_MS 10              /* how often timeouts and resting slots are looked at */

enum phase { IDLE, CONNECTING, WAITING };
enum failure { F_CONNECT, F_RESET, F_TIMEOUT, F_SHORT, F_MISMATCH, F_KINDS };
static const char *const failure_names[F_KINDS] = { "connect", "reset", "timeout", "short", "mismatch" };

struct slot {
    int fd;
    enum phase phase;
    int64_t started_ns;
    int64_t rest_until_ns;
    long received;
    size_t kept;
    char reply[KEEP_BYTES];
};

struct config {
    struct sockaddr_in addr;
    int concurrency;
    double seconds;
    long max_exchanges;
    int udp;
    char *request;
    size_t request_len;
    const char *expect;
    long min_bytes;
    int64_t timeout_ns;
};

struct tally {
    long started, ok, abandoned;
    long failed[F_KINDS];
    float *latency_us;
    long latencies, latency_cap;
    char sample[128];
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void record_latency(struct tally *t, int64_t ns) {
    if (t->latencies == t->latency_cap) {
        t->latency_cap = t->latency_cap ? t->latency_cap * 2 : 1 << 16;
        t->latency_us = realloc(t->latency_us, (size_t)t->latency_cap * sizeof *t->latency_us);
        if (!t->latency_us) { perror("loadgen: realloc"); exit(1); }
    }
    t->latency_us[t->latencies++] = (float)(ns / 1000.0);
}

static void drop_socket(int ep, struct slot *s) {
    if (s->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    s->phase = IDLE;
}

static void fail(struct tally *t, int ep, struct slot *s, enum failure why) {
    t->failed[why]++;
    drop_socket(ep, s);
    s->rest_until_ns = now_ns() + RETRY_DELAY_NS;
}

/* The exchange ended normally (EOF on TCP, a datagram on UDP): judge the reply. */
static void finish(const struct config *cf, struct tally *t, int ep, struct slot *s, int64_t now) {
    if (s->received < cf->min_bytes) { fail(t, ep, s, F_SHORT); return; }
    if (cf->expect) {
        s->reply[s->kept < KEEP_BYTES ? s->kept : KEEP_BYTES - 1] = '\0';
        if (!strstr(s->reply, cf->expect)) { fail(t, ep, s, F_MISMATCH); return; }
    }
    t->ok++;
    record_latency(t, now - s->started_ns);
    if (!t->sample[0] && s->kept) {
        size_t n = s->kept < sizeof t->sample - 1 ? s->kept : sizeof t->sample - 1;
        memcpy(t->sample, s->reply, n);
        t->sample[n] = '\0';
    }
    if (cf->udp) {
        s->phase = IDLE; /* keep the socket: the next datagram goes out on it */
    } else {
        drop_socket(ep, s);
    }
}

static void begin(const struct config *cf, struct tally *t, int ep, struct slot *s) {
    t->started++;
    s->received = 0;
    s->kept = 0;
    s->started_ns = now_ns();
    if (cf->udp && s->fd >= 0) {
        if (send(s->fd, cf->request, cf->request_len, 0) < 0) { fail(t, ep, s, F_CONNECT); return; }
        s->phase = WAITING;
        return;
    }
    int fd = socket(AF_INET, (cf->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { t->failed[F_CONNECT]++; s->rest_until_ns = now_ns() + RETRY_DELAY_NS; return; }
    s->fd = fd;
    int r = connect(fd, (const struct sockaddr *)&cf->addr, sizeof cf->addr);
    struct epoll_event ev = { .data.ptr = s };
    if (cf->udp) {
        if (r < 0 || send(fd, cf->request, cf->request_len, 0) < 0) { fail(t, ep, s, F_CONNECT); return; }
        s->phase = WAITING;
        ev.events = EPOLLIN;
    } else {
        if (r < 0 && errno != EINPROGRESS) { fail(t, ep, s, F_CONNECT); return; }
        s->phase = CONNECTING;
        ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    }
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) fail(t, ep, s, F_CONNECT);
}

static void on_connected(const struct config *cf, struct tally *t, int ep, struct slot *s) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) { fail(t, ep, s, F_CONNECT); return; }
    if (cf->request_len) {
        /* A request line fits in an empty socket buffer: one write is enough. */
        ssize_t w = write(s->fd, cf->request, cf->request_len);
        if (w != (ssize_t)cf->request_len) { fail(t, ep, s, F_RESET); return; }
        shutdown(s->fd, SHUT_WR);
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = s };
    epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
    s->phase = WAITING;
}

static void on_readable(const struct config *cf, struct tally *t, int ep, struct slot *s) {
    char buf[16384];
    for (;;) {
        ssize_t n = read(s->fd, buf, sizeof buf);
        if (n > 0) {
            if (s->kept < KEEP_BYTES - 1) {
                size_t room = KEEP_BYTES - 1 - s->kept;
                size_t c = (size_t)n < room ? (size_t)n : room;
                memcpy(s->reply + s->kept, buf, c);
                s->kept += c;
            }
            s->received += n;
            if (cf->udp) { finish(cf, t, ep, s, now_ns()); return; }
            continue;
        }
        if (n == 0) { finish(cf, t, ep, s, now_ns()); return; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        fail(t, ep, s, errno == ECONNREFUSED ? F_CONNECT : F_RESET);
        return;
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double percentile_ms(const float *sorted, long n, double p) {
    if (n == 0) return 0;
    long i = (long)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1] / 1000.0;
}

static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static char *unescape(const char *in, size_t *len) {
    char *out = malloc(strlen(in) + 1), *o = out;
    if (!out) exit(1);
    for (; *in; in++) {
        if (*in != '\\' || !in[1]) { *o++ = *in; continue; }
        in++;
        *o++ = *in == 'n' ? '\n' : *in == 'r' ? '\r' : *in == 't' ? '\t' : *in;
    }
    *len = (size_t)(o - out);
    return out;
}

static void usage(void) {
    fputs("usage: loadgen -p PORT [-a ADDR] [-c CONC] [-d SECONDS] [-n MAX] [-u] [-s REQUEST]\n"
          "               [-e EXPECT] [-m MIN_BYTES] [-t TIMEOUT_MS]\n", stderr);
    exit(2);
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    struct config cf = { .concurrency = 1, .seconds = 3, .max_exchanges = 5000000, .min_bytes = 1,
                         .timeout_ns = 5000000000LL };
    const char *addr = "127.0.0.1";
    int port = 0, opt;
    while ((opt = getopt(argc, argv, "p:a:c:d:n:us:e:m:t:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'a': addr = optarg; break;
        case 'c': cf.concurrency = atoi(optarg); break;
        case 'd': cf.seconds = atof(optarg); break;
        case 'n': cf.max_exchanges = atol(optarg); break;
        case 'u': cf.udp = 1; break;
        case 's': cf.request = unescape(optarg, &cf.request_len); break;
        case 'e': cf.expect = optarg; break;
        case 'm': cf.min_bytes = atol(optarg); break;
        case 't': cf.timeout_ns = (int64_t)atol(optarg) * 1000000; break;
        default: usage();
        }
    }
    if (port <= 0 || port > 65535 || cf.concurrency < 1 || cf.seconds <= 0 || cf.max_exchanges < 1 ||
        cf.timeout_ns <= 0)
        usage();
    cf.addr.sin_family = AF_INET;
    cf.addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &cf.addr.sin_addr) != 1) usage();
    if (cf.udp && !cf.request) cf.request = unescape("ping\\n", &cf.request_len);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) { perror("loadgen: epoll_create1"); return 1; }
    struct slot *slots = calloc((size_t)cf.concurrency, sizeof *slots);
    if (!slots) return 1;
    struct tally t = { 0 };
    double cpu0 = cpu_seconds();
    int64_t t0 = now_ns();
    int64_t deadline = t0 + (int64_t)(cf.seconds * 1e9);
    for (int i = 0; i < cf.concurrency; i++) { slots[i].fd = -1; slots[i].phase = IDLE; }

    struct epoll_event events[256];
    for (;;) {
        int64_t now = now_ns();
        if (now >= deadline) break;
        int busy = 0;
        for (int i = 0; i < cf.concurrency; i++) {
            struct slot *s = &slots[i];
            if (s->phase != IDLE && now - s->started_ns > cf.timeout_ns) fail(&t, ep, s, F_TIMEOUT);
            if (s->phase == IDLE && s->rest_until_ns <= now && t.started < cf.max_exchanges)
                begin(&cf, &t, ep, s);
            busy += s->phase != IDLE;
        }
        if (!busy && t.started >= cf.max_exchanges) break;
        int64_t left_ms = (deadline - now) / 1000000 + 1;
        int n = epoll_wait(ep, events, 256, left_ms < TICK_MS ? (int)left_ms : TICK_MS);
        for (int k = 0; k < n; k++) {
            struct slot *s = events[k].data.ptr;
            if (s->fd < 0) continue;
            if (s->phase == CONNECTING) on_connected(&cf, &t, ep, s);
            if (s->phase == WAITING) on_readable(&cf, &t, ep, s);
        }
    }
    int64_t t1 = now_ns();
    for (int i = 0; i < cf.concurrency; i++) {
        if (slots[i].phase != IDLE) t.abandoned++;
        drop_socket(ep, &slots[i]);
    }
    double elapsed = (double)(t1 - t0) / 1e9;
    double cpu = cpu_seconds() - cpu0;

    qsort(t.latency_us, (size_t)t.latencies, sizeof *t.latency_us, cmp_float);
    long failed = 0;
    for (int k = 0; k < F_KINDS; k++) failed += t.failed[k];
    printf("{\"proto\":\"%s\",\"concurrency\":%d,\"elapsed_s\":%.3f,\"ok\":%ld,\"failed\":%ld,"
           "\"abandoned\":%ld,\"rate\":%.1f,\"failures\":{",
           cf.udp ? "udp" : "tcp", cf.concurrency, elapsed, t.ok, failed, t.abandoned,
           elapsed > 0 ? (double)t.ok / elapsed : 0.0);
    for (int k = 0; k < F_KINDS; k++) printf("%s\"%s\":%ld", k ? "," : "", failure_names[k], t.failed[k]);
    printf("},\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"client_cpu\":%.3f,\"sample\":",
           percentile_ms(t.latency_us, t.latencies, 0.50), percentile_ms(t.latency_us, t.latencies, 0.90),
           percentile_ms(t.latency_us, t.latencies, 0.99),
           t.latencies ? t.latency_us[t.latencies - 1] / 1000.0 : 0.0, elapsed > 0 ? cpu / elapsed : 0.0);
    print_json_string(t.sample);
    printf("}\n");
    return 0;
}
