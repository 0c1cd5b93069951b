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
 * from spawnd-protocol.h, generated from src/spawn/native/spawnd-protocol.ts when the helper is compiled.
 *
 * The helper starts each child with clone(CLONE_VM | CLONE_VFORK) (see start_shared), so it
 * is suspended until the exec and knows the outcome when clone returns; a forked child (see
 * start_forked) reports a failure through a close-on-exec pipe, whose EOF means the exec
 * succeeded. It reaps with waitpid(-1, WNOHANG) on SIGCHLD (read from a signalfd). When the daemon closes
 * the channel it exits and leaves its children running (after reaping, for at most a
 * second, the servers the daemon has just signalled).
 *
 * The helper's parts: ipc.c (the channel), request.c (what each request asks), children.c (the
 * servers started, reaped and reported), accept.c (accepting for the daemon), udgram.c (unix-domain
 * datagram sockets held for the daemon), child.c (what runs
 * in a child before its exec), json.c; spawnd.h declares what they share. This file is the
 * start-up, the poll loop and the end.
 */
#define _GNU_SOURCE
#include "spawnd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How this binary was built (compiler, linking), set by the build: `tsinetd -version` shows it. */
#ifndef SPAWND_BUILD
#define SPAWND_BUILD "without a label"
#endif
#define LINGER_MS 1000 /* after EOF: how long to wait for servers the daemon just signalled */

static struct pollfd *pfds;
static size_t pfds_cap;

void die(const char *what)
{
    fprintf(stderr, "tsinetd-spawnd: %s: %s\n", what, strerror(errno));
    exit(1);
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
        /* Read by tsinetd (src/spawn/native/helper-binary.ts) to pick a helper it can talk to. */
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
              children_share_vm() ? CHILDREN_CLONE : CHILDREN_FORK);
    flush_out();

    for (;;) {
        size_t need = nchildren + ud_count() + 3;
        if (pfds_cap < need) {
            size_t cap = need * 2;
            struct pollfd *p = realloc(pfds, cap * sizeof *p);
            if (p == NULL)
                die("cannot grow the poll set");
            pfds = p;
            pfds_cap = cap;
        }
        pfds[0] = (struct pollfd){ chan, (short)(POLLIN | (replies.len > 0 ? POLLOUT : 0)), 0 };
        pfds[1] = (struct pollfd){ sig_fd, POLLIN, 0 };
        long long now = now_ms();
        nfds_t first_dgram = 2 + (nfds_t)acc_watch_fill(pfds + 2, now);
        nfds_t first_child = first_dgram + (nfds_t)ud_poll_fill(pfds + first_dgram, pfds_cap - first_dgram);
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
        if (first_dgram > 2 && pfds[2].revents != 0)
            acc_ready_all(now, report_conn, report_accept_error);
        for (nfds_t i = first_dgram; i < first_child; i++)
            if (pfds[i].revents != 0)
                ud_ready(pfds[i].fd);
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
