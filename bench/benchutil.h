/*
 * benchutil.h — what the benchmark programs of bench/ share.
 *
 * Each bench/X.c is its own program, linked with benchutil.c: clocks, the
 * fatal-error path with the program's cleanup, a scratch directory that
 * goes away on exit and on a fatal signal, child processes, the RESULT
 * line format, order statistics and the machine facts the headers print.
 * Not part of libparley: nothing in src/ may depend on it.
 *
 * One process, one thread for everything that dies or cleans up: bu_die
 * and the signal handler run the callbacks registered here, which touch
 * the program's globals.  Worker threads report errors to the main thread
 * instead of calling bu_die.
 */
#ifndef PARLEY_BENCHUTIL_H
#define PARLEY_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- fatal errors, cleanup --------------------------------------------- */

/* The name bu_die puts before its message ("bench node" -> "bench node: ..."). */
void bu_set_name(const char *name);

/* What bu_die, exit and a fatal signal run to leave nothing behind (stop
 * children, remove the scratch directory).  Must be idempotent and, as it
 * runs in a signal handler, use only async-signal-safe calls where it can.
 * NULL: nothing. */
void bu_set_cleanup(void (*cleanup)(void));

/* What bu_die prints after its message and before the cleanup to explain
 * a failure (e.g. the last lines a server wrote).  NULL: nothing. */
void bu_set_explain(void (*explain)(void));

/* Prints "NAME: message" on stderr (stdout flushed first, so the two stay
 * in order), explains, cleans up and exits with status 1. */
void bu_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Runs the cleanup at exit and on SIGINT, SIGTERM and SIGHUP, after which
 * the program dies of the signal as it would have. */
void bu_catch_signals(void);

/* ---- files, directories ------------------------------------------------ */

/* A fresh private directory parent/tmpl (tmpl ends in XXXXXX, see mkdtemp);
 * its absolute real path goes to out, with at least BU_DIR_ROOM bytes of
 * cap left for the names of the files under it.  parent NULL: build/ when
 * there is one (the project's disk), else the current directory.  Dies on
 * failure, leaving nothing behind. */
#define BU_DIR_ROOM 64
void bu_make_dir(char *out, size_t cap, const char *parent, const char *tmpl);

/* Removes path and everything under it, never following a symbolic link.
 * Errors are ignored: this is cleanup, and what cannot go stays. */
void bu_rmtree(const char *path);

/* Copies the last tail bytes (at most 4096) of the file at path to stderr
 * between "--- end of PATH ---" and "--- end ---"; nothing if it is empty
 * or cannot be read. */
void bu_dump_log(const char *path, size_t tail);

/* ---- processes --------------------------------------------------------- */

/* SIGTERM, wait up to limit seconds for a clean exit, then SIGKILL.
 * Returns the wait status, or -1 when pid cannot be waited for. */
int bu_stop(pid_t pid, double limit);

/* CPU seconds (user + system) pid has used so far, from /proc/PID/stat,
 * or -1 when unknown. */
double bu_proc_cpu(pid_t pid);

/* Bytes pid (all its threads) has caused to be written to storage so far
 * ("write_bytes" of /proc/PID/io), or -1 when unknown. */
double bu_proc_write_bytes(pid_t pid);

/* A loopback TCP port the kernel considers free now, never one this
 * process was given among the last 256.  Another process may take it
 * before it is bound; the server then fails to start and says so. */
int bu_free_port(void);

/* ---- clocks ------------------------------------------------------------ */

/* Seconds on CLOCK_MONOTONIC: for intervals. */
double bu_now(void);

/* CPU seconds this process has used (all threads). */
double bu_cpu(void);

/* Sleeps secs seconds (nothing if secs <= 0), resuming after signals. */
void bu_sleep(double secs);

/* ---- numbers ----------------------------------------------------------- */

/* splitmix64: a fixed seed gives the same sequence on every run. */
uint64_t bu_rand(uint64_t *state);

/* qsort comparison of doubles, ascending. */
int bu_cmp_double(const void *a, const void *b);

/* Median of v[0..n-1], 1 <= n <= BU_MEDIAN_MAX; v is left as it was. */
#define BU_MEDIAN_MAX 64
double bu_median(const double *v, int n);

/* One figure as "RESULT <name> <value>": no decimals from 100 up, three
 * below.  Other tools parse these lines: the format must not change. */
void bu_result(const char *name, double v);

/* ---- the machine ------------------------------------------------------- */

/* The CPU model of the first processor in /proc/cpuinfo ("unknown" when
 * it says none); returns the number of processors listed there. */
int bu_cpu_model(char *out, size_t cap);

/* The mount holding dir, from /proc/self/mountinfo: the longest mount
 * point that prefixes dir's real path (a later one shadows an earlier
 * one), as "FSTYPE on SOURCE, mounted at MOUNTPOINT", else "unknown".
 * With rotational, ", sysfs: rotational" or ", sysfs: non-rotational" is
 * added when sysfs tells for the source device. */
void bu_filesystem(const char *dir, int rotational, char *out, size_t cap);

#endif
