/*
 * ipc.c - the helper's half of Node's "json" IPC channel: replies queued and written without
 * blocking, lines read with the descriptors that came with them (SCM_RIGHTS), each line bounded
 * (SPAWND_MAX_REQUEST, plus Node's envelope for a line with a descriptor), and the descriptors
 * matched with their NODE_HANDLE lines in order. What a line asks is request.c's.
 */
#define _GNU_SOURCE
#include "spawnd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define MAX_QUEUED_FDS 64

int chan = -1;
int chan_closed; /* the daemon is gone: replies are dropped */
json_buf replies;

static char *in_data;
static size_t in_len, in_cap;
static int discarding; /* inside a line longer than line_limit() */

/* Descriptors received but not yet matched with their NODE_HANDLE line; -1 = one was lost. */
static int fd_queue[MAX_QUEUED_FDS];
static size_t fd_head, fd_count;

/* ---- output ---------------------------------------------------------------------------- */

void out_check(int ok)
{
    if (!ok) {
        errno = ENOMEM;
        die("cannot queue a reply");
    }
}

void flush_out(void)
{
    if (chan_closed)
        replies.len = 0;
    while (replies.len > 0) {
        ssize_t n = send(chan, replies.data, replies.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            json_buf_consume(&replies, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return; /* poll for POLLOUT */
        } else {
            exit(0); /* the daemon is gone */
        }
    }
}

void send_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void send_line(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    out_check(n > 0 && (size_t)n < sizeof line);
    out_check(json_buf_append(&replies, line, (size_t)n) && json_buf_append(&replies, "\n", 1));
}

void send_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void send_warn(const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    out_check(json_buf_printf(&replies, "{\"t\":\"" REPLY_WARN "\",\"message\":") && json_buf_string(&replies, text) &&
              json_buf_append(&replies, "}\n", 2));
}

/* id < 0 and pid <= 0 are written as null. */
void send_error(long long id, pid_t pid, const char *stage, int err, const char *message)
{
    char idtext[32] = "null", pidtext[32] = "null";
    if (id >= 0)
        snprintf(idtext, sizeof idtext, "%lld", id);
    if (pid > 0)
        snprintf(pidtext, sizeof pidtext, "%d", (int)pid);
    out_check(json_buf_printf(&replies, "{\"t\":\"" REPLY_ERROR "\",\"id\":%s,\"pid\":%s,\"stage\":", idtext, pidtext) &&
              json_buf_string(&replies, stage) && json_buf_printf(&replies, ",\"errno\":%d,\"message\":", err) &&
              json_buf_string(&replies, message != NULL ? message : strerror(err)) &&
              json_buf_append(&replies, "}\n", 2));
}

/* ---- the received-descriptor queue ----------------------------------------------------- */

static void fd_push(int fd)
{
    if (fd_count == MAX_QUEUED_FDS) {
        /* Node sends one descriptor per message and waits for the ACK: this is a protocol
         * violation; do not keep descriptors nobody will claim. */
        if (fd >= 0)
            close(fd);
        send_warn("too many descriptors without a message; dropped one");
        return;
    }
    fd_queue[(fd_head + fd_count) % MAX_QUEUED_FDS] = fd;
    fd_count++;
}

/* Returns 0 when none is queued; *fd is -1 when that descriptor was lost in transit. */
int fd_pop(int *fd)
{
    if (fd_count == 0)
        return 0;
    *fd = fd_queue[fd_head];
    fd_head = (fd_head + 1) % MAX_QUEUED_FDS;
    fd_count--;
    return 1;
}

/* A NODE_HANDLE line we cannot use: release its descriptor and let Node go on. */
void reject_handle(void)
{
    int fd;
    if (fd_pop(&fd) && fd >= 0)
        close(fd);
    send_line("{\"cmd\":\"NODE_HANDLE_NACK\"}");
}

/* ---- the channel ----------------------------------------------------------------------- */

/* The longest line read: a request of SPAWND_MAX_REQUEST bytes, plus Node's envelope when it
 * carries a descriptor (`text` holds at least the line's first `len` bytes). */
static size_t line_limit(const char *text, size_t len)
{
    size_t n = strlen(HANDLE_PREFIX);
    int handle = len >= n && memcmp(text, HANDLE_PREFIX, n) == 0;
    return handle ? (size_t)SPAWND_MAX_REQUEST + SPAWND_HANDLE_ENVELOPE : (size_t)SPAWND_MAX_REQUEST;
}

/* A line over the limit: its descriptor (if any) is released, the daemon is told. */
static void refuse_line(const char *text, size_t len)
{
    size_t n = strlen(HANDLE_PREFIX);
    if (len >= n && memcmp(text, HANDLE_PREFIX, n) == 0)
        reject_handle();
    send_warn("message longer than %zu bytes ignored", line_limit(text, len));
}

static void process_lines(void)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(in_data + start, '\n', in_len - start);
        if (nl == NULL)
            break;
        size_t len = (size_t)(nl - (in_data + start));
        if (discarding)
            discarding = 0; /* the rest of an over-long line */
        else if (len > line_limit(in_data + start, len))
            refuse_line(in_data + start, len);
        else if (len > 0)
            handle_line(in_data + start, len);
        start += len + 1;
    }
    if (start > 0) {
        memmove(in_data, in_data + start, in_len - start);
        in_len -= start;
    }
    /* An unfinished line already over the limit: refused now, its rest skipped as it comes. */
    if (!discarding && in_len > line_limit(in_data, in_len)) {
        refuse_line(in_data, in_len);
        discarding = 1;
    }
    if (discarding)
        in_len = 0;
}

/* Returns 0 when the channel is closed. */
int read_channel(void)
{
    for (;;) {
        if (in_cap - in_len < READ_CHUNK) {
            size_t cap = in_cap ? in_cap * 2 : 2 * READ_CHUNK;
            char *d = realloc(in_data, cap);
            if (d == NULL)
                die("cannot grow the input buffer");
            in_data = d;
            in_cap = cap;
        }
        union {
            char buf[CMSG_SPACE(16 * sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = { in_data + in_len, in_cap - in_len };
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = control.buf;
        mh.msg_controllen = sizeof control.buf;
        ssize_t n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            return 0;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                fd_push(fd);
            }
        }
        if (mh.msg_flags & MSG_CTRUNC)
            fd_push(-1); /* e.g. EMFILE: the kernel dropped the descriptor */
        if (n == 0)
            return 0;
        in_len += (size_t)n;
        process_lines();
        flush_out();
    }
}
