/*
 * spawnd.c - tsinetd-spawnd, the spawn helper of tsinetd.
 *
 * A small long-lived process started by the daemon with child_process.spawn(..., { stdio:
 * [..., 'ipc'] }). It speaks the receiving half of Node's "json" IPC protocol on the socket
 * named by NODE_CHANNEL_FD: one JSON value per line; a value sent with a handle arrives as
 * {"cmd":"NODE_HANDLE","type":...,"msg":{...}} while the descriptor travels as SCM_RIGHTS
 * ancillary data, and must be answered with {"cmd":"NODE_HANDLE_ACK"} (or _NACK when the
 * descriptor was lost) before Node sends anything else.
 *
 * Every request and reply, who owns each descriptor, the errors and the version history are in
 * native/PROTOCOL.md; the shared constants (version, size limits, message and stage names) come
 * from spawnd-protocol.h, generated from src/spawnd-protocol.ts when the helper is compiled.
 *
 * The helper starts each child with clone(CLONE_VM | CLONE_VFORK) (see start_shared), so it
 * is suspended until the exec and knows the outcome when clone returns; a forked child (see
 * start_forked) reports a failure through a close-on-exec pipe, whose EOF means the exec
 * succeeded. It reaps with waitpid(-1, WNOHANG) on SIGCHLD (read from a signalfd). When the daemon closes
 * the channel it exits and leaves its children running (after reaping, for at most a
 * second, the servers the daemon has just signalled).
 */
#define _GNU_SOURCE
#include "accept.h"
#include "child.h"
#include "json.h"
#include "spawnd-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How this binary was built (compiler, linking), set by the build: `tsinetd -version` shows it. */
#ifndef SPAWND_BUILD
#define SPAWND_BUILD "without a label"
#endif
#define READ_CHUNK 65536
#define MAX_QUEUED_FDS 64
#define HANDLE_PREFIX "{\"cmd\":\"NODE_HANDLE\""
#define LINGER_MS 1000 /* after EOF: how long to wait for servers the daemon just signalled */

typedef enum { CHILD_STARTING, CHILD_RUNNING, CHILD_FAILED } child_state;

typedef struct {
    pid_t pid;
    long long id;
    int status_fd; /* read end of the exec-report pipe; -1 once settled */
    child_state state;
    int signalled; /* a kill request was delivered */
} child_entry;

static int chan = -1;
static int chan_closed; /* the daemon is gone: replies are dropped */
static int sig_fd = -1; /* signalfd for SIGCHLD, which stays blocked */
static json_buf out;

static char *in_data;
static size_t in_len, in_cap;
static int discarding; /* inside a line longer than line_limit() */

/* Descriptors received but not yet matched with their NODE_HANDLE line; -1 = one was lost. */
static int fd_queue[MAX_QUEUED_FDS];
static size_t fd_head, fd_count;

static child_entry *children;
static size_t nchildren, children_cap;

static struct pollfd *pfds;
static size_t pfds_cap;

