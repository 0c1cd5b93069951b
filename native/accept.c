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
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(ACC_PEER_TEXT_MAX >= INET6_ADDRSTRLEN + IF_NAMESIZE + 1, "room for a peer with its interface");

typedef struct {
    long long lid;
    int fd;
    long long rest_until_ms; /* 0: not resting */
    int paused;              /* acc_pause(): not watched at all */
    int armed;               /* in the epoll set now */
} listener;

static listener *listeners;
static size_t nlisteners, listeners_cap;
static size_t nresting; /* listeners with rest_until_ms != 0 */

/* The listeners are watched through one epoll set, which the poll loop watches as one
 * descriptor: with poll() over every listener, each wake-up (a request from the daemon, a
 * connection, a child's exit) cost time in proportion to the number of listeners, about 1 ms
 * per wake-up with 10,000 of them. A listener is in the set while it is to be watched: not
 * paused, not resting, and while a pending slot is free (acc_watch_fill). The set's entries
 * carry the listener's index in `listeners`, kept up to date when a listener moves. */
static int ep = -1;
static int watched_when_full; /* the last state applied: 1 while every slot was taken */

/* Accepted connections wait here for the daemon's decision. A connection's id carries its slot:
 * cid = sequence * ACC_MAX_PENDING + slot, so a decision finds its connection at once and a stale
 * id (the slot reused since) is recognised. */
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

/* Puts listener i into the epoll set or takes it out, as its state asks. Returns 0, or -1 with
 * errno when the kernel refused to add it. The entry is taken out before the helper closes the
 * descriptor: the daemon holds the same socket, so closing ours would not remove it. */
static int sync_watch(size_t i)
{
    listener *l = &listeners[i];
    int want = !l->paused && l->rest_until_ms == 0 && nfree > 0;
    if (want == l->armed)
        return 0;
    if (want) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev) != 0)
            return -1;
    } else {
        (void)epoll_ctl(ep, EPOLL_CTL_DEL, l->fd, NULL);
    }
    l->armed = want;
    return 0;
}

static void unwatch(size_t i)
{
    if (listeners[i].armed) {
        (void)epoll_ctl(ep, EPOLL_CTL_DEL, listeners[i].fd, NULL);
        listeners[i].armed = 0;
    }
}

static void set_rest(size_t i, long long until_ms)
{
    if (listeners[i].rest_until_ms == 0 && until_ms != 0)
        nresting++;
    else if (listeners[i].rest_until_ms != 0 && until_ms == 0)
        nresting--;
    listeners[i].rest_until_ms = until_ms;
}

int acc_listen(long long lid, int fd)
{
    init_slots();
    if (ep < 0 && (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -1;
    long i = find_listener(lid);
    if (i >= 0) {
        unwatch((size_t)i);
        close(listeners[i].fd);
        listeners[i].fd = fd;
        set_rest((size_t)i, 0);
        if (sync_watch((size_t)i) != 0) {
            int err = errno;
            listeners[i].fd = -1;
            (void)acc_unlisten(lid);
            errno = err;
            return -1;
        }
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
    listeners[nlisteners++] = (listener){ lid, fd, 0, 0, 0 };
    if (sync_watch(nlisteners - 1) != 0) {
        nlisteners--;
        return -1;
    }
    return 0;
}

int acc_pause(long long lid, int paused)
{
    long i = find_listener(lid);
    if (i < 0)
        return -1;
    listeners[i].paused = paused != 0;
    (void)sync_watch((size_t)i); /* resuming re-adds what was added before: it fits */
    return 0;
}

int acc_unlisten(long long lid)
{
    long i = find_listener(lid);
    if (i < 0)
        return -1;
    unwatch((size_t)i);
    set_rest((size_t)i, 0);
    if (listeners[i].fd >= 0)
        close(listeners[i].fd);
    listeners[i] = listeners[--nlisteners];
    if ((size_t)i < nlisteners && listeners[i].armed) {
        /* The last listener moved into slot i: its entry must name the new index. */
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
        (void)epoll_ctl(ep, EPOLL_CTL_MOD, listeners[i].fd, &ev);
    }
    return 0;
}

size_t acc_listener_count(void)
{
    return nlisteners;
}

size_t acc_watch_fill(struct pollfd *p, long long now_ms)
{
    if (ep < 0)
        return 0;
    int full = slots_ready && nfree == 0;
    if (full != watched_when_full) {
        /* Every slot waits for a decision: let the kernel's backlog hold the rest (and back). */
        watched_when_full = full;
        for (size_t i = 0; i < nlisteners; i++)
            (void)sync_watch(i);
    }
    if (nresting > 0) {
        for (size_t i = 0; i < nlisteners; i++) {
            if (listeners[i].rest_until_ms != 0 && listeners[i].rest_until_ms <= now_ms) {
                set_rest(i, 0);
                (void)sync_watch(i);
            }
        }
    }
    p[0] = (struct pollfd){ ep, POLLIN, 0 };
    return 1;
}

int acc_next_timeout(long long now_ms)
{
    long long best = -1;
    if (nresting == 0)
        return -1;
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

/* Accepts what is waiting on listener li. */
static void accept_on(size_t li, long long now_ms, acc_conn_fn on_conn, acc_error_fn on_error)
{
    int fd = listeners[li].fd;
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
                set_rest(li, now_ms + ACC_REST_MS);
                (void)sync_watch(li);
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

void acc_ready_all(long long now_ms, acc_conn_fn on_conn, acc_error_fn on_error)
{
    struct epoll_event ev[64];
    int n = ep < 0 ? 0 : epoll_wait(ep, ev, 64, 0);
    for (int k = 0; k < n; k++) {
        size_t li = (size_t)ev[k].data.u64;
        /* An entry of this batch may have been taken out by an earlier one (its rest began). */
        if (li < nlisteners && listeners[li].armed)
            accept_on(li, now_ms, on_conn, on_error);
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
