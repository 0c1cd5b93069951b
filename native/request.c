/*
 * request.c - what the daemon asks, one line at a time: spawn (its request checked field by
 * field, the socket's options applied, the child started by children.c), kill, ping, and the
 * requests of accepting for the daemon (listen, unlisten, pause, resume, reply, drop, peek,
 * with accept.c); those of the unix-domain datagram sockets held for it (ubind, watch, drain,
 * with udgram.c); batches of them; and Node's NODE_HANDLE envelope, acknowledged at once.
 */
#define _GNU_SOURCE
#include "spawnd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- requests -------------------------------------------------------------------------- */

static int is_string(const json_value *v, const char *s)
{
    return v != NULL && v->type == JSON_STRING && strcmp(v->u.string.chars, s) == 0;
}

/* A NULL-terminated copy of a JSON array of strings without NUL bytes. */
static char **string_array(json_arena *a, const json_value *v, size_t min_count)
{
    if (v == NULL || v->type != JSON_ARRAY || v->u.list.count < min_count)
        return NULL;
    char **list = json_alloc(a, (v->u.list.count + 1) * sizeof *list);
    if (list == NULL)
        return NULL;
    size_t n = 0;
    for (const json_value *e = v->u.list.first; e != NULL; e = e->next) {
        if (e->type != JSON_STRING || strlen(e->u.string.chars) != e->u.string.len)
            return NULL;
        list[n++] = e->u.string.chars;
    }
    list[n] = NULL;
    return list;
}

/* Optional integer: absent or null leaves *has at 0. Returns 0 when present but invalid. */
static int optional_int(const json_value *v, long long min, long long max, int *has, long long *value)
{
    *has = 0;
    if (v == NULL || v->type == JSON_NULL)
        return 1;
    if (!json_integer(v, min, max, value))
        return 0;
    *has = 1;
    return 1;
}

static const char *const rlimit_names[RL_COUNT] = {
    [RL_AS] = "as", [RL_CPU] = "cpu", [RL_DATA] = "data",
    [RL_RSS] = "rss", [RL_STACK] = "stack", [RL_FILES] = "files",
};

static int parse_rlimits(const json_value *v, spawn_request *req, char *why, size_t why_len)
{
    if (v == NULL || v->type == JSON_NULL)
        return 1;
    if (v->type != JSON_OBJECT) {
        snprintf(why, why_len, "rlimits must be an object");
        return 0;
    }
    for (const json_value *m = v->u.list.first; m != NULL; m = m->next) {
        int slot = -1;
        for (int i = 0; i < RL_COUNT; i++)
            if (strcmp(m->key, rlimit_names[i]) == 0)
                slot = i;
        if (slot < 0) {
            snprintf(why, why_len, "unknown rlimit \"%.40s\"", m->key);
            return 0;
        }
        long long n;
        if (is_string(m, "unlimited")) {
            req->rlimit[slot] = RLIM_INFINITY;
        } else if (json_integer(m, 0, LLONG_MAX, &n)) {
            req->rlimit[slot] = (rlim_t)n;
        } else {
            snprintf(why, why_len, "rlimit %s must be a non-negative integer or \"unlimited\"",
                     rlimit_names[slot]);
            return 0;
        }
        req->rlimit_set[slot] = 1;
    }
    return 1;
}