static void die(const char *what)
{
    fprintf(stderr, "tsinetd-spawnd: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- output ---------------------------------------------------------------------------- */

static void out_check(int ok)
{
    if (!ok) {
        errno = ENOMEM;
        die("cannot queue a reply");
    }
}

static void flush_out(void)
{
    if (chan_closed)
        out.len = 0;
    while (out.len > 0) {
        ssize_t n = send(chan, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            json_buf_consume(&out, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return; /* poll for POLLOUT */
        } else {
            exit(0); /* the daemon is gone */
        }
    }
}

static void send_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void send_line(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    out_check(n > 0 && (size_t)n < sizeof line);
    out_check(json_buf_append(&out, line, (size_t)n) && json_buf_append(&out, "\n", 1));
}

static void send_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void send_warn(const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    out_check(json_buf_printf(&out, "{\"t\":\"" REPLY_WARN "\",\"message\":") && json_buf_string(&out, text) &&
              json_buf_append(&out, "}\n", 2));
}

/* id < 0 and pid <= 0 are written as null. */
static void send_error(long long id, pid_t pid, const char *stage, int err, const char *message)
{
    char idtext[32] = "null", pidtext[32] = "null";
    if (id >= 0)
        snprintf(idtext, sizeof idtext, "%lld", id);
    if (pid > 0)
        snprintf(pidtext, sizeof pidtext, "%d", (int)pid);
    out_check(json_buf_printf(&out, "{\"t\":\"" REPLY_ERROR "\",\"id\":%s,\"pid\":%s,\"stage\":", idtext, pidtext) &&
              json_buf_string(&out, stage) && json_buf_printf(&out, ",\"errno\":%d,\"message\":", err) &&
              json_buf_string(&out, message != NULL ? message : strerror(err)) &&
              json_buf_append(&out, "}\n", 2));
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
static int fd_pop(int *fd)
{
    if (fd_count == 0)
        return 0;
    *fd = fd_queue[fd_head];
    fd_head = (fd_head + 1) % MAX_QUEUED_FDS;
    fd_count--;
    return 1;
}

/* ---- children -------------------------------------------------------------------------- */

static long find_child(pid_t pid)
{
    for (size_t i = 0; i < nchildren; i++)
        if (children[i].pid == pid)
            return (long)i;
    return -1;
}

static void remove_child(size_t i)
{
    children[i] = children[--nchildren];
}

/* Reads the child's exec report. `exited`: the child is known to be dead, so no report
 * now means none will come (another child may still hold the pipe between its fork and
 * its own close-on-exec, so EOF can lag behind). */
static void settle_status(child_entry *c, int exited)
{
    child_report r;
    ssize_t n;
    do
        n = read(c->status_fd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
    if (n < 0 && !exited)
        return;
    close(c->status_fd);
    c->status_fd = -1;
    if (n == (ssize_t)sizeof r) {
        c->state = CHILD_FAILED;
        send_error(c->id, c->pid, child_stage_name(r.stage), r.err, NULL);
    } else if (n > 0) {
        c->state = CHILD_FAILED;
        send_error(c->id, c->pid, STAGE_NAME_UNKNOWN, EIO, "short report from the child");
    } else {
        c->state = CHILD_RUNNING;
        send_line("{\"t\":\"" REPLY_SPAWNED "\",\"id\":%lld,\"pid\":%d}", c->id, (int)c->pid);
    }
}

static void reap(void)
{
    struct signalfd_siginfo info[16];
    while (read(sig_fd, info, sizeof info) > 0)
        ;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            break;
        long i = find_child(pid);
        if (i < 0)
            continue;
        child_entry *c = &children[i];
        if (c->status_fd >= 0)
            settle_status(c, 1);
        if (c->state == CHILD_RUNNING) {
            if (WIFEXITED(status))
                send_line("{\"t\":\"" REPLY_EXIT "\",\"pid\":%d,\"code\":%d,\"signal\":null}", (int)pid,
                          WEXITSTATUS(status));
            else if (WIFSIGNALED(status))
                send_line("{\"t\":\"" REPLY_EXIT "\",\"pid\":%d,\"code\":null,\"signal\":%d}", (int)pid,
                          WTERMSIG(status));
        }
        remove_child((size_t)i);
    }
}

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

static void ensure_children_capacity(void)
{
    if (nchildren < children_cap)
        return;
    size_t cap = children_cap ? children_cap * 2 : 64;
    child_entry *c = realloc(children, cap * sizeof *c);
    if (c == NULL)
        die("cannot track another child");
    children = c;
    children_cap = cap;
}

/*
 * Children are started with clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: the child runs
 * on a stack of its own in the helper's memory, and the helper waits until the child has
 * exec'd (or failed). A fork would copy the helper's page tables and then fault on every page
 * either side writes: measured under the spawn benchmark, that was about 60% of the helper's
 * CPU time. Where close_range(2) is missing (kernels before 5.9, or filtered by a seccomp
 * profile) the child could only close descriptors by reading /proc/self/fd, which allocates,
 * so children are forked instead; TSINETD_SPAWND_FORK=1 (passed on by the daemon) asks for that.
 */
#define CHILD_STACK_SIZE (256 * 1024)

static char *child_stack = MAP_FAILED; /* MAP_FAILED: fork instead */

struct child_start {
    const spawn_request *req;
    int sock;
    child_outcome out;
};

static int child_main(void *arg)
{
    const struct child_start *cs = arg;
    child_exec(cs->req, cs->sock, cs->out);
}

/* Chooses how children start (at start-up, so that the ready message can say it). */
static void choose_child_start(void)
{
    const char *fork_asked = getenv("TSINETD_SPAWND_FORK");
    child_stack = child_can_share_vm() && (fork_asked == NULL || strcmp(fork_asked, "1") != 0)
                      ? mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0)
                      : MAP_FAILED;
}

/* Records a started child; start_child made room first, so this cannot fail. */
static void add_child(pid_t pid, long long id, int status_fd, child_state state)
{
    children[nchildren++] = (child_entry){ pid, id, status_fd, state, 0 };
}

/* Written by a child sharing the helper's memory when it fails before its exec. */
static volatile child_report shared_report;

/* Starts the child sharing the helper's memory: when clone returns, the child has exec'd or
 * exited, so the outcome is known at once (no pipe to watch). Takes ownership of sock. */
static void start_shared(spawn_request *req, int sock)
{
    shared_report.stage = STAGE_NONE;
    shared_report.err = 0;
    struct child_start cs = { req, sock, { -1, &shared_report } };
    pid_t pid = clone(child_main, child_stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &cs);
    int e = errno;
    close(sock);
    if (pid < 0) {
        send_error(req->id, 0, STAGE_NAME_FORK, e, NULL);
        return;
    }
    if (shared_report.stage != STAGE_NONE) {
        /* Reaped later without an exit report, as the daemon never got its pid. */
        add_child(pid, req->id, -1, CHILD_FAILED);
        send_error(req->id, pid, child_stage_name(shared_report.stage), shared_report.err, NULL);
    } else {
        add_child(pid, req->id, -1, CHILD_RUNNING);
        send_line("{\"t\":\"" REPLY_SPAWNED "\",\"id\":%lld,\"pid\":%d}", req->id, (int)pid);
    }
}

/* Forks the child; its exec report comes through a close-on-exec pipe. Takes ownership of sock. */
static void start_forked(spawn_request *req, int sock)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        int e = errno;
        close(sock);
        send_error(req->id, 0, STAGE_NAME_PIPE, e, NULL);
        return;
    }
    pid_t pid = fork();
    if (pid == 0)
        child_exec(req, sock, (child_outcome){ p[1], NULL });
    int e = errno;
    close(p[1]);
    close(sock);
    if (pid < 0) {
        close(p[0]);
        send_error(req->id, 0, STAGE_NAME_FORK, e, NULL);
        return;
    }
    add_child(pid, req->id, p[0], CHILD_STARTING);
}

/* Takes ownership of sock. The helper installs no signal handler (SIGCHLD is read from a
 * signalfd), so nothing of the helper can run in the child; child_exec resets the rest. */
static void start_child(spawn_request *req, int sock)
{
    ensure_children_capacity();
    if (child_stack != MAP_FAILED)
        start_shared(req, sock);
    else
        start_forked(req, sock);
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

static void report_conn(long long lid, long long cid, const char *addr, int port, const char *laddr)
{
    /* An interface name after % may hold characters JSON must escape. */
    out_check(json_buf_printf(&out, "{\"t\":\"" REPLY_CONN "\",\"lid\":%lld,\"cid\":%lld,\"addr\":", lid, cid) &&
              json_buf_string(&out, addr) && json_buf_printf(&out, ",\"port\":%d,\"laddr\":", port) &&
              json_buf_string(&out, laddr) && json_buf_append(&out, "}\n", 2));
}

static void report_accept_error(long long lid, int err)
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
    out_check(json_buf_printf(&out, "{\"t\":\"" REPLY_SENDER "\",\"id\":%lld,\"addr\":", id) && json_buf_string(&out, addr) &&
              json_buf_printf(&out, ",\"port\":%d}\n", port));
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
        if (json_integer(json_get(msg, "lid"), 0, SPAWND_MAX_ID, &lid))
            (void)acc_unlisten(lid);
        else
            send_warn("unlisten request needs an integer lid");
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

/* A NODE_HANDLE line we cannot use: release its descriptor and let Node go on. */
static void reject_handle(void)
{
    int fd;
    if (fd_pop(&fd) && fd >= 0)
        close(fd);
    send_line("{\"cmd\":\"NODE_HANDLE_NACK\"}");
}

static void handle_line(const char *text, size_t len)
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
static int read_channel(void)
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

/* ---- start-up, the loop and the end ---------------------------------------------------- */

static int signalled_left(void)
{
    int n = 0;
    for (size_t i = 0; i < nchildren; i++)
        if (children[i].signalled && children[i].state != CHILD_FAILED)
            n++;
    return n;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The daemon closed the channel. The other servers are left running (reparented), but those
 * it has just signalled (a stop with SIGTERM) are reaped for up to LINGER_MS, so that they do
 * not stay zombies under an init that does not reap. */
static void finish(void)
{
    chan_closed = 1;
    long long deadline = now_ms() + LINGER_MS;
    for (;;) {
        reap();
        long long left = deadline - now_ms();
        if (signalled_left() == 0 || left <= 0)
            break;
        struct pollfd p = { sig_fd, POLLIN, 0 };
        (void)poll(&p, 1, (int)left);
    }
    exit(0);
}

static void set_up(void)
{
    const char *fdtext = getenv("NODE_CHANNEL_FD");
    const char *mode = getenv("NODE_CHANNEL_SERIALIZATION_MODE");
    char *end;
    long fd = fdtext != NULL ? strtol(fdtext, &end, 10) : -1;
    struct stat st;
    if (fdtext == NULL || *end != '\0' || fd < 0 || fd > INT_MAX || fstat((int)fd, &st) != 0 ||
        !S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "tsinetd-spawnd: the spawn helper of tsinetd; it runs only when tsinetd starts it"
                        " (no IPC channel in NODE_CHANNEL_FD)\n");
        exit(2);
    }
    if (mode != NULL && strcmp(mode, "json") != 0) {
        fprintf(stderr, "tsinetd-spawnd: unsupported IPC serialization \"%s\" (json only)\n", mode);
        exit(2);
    }
    chan = (int)fd;
    if (chan < 3) {
        int moved = fcntl(chan, F_DUPFD_CLOEXEC, 3);
        if (moved < 0)
            die("fcntl(F_DUPFD)");
        close(chan);
        chan = moved;
    }
    /* Keep 0-2 open so that every descriptor the helper creates is >= 3. */
    for (int i = 0; i <= 2; i++)
        if (fcntl(i, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
            die("open /dev/null");
    if (fcntl(chan, F_SETFD, FD_CLOEXEC) != 0 || fcntl(chan, F_SETFL, fcntl(chan, F_GETFL) | O_NONBLOCK) != 0)
        die("fcntl on the channel");
    unsetenv("NODE_CHANNEL_FD");
    unsetenv("NODE_CHANNEL_SERIALIZATION_MODE");

    /* Every disposition back to default first: an ignored signal survives exec, and the
     * children must start clean (child_exec only resets the ones changed below). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &sa, NULL);
    /* Terminal signals go to the daemon's whole process group; the daemon decides, and the
     * helper ends when the daemon does (EOF on the channel). */
    sa.sa_handler = SIG_IGN;
    for (size_t i = 0; i < sizeof helper_ignored / sizeof helper_ignored[0]; i++)
        sigaction(helper_ignored[i], &sa, NULL);

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_SETMASK, &chld, NULL) != 0)
        die("sigprocmask");
    if ((sig_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
        die("signalfd");
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        /* Read by tsinetd (src/helper-binary.ts) to pick a helper it can talk to. */
        printf("tsinetd-spawnd protocol %d build %s\n", SPAWND_PROTOCOL_VERSION, SPAWND_BUILD);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (argc > 1) {
        fprintf(stderr, "tsinetd-spawnd: takes no arguments but --version; tsinetd starts it over an IPC channel\n");
        return 2;
    }
    set_up();
    choose_child_start();
    send_line("{\"t\":\"" REPLY_READY "\",\"pid\":%d,\"version\":%d,\"children\":\"%s\"}", (int)getpid(), SPAWND_PROTOCOL_VERSION,
              child_stack != MAP_FAILED ? CHILDREN_CLONE : CHILDREN_FORK);
    flush_out();

    for (;;) {
        size_t need = nchildren + acc_listener_count() + 2;
        if (pfds_cap < need) {
            size_t cap = need * 2;
            struct pollfd *p = realloc(pfds, cap * sizeof *p);
            if (p == NULL)
                die("cannot grow the poll set");
            pfds = p;
            pfds_cap = cap;
        }
        pfds[0] = (struct pollfd){ chan, (short)(POLLIN | (out.len > 0 ? POLLOUT : 0)), 0 };
        pfds[1] = (struct pollfd){ sig_fd, POLLIN, 0 };
        long long now = now_ms();
        nfds_t first_child = 2 + (nfds_t)acc_poll_fill(pfds + 2, pfds_cap - 2, now);
        nfds_t n = first_child;
        for (size_t i = 0; i < nchildren; i++)
            if (children[i].status_fd >= 0)
                pfds[n++] = (struct pollfd){ children[i].status_fd, POLLIN, 0 };

        if (poll(pfds, n, acc_next_timeout(now)) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        now = now_ms();
        for (nfds_t i = 2; i < first_child; i++)
            if (pfds[i].revents != 0)
                acc_ready(pfds[i].fd, now, report_conn, report_accept_error);
        for (nfds_t i = first_child; i < n; i++) {
            if (pfds[i].revents == 0)
                continue;
            for (size_t k = 0; k < nchildren; k++) {
                if (children[k].status_fd == pfds[i].fd) {
                    settle_status(&children[k], 0);
                    break;
                }
            }
        }
        if (pfds[1].revents)
            reap();
        if (pfds[0].revents & POLLOUT)
            flush_out();
        if ((pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !read_channel())
            finish();
        flush_out();
    }
}
