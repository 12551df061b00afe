/*
 * test_resend.c — the sender's side of an ACK's "resend" list
 * (link_rx_resend, docs/protocol.md "What the sender does"): an
 * out-of-order entry the receiver ignored is taken back from the frames in
 * flight, so that it goes again, but only if we sent it out of order and
 * the receiver does not hold it after all; a malformed list is refused
 * with a message naming it, and nothing changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "nodeint.h"

/* A sender with entries 5, 9 and 12 in flight out of order; the receiver
 * holds everything below 6 and 12 beyond it. */
static void sender(struct npeer *p)
{
	static const uint64_t fly[] = { 5, 9, 12 };
	size_t i;

	memset(p, 0, sizeof *p);
	for (i = 0; i < 3; i++) {
		assert_int_equal(idxset_add(&p->ooo_sent, fly[i]), 1);
		p->oofly[p->noofly].idx = fly[i];
		p->oofly[p->noofly++].bytes = 300;
	}
	p->r_size = 6;
	assert_int_equal(idxset_add(&p->r_also, 12), 1);
}

static void sender_free(struct npeer *p)
{
	idxset_clear(&p->ooo_sent);
	idxset_clear(&p->r_also);
}

static int in_flight(const struct npeer *p, uint64_t idx)
{
	size_t i;

	for (i = 0; i < p->noofly; i++)
		if (p->oofly[i].idx == idx)
			return 1;
	return 0;
}

static void test_only_unheld_entries_we_sent_go_again(void **state)
{
	struct npeer p;
	struct perr e;
	json_t *redo = json_pack("[i, i, i, i, i]", 3, 5, 9, 12, 40);

	(void)state;
	sender(&p);
	/* 3 and 5: below the receiver's size; 12: held beyond it; 40: never
	 * sent out of order.  Only 9 goes again. */
	assert_int_equal(link_rx_resend(&p, redo, &e), 1);
	assert_false(idxset_has(&p.ooo_sent, 9));
	assert_false(in_flight(&p, 9));
	assert_true(idxset_has(&p.ooo_sent, 5));
	assert_true(idxset_has(&p.ooo_sent, 12));
	assert_true(in_flight(&p, 5));
	assert_true(in_flight(&p, 12));
	assert_int_equal(p.noofly, 2);
	/* Asked again (an ACK repeated): nothing left to take back. */
	assert_int_equal(link_rx_resend(&p, redo, &e), 0);
	assert_int_equal(p.noofly, 2);
	json_decref(redo);
	sender_free(&p);
}

static void test_no_list_changes_nothing(void **state)
{
	struct npeer p;
	struct perr e;

	(void)state;
	sender(&p);
	assert_int_equal(link_rx_resend(&p, NULL, &e), 0);
	assert_int_equal(p.noofly, 3);
	assert_int_equal(p.ooo_sent.n, 3);
	sender_free(&p);
}

static void refused(json_t *redo, const char *msg)
{
	struct npeer p;
	struct perr e;

	sender(&p);
	e.msg[0] = '\0';
	assert_int_equal(link_rx_resend(&p, redo, &e), -1);
	if (strstr(e.msg, msg) == NULL)
		fail_msg("message \"%s\" does not name \"%s\"", e.msg, msg);
	/* A malformed list takes nothing back, even what it named first. */
	assert_int_equal(p.noofly, 3);
	assert_int_equal(p.ooo_sent.n, 3);
	json_decref(redo);
	sender_free(&p);
}

static void test_malformed_lists_are_refused(void **state)
{
	json_t *many = json_array();
	size_t i;

	(void)state;
	refused(json_string("9"), "resend is not an array");
	refused(json_pack("[i, i]", 9, -1), "resend[1] is not an index");
	refused(json_pack("[i, s]", 9, "12"), "resend[1] is not an index");
	for (i = 0; i <= ENV_MAX_ALSO; i++)
		json_array_append_new(many, json_integer((json_int_t)i));
	refused(many, "at most");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_unheld_entries_we_sent_go_again),
		cmocka_unit_test(test_no_list_changes_nothing),
		cmocka_unit_test(test_malformed_lists_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
