/*
 * accept.c - the helper's listeners and pending connections (see accept.h).
 */
#define _GNU_SOURCE
#include "accept.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(ACC_PEER_TEXT_MAX >= INET6_ADDRSTRLEN + IF_NAMESIZE + 1, "room for a peer with its interface");

typedef struct {
    long long lid;
    int fd;
    long long rest_until_ms; /* 0: not resting */
    int paused;              /* acc_pause(): not polled at all */
} listener;

static listener *listeners;
static size_t nlisteners, listeners_cap;

/* A connection's id carries its slot: cid = sequence * ACC_MAX_PENDING + slot, so a decision
 * finds its connection at once and a stale id (the slot reused since) is recognised. */
static long long pend_cid[ACC_MAX_PENDING];
static int pend_fd[ACC_MAX_PENDING];
static int free_slots[ACC_MAX_PENDING];
static size_t nfree;
static int slots_ready;
static long long sequence;

static void init_slots(void)
{
    if (slots_ready)
        return;
    for (int i = 0; i < ACC_MAX_PENDING; i++) {
        pend_cid[i] = -1;
        pend_fd[i] = -1;
        free_slots[nfree++] = ACC_MAX_PENDING - 1 - i;
    }
    slots_ready = 1;
}

static long find_listener(long long lid)
{
    for (size_t i = 0; i < nlisteners; i++)
        if (listeners[i].lid == lid)
            return (long)i;
    return -1;
}

int acc_listen(long long lid, int fd)
{
    init_slots();
    long i = find_listener(lid);
    if (i >= 0) {
        close(listeners[i].fd);
        listeners[i].fd = fd;
        listeners[i].rest_until_ms = 0;
        return 0;
    }
    if (nlisteners == listeners_cap) {
        size_t cap = listeners_cap ? listeners_cap * 2 : 16;
        listener *l = realloc(listeners, cap * sizeof *l);
        if (l == NULL) {
            errno = ENOMEM;
            return -1;
        }
        listeners = l;
        listeners_cap = cap;
    }
    listeners[nlisteners++] = (listener){ lid, fd, 0, 0 };
    return 0;
}

int acc_pause(long long lid, int paused)
{
    long i = find_listener(lid);
    if (i < 0)
        return -1;
    listeners[i].paused = paused != 0;
    return 0;
}

int acc_unlisten(long long lid)
{
    long i = find_listener(lid);
    if (i < 0)
        return -1;
    close(listeners[i].fd);
    listeners[i] = listeners[--nlisteners];
    return 0;
}

size_t acc_listener_count(void)
{
    return nlisteners;
}

size_t acc_poll_fill(struct pollfd *p, size_t room, long long now_ms)
{
    size_t n = 0;
    if (nfree == 0 && slots_ready)
        return 0; /* every slot waits for a decision: let the kernel's backlog hold the rest */
    for (size_t i = 0; i < nlisteners && n < room; i++) {
        if (listeners[i].paused || listeners[i].rest_until_ms > now_ms)
            continue;
        listeners[i].rest_until_ms = 0;
        p[n++] = (struct pollfd){ listeners[i].fd, POLLIN, 0 };
    }
    return n;
}

int acc_next_timeout(long long now_ms)
{
    long long best = -1;
    for (size_t i = 0; i < nlisteners; i++) {
        long long left = listeners[i].rest_until_ms - now_ms;
        if (listeners[i].rest_until_ms == 0 || listeners[i].paused)
            continue; /* a paused listener wakes nobody: resuming it is a request, which wakes poll */
        if (left < 0)
            left = 0;
        if (best < 0 || left < best)
            best = left;
    }
    return best > 1000000 ? 1000000 : (int)best;
}

/* The peer as Node prints it: dotted quad, or RFC 5952 text (mapped: ::ffff:a.b.c.d). */
static int format_peer(const struct sockaddr_storage *ss, char *addr, size_t len, int *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        *port = ntohs(in->sin_port);
        return inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)len) != NULL;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        *port = ntohs(in6->sin6_port);
        if (inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)len) == NULL)
            return 0;
        /* A link-local peer carries its interface, as Node writes it: fe80::1%eth0. */
        if (in6->sin6_scope_id != 0) {
            char name[IF_NAMESIZE];
            size_t used = strlen(addr);
            if (if_indextoname(in6->sin6_scope_id, name) != NULL)
                snprintf(addr + used, len - used, "%%%s", name);
            else
                snprintf(addr + used, len - used, "%%%u", (unsigned)in6->sin6_scope_id);
        }
        return 1;
    }
    return 0;
}

void acc_ready(int fd, long long now_ms, acc_conn_fn on_conn, acc_error_fn on_error)
{
    long li = -1;
    for (size_t i = 0; i < nlisteners; i++)
        if (listeners[i].fd == fd)
            li = (long)i;
    if (li < 0)
        return;
    for (int k = 0; k < ACC_BURST && nfree > 0; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        /* Blocking (the server gets it as its stdio) and close-on-exec (only the server it is
         * meant for gets it, through dup2). The listener itself is non-blocking. */
        int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                listeners[li].rest_until_ms = now_ms + ACC_REST_MS;
                on_error(listeners[li].lid, errno);
            }
            return;
        }
        char addr[ACC_PEER_TEXT_MAX];
        int port = 0;
        if (!format_peer(&ss, addr, sizeof addr, &port)) {
            close(c); /* not an IP peer: nothing the daemon could decide about */
            continue;
        }
        /* Our end: TCP wrappers' daemon@host patterns, %A and IDENT need the address the client
         * reached (the listener may be bound to every address). */
        char laddr[INET6_ADDRSTRLEN + IF_NAMESIZE + 1] = "";
        struct sockaddr_storage ls;
        socklen_t ll = sizeof ls;
        int lport = 0;
        if (getsockname(c, (struct sockaddr *)&ls, &ll) != 0 || !format_peer(&ls, laddr, sizeof laddr, &lport))
            laddr[0] = '\0';
        int slot = free_slots[--nfree];
        long long cid = ++sequence * ACC_MAX_PENDING + slot;
        pend_cid[slot] = cid;
        pend_fd[slot] = c;
        on_conn(listeners[li].lid, cid, addr, port, laddr);
    }
}

int acc_take(long long cid)
{
    if (cid < 0 || !slots_ready)
        return -1;
    int slot = (int)(cid % ACC_MAX_PENDING);
    if (pend_cid[slot] != cid)
        return -1;
    int fd = pend_fd[slot];
    pend_cid[slot] = -1;
    pend_fd[slot] = -1;
    free_slots[nfree++] = slot;
    return fd;
}

int acc_peek_sender(int fd, char *addr, size_t len, int *port)
{
    /* A pending error (ICMP port unreachable for an earlier reply...) is returned once by the
     * next receive, which clears it: it is not the queued datagram's, so look again. */
    for (int tries = 0; tries < 4; tries++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        unsigned char byte;
        memset(&ss, 0, sizeof ss);
        ssize_t n = recvfrom(fd, &byte, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
        if (n < 0) {
            if (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH ||
                errno == EHOSTDOWN || errno == ENETDOWN || errno == EMSGSIZE)
                continue;
            return -1;
        }
        if (!format_peer(&ss, addr, len, port)) {
            errno = EAFNOSUPPORT;
            return -1;
        }
        return 0;
    }
    errno = EAGAIN;
    return -1;
}
