/*
 * test_kill.c — "a process killed at any moment reopens to exactly the last
 * committed batch" (store.h), with real SIGKILLs.
 *
 * Each round forks a child that opens the store and appends batches in a
 * loop.  Batch i has 1 + (a pseudo-random number from KILL_SEED and i) mod
 * 300 entries, and entry j's bytes are stt_entry(KILL_SEED, j), so parent
 * and child agree on every batch boundary and every byte without talking.
 * After each store_append returns, the child writes the new size to a pipe:
 * its acknowledgment.  The parent kills it with SIGKILL after 2 to 100 ms,
 * reaps it, reads the acknowledgments, reopens the store and checks:
 *
 *   - the size is at least the last acknowledged size, is a batch boundary,
 *     and is at most one batch beyond the last acknowledgment (a batch may
 *     be committed and not yet acknowledged, never half-committed);
 *   - every new entry has the right bytes, the root at the new size is the
 *     root of the leaf hashes computed here, the root at the previous
 *     round's size is unchanged and a consistency proof links the two;
 *
 * and the next round goes on appending to the same database.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "storetest.h"

#define KILL_ORIGIN "kill.example/log"
#define KILL_SEED 0x6b696c6c2d396bULL
#define KILL_ROUNDS 24
#define KILL_BATCH_MAX 300
/* A child appends at most this many batches, then waits to be killed: on
 * a disk whose syncs are nearly free the log must not grow without bound. */
#define KILL_BATCHES_PER_ROUND 60

/* The size of batch i of the sequence. */
static uint64_t kill_batch_len(uint64_t i)
{
	uint64_t st = KILL_SEED ^ (i * 0x9e3779b97f4a7c15ULL);

	return 1 + stt_rand(&st) % KILL_BATCH_MAX;
}

/* Index of the batch that starts at size, or -1 if size is not a batch
 * boundary. */
static int64_t kill_boundary_index(uint64_t size)
{
	uint64_t b = 0, i = 0;

	while (b < size)
		b += kill_batch_len(i++);
	return b == size ? (int64_t)i : -1;
}

/* The child: never returns, never runs atexit handlers or flushes the
 * parent's stdio buffers (_exit).  Exit codes say what went wrong. */
static void kill_child(const char *path, int ack) __attribute__((noreturn));
static void kill_child(const char *path, int ack)
{
	static uint8_t buf[KILL_BATCH_MAX][STT_ENTRY_CAP];
	const void *ent[KILL_BATCH_MAX];
	size_t lens[KILL_BATCH_MAX];
	struct store *s;
	struct store_log *l;
	struct perr e;
	uint64_t size, j;
	int64_t i;
	int k;

	if (store_open(&s, path, 0, NULL, &e) != 0)
		_exit(10);
	if (store_log_open(s, KILL_ORIGIN, &l, &e) != 0)
		_exit(11);
	size = store_log_size(l);
	i = kill_boundary_index(size);
	if (i < 0)
		_exit(12);
	for (k = 0; k < KILL_BATCHES_PER_ROUND; k++, i++) {
		uint64_t n = kill_batch_len((uint64_t)i);
		for (j = 0; j < n; j++) {
			lens[j] = stt_entry(KILL_SEED, size + j, buf[j]);
			ent[j] = buf[j];
		}
		if (store_append(l, ent, lens, (size_t)n, NULL, &e) != 0)
			_exit(13);
		size += n;
		if (write(ack, &size, sizeof size) != (ssize_t)sizeof size)
			_exit(14);
	}
	for (;;)
		pause();
}

