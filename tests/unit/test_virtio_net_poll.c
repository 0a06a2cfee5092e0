/*
 * virtio_net_poll under the real NAPI scheduler (lib/napi.c), against a
 * simulated device: the budget, re-arming interrupts, and the lost-wake-up
 * race of Linux's virtqueue_napi_complete; with split and with packed rings,
 * which the driver does not tell apart.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/napi.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_net_env.h"

#define FRAME_LEN 60

extern unsigned long vnenv_error_lines;

static void check_env_clean(struct vnenv *e)
{
    CHECK_EQ(e->rx.errors, 0);
    CHECK_EQ(e->tx.errors, 0);
    CHECK_EQ(vnenv_error_lines, 0);
    const struct virtio_net_stats *s = virtio_net_stats(e->nic);
    CHECK_EQ(s->queues_broken, 0);
}

/* The driver got the ring format asked for, on both queues. */
static void check_ring_format(struct vnenv *e, bool packed)
{
    for (unsigned q = 0; q < 2; q++)
        CHECK_EQ(virtio_net_device(e->nic)->vqs[q]->format, packed ? VIRTQUEUE_PACKED : VIRTQUEUE_SPLIT);
}

static void budget_exhausted(bool event_idx, bool packed)
{
    struct vnenv *e = vnenv_get(event_idx, packed);
    CHECK(e != NULL);
    if (!e)
        return;
    check_ring_format(e, packed);
    uint64_t exhausted_before = virtio_net_stats(e->nic)->budget_exhausted;
    CHECK_EQ(vnenv_receive(e, 20, FRAME_LEN), 1); /* callbacks on: one interrupt */
    CHECK(napi_pending());

    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 8);
    CHECK_EQ(virtio_net_stats(e->nic)->budget_exhausted, exhausted_before + 1);
    CHECK(napi_pending()); /* stays scheduled for the rest */
    /* Callbacks stay off while it is scheduled: a new frame raises no interrupt. */
    CHECK_EQ(vnenv_receive(e, 1, FRAME_LEN), 0);

    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 16);
    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 21);
    CHECK(!napi_pending()); /* under budget: completed */
    CHECK_EQ(vnenv_rx_unseen(e), 0);
    check_env_clean(e);
}

TEST(virtio_net_poll_budget_exhausted_stays_scheduled_event_idx) { budget_exhausted(true, false); }
TEST(virtio_net_poll_budget_exhausted_stays_scheduled_flags) { budget_exhausted(false, false); }
TEST(virtio_net_poll_budget_exhausted_stays_scheduled_packed_event_idx) { budget_exhausted(true, true); }
TEST(virtio_net_poll_budget_exhausted_stays_scheduled_packed_flags) { budget_exhausted(false, true); }

static void under_budget_rearms(bool event_idx, bool packed)
{
    struct vnenv *e = vnenv_get(event_idx, packed);
    CHECK(e != NULL);
    if (!e)
        return;
    check_ring_format(e, packed);
    CHECK_EQ(vnenv_receive(e, 3, FRAME_LEN), 1);
    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 3);
    CHECK(!napi_pending());
    /* Re-armed: the next frame interrupts and is received. */
    CHECK_EQ(vnenv_receive(e, 1, FRAME_LEN), 1);
    CHECK(napi_pending());
    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 4);
    CHECK(!napi_pending());
    check_env_clean(e);
}

TEST(virtio_net_poll_under_budget_rearms_interrupts_event_idx) { under_budget_rearms(true, false); }
TEST(virtio_net_poll_under_budget_rearms_interrupts_flags) { under_budget_rearms(false, false); }
TEST(virtio_net_poll_under_budget_rearms_interrupts_packed_event_idx) { under_budget_rearms(true, true); }
TEST(virtio_net_poll_under_budget_rearms_interrupts_packed_flags) { under_budget_rearms(false, true); }

/* A frame the device published while callbacks were still off (it looked at
 * the suppression before the driver's enable landed), so no interrupt comes. */
static void frame_lands_unseen(struct vnenv *e) { vnenv_receive_silently(e, 1, FRAME_LEN); }

static void race_between_enable_and_check(bool event_idx, bool packed)
{
    struct vnenv *e = vnenv_get(event_idx, packed);
    CHECK(e != NULL);
    if (!e)
        return;
    check_ring_format(e, packed);
    CHECK_EQ(vnenv_receive(e, 2, FRAME_LEN), 1);
    e->after_enable_prepare = frame_lands_unseen;
    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 2);
    CHECK(e->after_enable_prepare == NULL); /* the race was staged */
    /* The poll's second look must have seen it and rescheduled itself. */
    CHECK(napi_pending());
    vnenv_run_polls(e);
    CHECK_EQ(e->frames_received, 3);
    CHECK_EQ(vnenv_rx_unseen(e), 0);
    CHECK(!napi_pending());
    check_env_clean(e);
}

TEST(virtio_net_poll_frame_between_enable_and_check_reschedules_event_idx) { race_between_enable_and_check(true, false); }
TEST(virtio_net_poll_frame_between_enable_and_check_reschedules_flags) { race_between_enable_and_check(false, false); }
TEST(virtio_net_poll_frame_between_enable_and_check_reschedules_packed_event_idx) { race_between_enable_and_check(true, true); }
TEST(virtio_net_poll_frame_between_enable_and_check_reschedules_packed_flags) { race_between_enable_and_check(false, true); }
