/*
 * udgram.c - the unix-domain datagram sockets the helper holds for the daemon (inetd.conf
 * `/path dgram unix wait user program`; protocol 5).
 *
 * Node can neither open an AF_UNIX SOCK_DGRAM socket nor receive one over its channel (libuv
 * calls it an unknown handle), so such a socket lives here from its bind to its close. The
 * helper does only the descriptor work: bind (under umask 0777, so that the file has no
 * permissions until the daemon gives it its owner, group and mode), watch for readability
 * without reading (one report per `watch`), give a copy to the server the daemon starts, discard
 * what is queued when told, close. Every decision stays in the daemon: the socket file's rules
 * (a stale socket removed first, never anything else; owner, group, mode; removed at close only
 * while it is still the one bound) are src/serve/unix-socket-file.ts, and admission, logging and
 * when to watch again are the daemon's as for any wait = yes service.
 */
#define _GNU_SOURCE
#include "spawnd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Datagrams discarded per drain request at most (a drain is one pass over what is queued). */
#define UD_DRAIN_MAX 65536

typedef struct {
    long long lid;
    int fd;
    int watching; /* a watch was asked and readability not reported yet */
} ud_socket;

static ud_socket *sockets;
static size_t nsockets, sockets_cap;

static long find_socket(long long lid)
{
    for (size_t i = 0; i < nsockets; i++)
        if (sockets[i].lid == lid)
            return (long)i;
    return -1;
}

int ud_bind(long long lid, const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof sa.sun_path)
        return ENAMETOOLONG;
    memcpy(sa.sun_path, path, len);
    if (nsockets == sockets_cap && find_socket(lid) < 0) {
        size_t cap = sockets_cap ? sockets_cap * 2 : 8;
        ud_socket *s = realloc(sockets, cap * sizeof *s);
        if (s == NULL)
            return ENOMEM;
        sockets = s;
        sockets_cap = cap;
    }
    /* Blocking (the server gets it as its stdio; the helper never reads it but to drain, with
     * MSG_DONTWAIT) and close-on-exec (servers get their copy through dup2). */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    mode_t old = umask(0777);
    int r = bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1));
    int err = errno;
    umask(old);
    if (r != 0) {
        close(fd);
        return err;
    }
    long i = find_socket(lid);
    if (i >= 0) {
        close(sockets[i].fd);
        sockets[i] = (ud_socket){ lid, fd, 0 };
    } else {
        sockets[nsockets++] = (ud_socket){ lid, fd, 0 };
    }
    return 0;
}

int ud_fd(long long lid)
{
    long i = find_socket(lid);
    return i < 0 ? -1 : sockets[i].fd;
}

int ud_watch(long long lid)
{
    long i = find_socket(lid);
    if (i < 0)
        return -1;
    sockets[i].watching = 1;
    return 0;
}

int ud_close(long long lid)
{
    long i = find_socket(lid);
    if (i < 0)
        return -1;
    close(sockets[i].fd);
    sockets[i] = sockets[--nsockets];
    return 0;
}

long ud_drain(long long lid)
{
    long i = find_socket(lid);
    if (i < 0)
        return -1;
    long count = 0;
    unsigned char byte;
    while (count < UD_DRAIN_MAX) {
        ssize_t n = recv(sockets[i].fd, &byte, 1, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        count++;
    }
    return count;
}

size_t ud_count(void)
{
    return nsockets;
}

size_t ud_poll_fill(struct pollfd *p, size_t room)
{
    size_t n = 0;
    for (size_t i = 0; i < nsockets && n < room; i++)
        if (sockets[i].watching)
            p[n++] = (struct pollfd){ sockets[i].fd, POLLIN, 0 };
    return n;
}

void ud_ready(int fd)
{
    for (size_t i = 0; i < nsockets; i++) {
        if (sockets[i].fd != fd || !sockets[i].watching)
            continue;
        /* One report per watch: the daemon watches again when the server it started has ended. */
        sockets[i].watching = 0;
        send_line("{\"t\":\"" REPLY_READABLE "\",\"lid\":%lld}", sockets[i].lid);
        return;
    }
}

/* {"cmd":"ubind"|"watch"|"drain","lid":L[,"path":P]}: a unix datagram socket held for the daemon
 * (udgram.c). ubind answers "bound" (errno 0: bound; a path that is not a string: a warning,
 * then errno EINVAL), drain "drained"; watch answers "readable" later. An unknown lid: watch does
 * nothing, drain answers a count of 0. */
void ud_request(const json_value *msg, const char *cmd)
{
    long long lid;
    if (!json_integer(json_get(msg, "lid"), 0, SPAWND_MAX_ID, &lid)) {
        send_warn("%s request needs an integer lid", cmd);
        return;
    }
    if (strcmp(cmd, CMD_UBIND) == 0) {
        const json_value *path = json_get(msg, "path");
        int err = EINVAL;
        if (path != NULL && path->type == JSON_STRING && strlen(path->u.string.chars) == path->u.string.len)
            err = ud_bind(lid, path->u.string.chars);
        else
            send_warn("ubind request needs a path without NUL");
        send_line("{\"t\":\"" REPLY_BOUND "\",\"lid\":%lld,\"errno\":%d}", lid, err);
    } else if (strcmp(cmd, CMD_WATCH) == 0) {
        (void)ud_watch(lid);
    } else {
        long n = ud_drain(lid);
        send_line("{\"t\":\"" REPLY_DRAINED "\",\"lid\":%lld,\"count\":%ld}", lid, n < 0 ? 0 : n);
    }
}