static void kill_sleep_us(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One round: fork, let the child append for delay_us, SIGKILL, reap.
 * Returns the last acknowledged size (start if none) and the number of
 * acknowledgments.  Fails the test only after the child is reaped. */
static uint64_t kill_round(const char *path, uint64_t start, uint64_t delay_us,
			   unsigned *acks)
{
	int fds[2], status = 0;
	uint64_t last = start, v;
	pid_t pid;
	ssize_t r;

	*acks = 0;
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);   /* nothing of ours is left for the child to flush */
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		kill_child(path, fds[1]);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		fail_msg("fork failed");
	}
	kill_sleep_us(delay_us);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* The child is gone: the pipe holds every acknowledgment it wrote. */
	while ((r = read(fds[0], &v, sizeof v)) == (ssize_t)sizeof v) {
		if (v <= last)
			fail_msg("acknowledgments out of order: %llu after %llu",
				 (unsigned long long)v, (unsigned long long)last);
		last = v;
		(*acks)++;
	}
	close(fds[0]);
	if (r != 0)
		fail_msg("torn acknowledgment on the pipe");
	if (WIFEXITED(status))
		fail_msg("the child exited with code %d before it was killed "
			 "(10 open, 11 log open, 12 size not a batch boundary, "
			 "13 append, 14 pipe)", WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	return last;
}

/* The scratch directory, removed even when the test fails. */
static int kill_setup(void **state)
{
	*state = stt_tmpdir();
	return 0;
}

static int kill_teardown(void **state)
{
	stt_rmtree(*state);
	free(*state);
	return 0;
}

static void test_kill_rounds(void **state)
{
	char *path = stt_join(*state, "kill.db");
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	merkle_hash prev_root;
	uint64_t rng = 0x6b696c6c, prev = 0;
	unsigned round, with_acks = 0, unacked_landed = 0, total_acks = 0;
	struct perr e;

	stt_model_init(&m, KILL_SEED);
	stt_open(&s, &l, path, 1, NULL, KILL_ORIGIN);
	store_close(s);
	stt_model_root(&m, 0, prev_root);

	for (round = 0; round < KILL_ROUNDS; round++) {
		uint64_t delay = 2000 + stt_below(&rng, 98001), last, size, next;
		merkle_hash proof[MERKLE_MAX_PROOF], root;
		size_t len;
		unsigned acks;
		int64_t bi;

		last = kill_round(path, prev, delay, &acks);
		total_acks += acks;
		with_acks += acks > 0;

		stt_open(&s, &l, path, 0, NULL, KILL_ORIGIN);
		size = store_log_size(l);
		if (size < last)
			fail_msg("round %u: reopened at %llu entries, but %llu were "
				 "acknowledged", round, (unsigned long long)size,
				 (unsigned long long)last);
		bi = kill_boundary_index(last);
		assert_true(bi >= 0);
		next = last + kill_batch_len((uint64_t)bi);
		if (size != last && size != next)
			fail_msg("round %u: reopened at %llu entries; last acknowledged "
				 "%llu, the batch after it ends at %llu", round,
				 (unsigned long long)size, (unsigned long long)last,
				 (unsigned long long)next);
		unacked_landed += size == next;

		while (m.n < size)
			stt_model_push(&m);
		stt_check_entries(l, &m, prev, size, 0);
		stt_check_root(l, &m, size);
		/* The previous round's root is still the root at its size. */
		assert_int_equal(store_root(l, prev, root, &e), 0);
		assert_memory_equal(root, prev_root, MERKLE_HASH);
		stt_model_root(&m, size, root);
		if (prev > 0) {
			assert_int_equal(store_prove_consistency(l, prev, size, proof, &len, &e), 0);
			assert_int_equal(merkle_verify_consistency(prev, size,
								   (const merkle_hash *)proof,
								   len, prev_root, MERKLE_HASH,
								   root, MERKLE_HASH, &e), 0);
		}
		if (size > 0)
			stt_check_tiles(l, &m, 0, &rng);
		store_close(s);
		prev = size;
		memcpy(prev_root, root, MERKLE_HASH);
	}

	/* Every entry and tile of the final log. */
	stt_open(&s, &l, path, 0, NULL, KILL_ORIGIN);
	stt_check_entries(l, &m, 0, m.n, 0);
	stt_check_tiles(l, &m, 1, &rng);
	store_close(s);
	print_message("%u rounds, %u with acknowledgments (%u in all), %u ended with a "
		      "committed but unacknowledged batch; %llu entries\n",
		      KILL_ROUNDS, with_acks, total_acks, unacked_landed,
		      (unsigned long long)m.n);
	/* The kills must have landed while the child was appending. */
	assert_true(with_acks >= KILL_ROUNDS / 3);
	stt_model_free(&m);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_rounds, kill_setup, kill_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
