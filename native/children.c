/*
 * children.c - the servers the helper started: starting one (clone(CLONE_VM | CLONE_VFORK), or
 * fork where that cannot be used), its exec report, reaping on SIGCHLD (read from a signalfd)
 * and the exit reported to the daemon. child.c is what runs in the child itself.
 */
#define _GNU_SOURCE
#include "spawnd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

int sig_fd = -1; /* signalfd for SIGCHLD, which stays blocked */
child_entry *children;
size_t nchildren;
static size_t children_cap;

/* ---- children -------------------------------------------------------------------------- */

long find_child(pid_t pid)
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
void settle_status(child_entry *c, int exited)
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

void reap(void)
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
void choose_child_start(void)
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
void start_child(spawn_request *req, int sock)
{
    ensure_children_capacity();
    if (child_stack != MAP_FAILED)
        start_shared(req, sock);
    else
        start_forked(req, sock);
}

int signalled_left(void)
{
    int n = 0;
    for (size_t i = 0; i < nchildren; i++)
        if (children[i].signalled && children[i].state != CHILD_FAILED)
            n++;
    return n;
}


int children_share_vm(void)
{
    return child_stack != MAP_FAILED;
}