static int parse_spawn_request(json_arena *a, const json_value *msg, spawn_request *req, char *why,
                               size_t why_len)
{
    long long n = 0;
    memset(req, 0, sizeof *req);

    const json_value *path = json_get(msg, "path");
    if (path == NULL || path->type != JSON_STRING || path->u.string.len == 0 ||
        strlen(path->u.string.chars) != path->u.string.len) {
        snprintf(why, why_len, "path must be a non-empty string");
        return 0;
    }
    req->path = path->u.string.chars;
    if ((req->argv = string_array(a, json_get(msg, "argv"), 1)) == NULL) {
        snprintf(why, why_len, "argv must be a non-empty array of strings without NUL");
        return 0;
    }
    if ((req->envp = string_array(a, json_get(msg, "env"), 0)) == NULL) {
        snprintf(why, why_len, "env must be an array of strings without NUL");
        return 0;
    }
    if (!optional_int(json_get(msg, "uid"), 0, (long long)UINT_MAX - 1, &req->has_uid, &n)) {
        snprintf(why, why_len, "uid must be null or an integer id");
        return 0;
    }
    req->uid = (uid_t)n;
    if (!optional_int(json_get(msg, "gid"), 0, (long long)UINT_MAX - 1, &req->has_gid, &n)) {
        snprintf(why, why_len, "gid must be null or an integer id");
        return 0;
    }
    req->gid = (gid_t)n;

    const json_value *groups = json_get(msg, "groups");
    if (groups != NULL && groups->type != JSON_NULL) {
        if (groups->type != JSON_ARRAY || groups->u.list.count > SPAWND_MAX_GROUPS) {
            snprintf(why, why_len, "groups must be null or an array of at most %d ids", SPAWND_MAX_GROUPS);
            return 0;
        }
        req->groups = json_alloc(a, (groups->u.list.count + 1) * sizeof(gid_t));
        if (req->groups == NULL) {
            snprintf(why, why_len, "out of memory");
            return 0;
        }
        for (const json_value *g = groups->u.list.first; g != NULL; g = g->next) {
            if (!json_integer(g, 0, (long long)UINT_MAX - 1, &n)) {
                snprintf(why, why_len, "groups must hold integer ids");
                return 0;
            }
            req->groups[req->ngroups++] = (gid_t)n;
        }
        req->has_groups = 1;
    }

    if (!json_integer(json_get(msg, "umask"), 0, 0777, &n)) {
        snprintf(why, why_len, "umask must be an integer from 0 to 0777");
        return 0;
    }
    req->umask = (mode_t)n;
    if (!optional_int(json_get(msg, "nice"), -40, 40, &req->has_nice, &n)) {
        snprintf(why, why_len, "nice must be null or an integer from -40 to 40");
        return 0;
    }
    req->nice = (int)n;
    return parse_rlimits(json_get(msg, "rlimits"), req, why, why_len);
}

static int hex_value(char c);

/*
 * Socket options of a spawn request, applied before the child starts (TCP wrappers' keepalive,
 * linger and banners options). Best effort, as libwrap's: a failure is reported, the server
 * still starts. "pre" is written with a blocking send bounded by SPAWND_MAX_PRE: a fresh connection's
 * send buffer takes a banner of that size at once.
 */
