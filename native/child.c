/*
 * child.c - the set-up done in the forked child before execve, in xinetd's order
 * (measured on xinetd 2.3.15.3 and read in its child.c): credentials (supplementary
 * groups, gid, uid), umask, nice, rlimits, setsid, exec. The socket is put on fds 0-2 and
 * the other descriptors closed first; that order is not observable by the program.
 *
 * Consequences of that order, kept on purpose for drop-in behaviour: nice and rlimits are
 * applied after the switch to the service user, so a negative nice or a limit above the
 * current hard limit silently has no effect for a non-root service (as in xinetd), and
 * their failures are ignored (xinetd casts them to void). Supplementary groups and the gid
 * are only changed when running as root (xinetd skips them otherwise); a failing setuid
 * is an error. The working directory is "/" as in xinetd.
 */
#define _GNU_SOURCE
#include "child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *child_stage_name(int stage)
{
    switch (stage) {
    case STAGE_DUP2: return STAGE_NAME_DUP2;
    case STAGE_SETGROUPS: return STAGE_NAME_SETGROUPS;
    case STAGE_SETGID: return STAGE_NAME_SETGID;
    case STAGE_SETUID: return STAGE_NAME_SETUID;
    case STAGE_EXEC: return STAGE_NAME_EXEC;
    default: return STAGE_NAME_UNKNOWN;
    }
}

static void fail(child_outcome out, int stage, int err) __attribute__((noreturn));
static void fail(child_outcome out, int stage, int err)
{
    if (out.shared != NULL) {
        out.shared->err = err;
        out.shared->stage = stage;
    } else {
        child_report r = { stage, err };
        ssize_t n;
        do
            n = write(out.fd, &r, sizeof r);
        while (n < 0 && errno == EINTR);
    }
    _exit(127);
}

int child_can_share_vm(void)
{
#ifdef SYS_close_range
    /* A range holding no open descriptor: 0 where the call exists, ENOSYS where it does not. */
    return syscall(SYS_close_range, (unsigned)INT_MAX - 1, (unsigned)INT_MAX - 1, 0u) == 0;
#else
    return 0;
#endif
}

/* Closes every descriptor from `lowfd` up, except `keep` (-1: none). */
static void close_from(int lowfd, int keep, int shared_vm)
{
#ifdef SYS_close_range
    /* Two ranges around the descriptor we keep. */
    int ok = 1;
    if (keep > lowfd && syscall(SYS_close_range, (unsigned)lowfd, (unsigned)keep - 1, 0u) != 0)
        ok = 0;
    unsigned from = keep >= lowfd ? (unsigned)keep + 1 : (unsigned)lowfd;
    if (ok && syscall(SYS_close_range, from, ~0u, 0u) == 0)
        return;
#endif
    /* opendir allocates: only in a forked copy (the helper checked close_range before sharing). */
    DIR *d = shared_vm ? NULL : opendir("/proc/self/fd");
    if (d != NULL) {
        int dfd = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end;
            long fd = strtol(e->d_name, &end, 10);
            if (*end == '\0' && end != e->d_name && fd >= lowfd && fd != keep && fd != dfd)
                close((int)fd);
        }
        closedir(d);
        return;
    }
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = lowfd; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

const int helper_ignored[4] = { SIGPIPE, SIGINT, SIGQUIT, SIGHUP };

/* The helper set every other signal to its default at start-up, so only these change. */
static void reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof helper_ignored / sizeof helper_ignored[0]; i++)
        (void)sigaction(helper_ignored[i], &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static const int rlimit_resource[RL_COUNT] = {
    [RL_AS] = RLIMIT_AS,
    [RL_CPU] = RLIMIT_CPU,
    [RL_DATA] = RLIMIT_DATA,
    [RL_RSS] = RLIMIT_RSS,
    [RL_STACK] = RLIMIT_STACK,
    [RL_FILES] = RLIMIT_NOFILE,
};

void child_exec(const spawn_request *req, int sock, child_outcome out)
{
    int shared_vm = out.shared != NULL;
    reset_signals();

    /* The helper keeps fds 0-2 open, so sock and the report pipe are both >= 3 here. Done before
     * the identity switch, which can make /proc/self/fd unreadable (close_from's fallback). */
    for (int fd = 0; fd <= 2; fd++)
        if (dup2(sock, fd) != fd)
            fail(out, STAGE_DUP2, errno);
    close_from(3, out.fd, shared_vm);
    /* Node's sockets are non-blocking and fds 0-2 share that file description: servers
     * expect blocking stdio (xinetd's sockets are), as libuv also arranges for its children. */
    int fl = fcntl(0, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        (void)fcntl(0, F_SETFL, fl & ~O_NONBLOCK);

    /* The credentials calls are made as raw system calls: they change this process only.
     * (The C library's wrappers would also try to apply them to every thread of the caller,
     * through state that a child sharing the helper's memory must not touch.) */
    if (geteuid() == 0) {
        if (req->has_groups) {
            if (syscall(SYS_setgroups, (size_t)req->ngroups, req->groups) != 0)
                fail(out, STAGE_SETGROUPS, errno);
        } else if (req->has_uid || req->has_gid) {
            /* Switching identity drops the daemon's own supplementary groups. */
            if (syscall(SYS_setgroups, (size_t)0, NULL) != 0)
                fail(out, STAGE_SETGROUPS, errno);
        }
        if (req->has_gid && syscall(SYS_setgid, req->gid) != 0)
            fail(out, STAGE_SETGID, errno);
    }
    if (req->has_uid && syscall(SYS_setuid, req->uid) != 0)
        fail(out, STAGE_SETUID, errno);

    umask(req->umask);
    if (req->has_nice) {
        errno = 0;
        (void)nice(req->nice);
    }

    for (int i = 0; i < RL_COUNT; i++) {
        if (req->rlimit_set[i]) {
            struct rlimit rl = { req->rlimit[i], req->rlimit[i] };
            (void)setrlimit(rlimit_resource[i], &rl);
        }
    }

    (void)setsid();
    (void)chdir("/");

    execve(req->path, req->argv, req->envp);
    fail(out, STAGE_EXEC, errno);
}
