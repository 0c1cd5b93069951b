#!/bin/sh
# Entry point of the example container (examples/Dockerfile): starts the application, then
# becomes tsinetd, in the foreground (-dontfork), with the arguments it was given (CMD).
#
# The application is started through a subshell that exits at once, so that it is re-parented
# to PID 1 (tini), which reaps it if it dies; tsinetd (Node.js) only reaps its own servers.
# `tini -g` sends docker stop's SIGTERM to the whole process group: tsinetd and the application.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
( node "$root/examples/container/app.mjs" & )
exec node "$root/build/bin/tsinetd.mjs" -dontfork "$@"