static void prepare_socket(const json_value *msg, int sock)
{
    const json_value *ka = json_get(msg, "keepalive");
    if (ka != NULL && ka->type == JSON_BOOL && ka->u.boolean) {
        int on = 1;
        if (setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0)
            send_warn("keepalive: %s", strerror(errno));
    }
    long long secs;
    const json_value *lg = json_get(msg, "linger");
    if (lg != NULL && json_integer(lg, 0, INT_MAX, &secs)) {
        struct linger l = { 1, (int)secs };
        if (setsockopt(sock, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0)
            send_warn("linger: %s", strerror(errno));
    }
    const json_value *pre = json_get(msg, "pre");
    if (pre == NULL || pre->type != JSON_STRING || pre->u.string.len % 2 != 0 || pre->u.string.len / 2 > SPAWND_MAX_PRE)
        return;
    static unsigned char buf[SPAWND_MAX_PRE];
    size_t n = pre->u.string.len / 2;
    for (size_t k = 0; k < n; k++) {
        int hi = hex_value(pre->u.string.chars[2 * k]), lo = hex_value(pre->u.string.chars[2 * k + 1]);
        if (hi < 0 || lo < 0)
            return;
        buf[k] = (unsigned char)(hi << 4 | lo);
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(sock, buf + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            send_warn("banner: %s", w < 0 ? strerror(errno) : "short write");
            return;
        }
        done += (size_t)w;
    }
}

/* Takes ownership of sock (-1 when the request came without a descriptor). */
static void handle_spawn(json_arena *a, const json_value *msg, int sock)
{
    long long id;
    if (!json_integer(json_get(msg, "id"), 0, SPAWND_MAX_ID, &id)) {
        if (sock >= 0)
            close(sock);
        send_error(-1, 0, STAGE_NAME_REQUEST, EINVAL, "spawn request without a valid id");
        return;
    }
    long long cid;
    if (sock < 0 && json_integer(json_get(msg, "cid"), 0, SPAWND_MAX_ID, &cid)) {
        sock = acc_take(cid);
        if (sock < 0) {
            send_error(id, 0, STAGE_NAME_REQUEST, ENOTCONN, "no such pending connection");
            return;
        }
    }
    long long lid;
    if (sock < 0 && json_integer(json_get(msg, "lid"), 0, SPAWND_MAX_ID, &lid)) {
        /* A unix datagram socket the helper holds: the server gets a copy, the helper keeps it. */
        int held = ud_fd(lid);
        if (held < 0) {
            send_error(id, 0, STAGE_NAME_REQUEST, ENOTCONN, "no such datagram socket");
            return;
        }
        sock = fcntl(held, F_DUPFD_CLOEXEC, 3);
        if (sock < 0) {
            send_error(id, 0, STAGE_NAME_REQUEST, errno, NULL);
            return;
        }
    }
    if (sock < 0) {
        send_error(id, 0, STAGE_NAME_REQUEST, EBADF, "spawn request without a socket");
        return;
    }
    spawn_request req;
    char why[160];
    if (!parse_spawn_request(a, msg, &req, why, sizeof why)) {
        close(sock);
        send_error(id, 0, STAGE_NAME_REQUEST, EINVAL, why);
        return;
    }
    req.id = id;
    prepare_socket(msg, sock);
    start_child(&req, sock);
}

static void handle_kill(const json_value *msg)
{
    long long pid, sig;
    if (!json_integer(json_get(msg, "pid"), 1, INT_MAX, &pid) ||
        !json_integer(json_get(msg, "sig"), 0, NSIG - 1, &sig)) {
        send_warn("kill request needs an integer pid and signal number");
        return;
    }
    long i = find_child((pid_t)pid);
    /* Unknown: not ours, or already reaped (its exit message is on the way). Only pids
     * not yet reaped are signalled, so a recycled pid is never hit. */
    if (i < 0 || children[i].state == CHILD_FAILED)
        return;
    if (kill((pid_t)pid, (int)sig) != 0)
        send_warn("kill(%lld, %lld): %s", pid, sig, strerror(errno));
    else if (sig != 0)
        children[i].signalled = 1;
}

/* ---- accepting for the daemon ----------------------------------------------------------- */

void report_conn(long long lid, long long cid, const char *addr, int port, const char *laddr)
{
    /* An interface name after % may hold characters JSON must escape. */
    out_check(json_buf_printf(&replies, "{\"t\":\"" REPLY_CONN "\",\"lid\":%lld,\"cid\":%lld,\"addr\":", lid, cid) &&
              json_buf_string(&replies, addr) && json_buf_printf(&replies, ",\"port\":%d,\"laddr\":", port) &&
              json_buf_string(&replies, laddr) && json_buf_append(&replies, "}\n", 2));
}

void report_accept_error(long long lid, int err)
{
    send_line("{\"t\":\"" REPLY_ACCEPT_ERROR "\",\"lid\":%lld,\"errno\":%d}", lid, err);
}

/* A request that carries a socket of type `want` (SOCK_STREAM, SOCK_DGRAM) and names it by
 * integer `key` (`cmd` names the request in warnings): 1 when both are right; else fd is closed and 0 (no valid id: warned about) or
 * -1 (*id is valid, the socket is not of that type: the caller answers). */
static int claim_socket(const json_value *msg, const char *cmd, const char *key, int fd, int want, long long *id)
{
    int type = 0;
    socklen_t tl = sizeof type;
    if (!json_integer(json_get(msg, key), 0, SPAWND_MAX_ID, id)) {
        close(fd);
        send_warn("%s request needs an integer %s", cmd, key);
        return 0;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != want) {
        close(fd);
        return -1;
    }
    return 1;
}

/* Takes ownership of fd. */
static void handle_listen(const json_value *msg, int fd)
{
    long long lid;
    int claimed = claim_socket(msg, CMD_LISTEN, "lid", fd, SOCK_STREAM, &lid);
    if (claimed <= 0) {
        if (claimed < 0)
            send_warn("listen %lld: not a stream socket", lid);
        return;
    }
    /* The listener is shared with the daemon; it is non-blocking already, but make sure: a
     * connection another process took first must not block the helper in accept(). */
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (acc_listen(lid, fd) != 0) {
        close(fd);
        send_warn("listen %lld: %s", lid, strerror(errno));
    }
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* {"cmd":"reply"|"drop","cid":C[,"hex":...]}: the daemon decided for pending connection C. */
static void handle_answer(const json_value *msg, int reply)
{
    long long cid;
    if (!json_integer(json_get(msg, "cid"), 0, SPAWND_MAX_ID, &cid)) {
        send_warn("reply/drop request needs an integer cid");
        return;
    }
    int fd = acc_take(cid);
    if (fd < 0)
        return; /* already decided, or never accepted: nothing to do */
    const json_value *hex = json_get(msg, "hex");
    if (reply && hex != NULL && hex->type == JSON_STRING && hex->u.string.len % 2 == 0) {
        const char *h = hex->u.string.chars;
        size_t n = hex->u.string.len / 2;
        unsigned char buf[SPAWND_MAX_REPLY];
        if (n <= sizeof buf) {
            size_t k = 0;
            for (; k < n; k++) {
                int hi = hex_value(h[2 * k]), lo = hex_value(h[2 * k + 1]);
                if (hi < 0 || lo < 0)
                    break;
                buf[k] = (unsigned char)(hi << 4 | lo);
            }
            /* A fresh connection's send buffer is empty: a short reply never blocks. */
            if (k == n && n > 0)
                (void)send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
    }
    close(fd);
}

/* {"cmd":"peek","id":N} with a bound datagram socket: who sent the datagram queued first.
 * Takes ownership of fd (the daemon keeps its own copy). */
static void handle_peek(const json_value *msg, int fd)
{
    long long id;
    int claimed = claim_socket(msg, CMD_PEEK, "id", fd, SOCK_DGRAM, &id);
    if (claimed <= 0) {
        if (claimed < 0)
            send_error(id, 0, STAGE_NAME_PEEK, ENOTSOCK, "not a datagram socket");
        return;
    }
    char addr[ACC_PEER_TEXT_MAX];
    int port = 0;
    int ok = acc_peek_sender(fd, addr, sizeof addr, &port) == 0;
    int err = errno;
    close(fd);
    if (!ok) {
        send_error(id, 0, STAGE_NAME_PEEK, err, NULL);
        return;
    }
    out_check(json_buf_printf(&replies, "{\"t\":\"" REPLY_SENDER "\",\"id\":%lld,\"addr\":", id) && json_buf_string(&replies, addr) &&
              json_buf_printf(&replies, ",\"port\":%d}\n", port));
}

/* Takes ownership of fd (-1: none). */
static void handle_request(json_arena *a, const json_value *msg, int fd)
{
    const json_value *cmd = json_get(msg, "cmd");
    if (is_string(cmd, CMD_SPAWN)) {
        handle_spawn(a, msg, fd);
        return;
    }
    if (is_string(cmd, CMD_LISTEN) && fd >= 0) {
        handle_listen(msg, fd);
        return;
    }
    if (is_string(cmd, CMD_PEEK) && fd >= 0) {
        handle_peek(msg, fd);
        return;
    }
    if (fd >= 0)
        close(fd);
    if (is_string(cmd, CMD_BATCH)) {
        /* Several requests in one message (the daemon coalesces what it sends in one tick). */
        const json_value *list = json_get(msg, "list");
        if (list == NULL || list->type != JSON_ARRAY) {
            send_warn("batch request needs a list");
            return;
        }
        for (const json_value *e = list->u.list.first; e != NULL; e = e->next)
            if (e->type == JSON_OBJECT && !is_string(json_get(e, "cmd"), CMD_BATCH))
                handle_request(a, e, -1);
    } else if (is_string(cmd, CMD_REPLY)) {
        handle_answer(msg, 1);
    } else if (is_string(cmd, CMD_DROP)) {
        handle_answer(msg, 0);
    } else if (is_string(cmd, CMD_PAUSE) || is_string(cmd, CMD_RESUME)) {
        long long lid;
        if (!json_integer(json_get(msg, "lid"), 0, SPAWND_MAX_ID, &lid))
            send_warn("pause/resume request needs an integer lid");
        else
            (void)acc_pause(lid, is_string(cmd, CMD_PAUSE)); /* unknown lid: unlistened meanwhile */
    } else if (is_string(cmd, CMD_UNLISTEN)) {
        long long lid;
        if (json_integer(json_get(msg, "lid"), 0, SPAWND_MAX_ID, &lid)) {
            (void)acc_unlisten(lid);
            (void)ud_close(lid);
        }
        else
            send_warn("unlisten request needs an integer lid");
    } else if (is_string(cmd, CMD_UBIND) || is_string(cmd, CMD_WATCH) || is_string(cmd, CMD_DRAIN)) {
        ud_request(msg, cmd->u.string.chars);
    } else if (is_string(cmd, CMD_KILL)) {
        handle_kill(msg);
    } else if (is_string(cmd, CMD_PING)) {
        long long id;
        if (!json_integer(json_get(msg, "id"), 0, SPAWND_MAX_ID, &id))
            id = 0;
        send_line("{\"t\":\"" REPLY_PONG "\",\"id\":%lld,\"children\":%zu}", id, nchildren);
    } else if (cmd != NULL && cmd->type == JSON_STRING && strncmp(cmd->u.string.chars, "NODE_", 5) == 0) {
        /* Node's own housekeeping messages: nothing to do. */
    } else {
        send_warn("unknown request%s%.40s", cmd != NULL && cmd->type == JSON_STRING ? " " : "",
                  cmd != NULL && cmd->type == JSON_STRING ? cmd->u.string.chars : "");
    }
}

void handle_line(const char *text, size_t len)
{
    json_arena arena = { NULL };
    const char *err = NULL;
    json_value *v = json_parse(&arena, text, len, &err);
    if (v == NULL) {
        if (len >= strlen(HANDLE_PREFIX) && memcmp(text, HANDLE_PREFIX, strlen(HANDLE_PREFIX)) == 0)
            reject_handle();
        send_warn("unreadable message: %s", err);
    } else if (is_string(json_get(v, "cmd"), "NODE_HANDLE")) {
        const json_value *msg = json_get(v, "msg");
        long long id;
        int has_id = json_integer(json_get(msg, "id"), 0, SPAWND_MAX_ID, &id);
        int fd;
        if (!fd_pop(&fd)) {
            send_line("{\"cmd\":\"NODE_HANDLE_NACK\"}");
            send_error(has_id ? id : -1, 0, STAGE_NAME_RECV, EBADF, "no descriptor came with the message");
        } else if (fd < 0) {
            send_line("{\"cmd\":\"NODE_HANDLE_NACK\"}");
            send_error(has_id ? id : -1, 0, STAGE_NAME_RECV, EMFILE,
                       "the socket was lost in transit (descriptor limit of the helper reached?)");
        } else {
            /* At once: Node holds back everything else until it sees this. */
            send_line("{\"cmd\":\"NODE_HANDLE_ACK\"}");
            flush_out();
            handle_request(&arena, msg, fd);
        }
    } else {
        handle_request(&arena, v, -1);
    }
    json_arena_free(&arena);
}
