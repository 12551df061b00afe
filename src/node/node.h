/*
 * node.h — parley's daemon: `parley serve DIR`.
 *
 * Runs the node in DIR in the foreground until SIGTERM or SIGINT: its
 * paths to every pinned peer, its outbound logs and the mirrors of the
 * peers' logs, and its HTTP API.  Logs go to stderr, one line an event.
 * Returns 0 after a clean shutdown, -1 (e filled) if it could not start.
 */
#ifndef PARLEY_NODE_H
#define PARLEY_NODE_H

#include "err.h"

int node_serve(const char *dir, struct perr *e);

#endif
