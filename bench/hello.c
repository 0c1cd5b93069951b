/*
 * hello.c - the program the benchmark's S1 scenario spawns per connection (built by
 * bench/run.mjs): one write of one line to the socket on fd 1, then exit.
 */
#include <unistd.h>

int main(void) {
    static const char line[] = "hello from the spawned server\n";
    return write(1, line, sizeof line - 1) == (ssize_t)(sizeof line - 1) ? 0 : 1;
}
