/*
 * libFuzzer harness: the packed virtqueue's used-side consumer
 * (drivers/virtio/virtqueue.c and vq_packed.c), with the fuzz input playing
 * the device, honest or not. The harness holds a small honest device (it
 * takes the chains the driver made available, checking that each is well
 * formed, and completes them in any order the input picks, at the right
 * position with the right wrap counter) and lets the input lie beside it:
 * any descriptor rewritten with any id, length and flags, or a used
 * descriptor at the device's position naming any id and moving the
 * position on by any amount. Queue sizes need not be powers of two.
 *
 * Checked: every token returned was in flight and is returned once, with
 * no more bytes than were writable; while the queue is not broken, its
 * free count and the chains in flight add up; once broken nothing comes
 * back from get_buf and add refuses; at most one report, and one exactly
 * when broken; in the end detach_unused gives back every chain still out.
 * Everything is freed, so LeakSanitizer sees any leak.
 *
 * Input: byte 0 configures (bits 0-2: queue size 2, 3, 4, 5, 7, 8, 13 or
 * 16; bit 3: EVENT_IDX; bit 4: INDIRECT_DESC; bits 5-7: chains added
 * first). Then operations, an opcode byte and its operands (missing bytes
 * read as 0):
 *   0 lie: slot byte, id u16, len u32, flags u16 -> descriptor slot % num
 *   1 lie: id u16, len u32, step byte: a used descriptor at the device's
 *     position, which moves on by step % 4 + 1
 *   2 the honest device takes every chain made available
 *   3 the honest device completes one it holds: pick byte, len u32
 *     (len is reported as is: past the writable bytes is a lie too)
 *   4 drain: get_buf until NULL
 *   5 add a chain: counts byte (out 0-3, in 0-3), lengths bytes; then kick
 *   6 disable / enable callbacks (byte bit 0)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio/virtqueue.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define MAX_TOKENS 512
#define MAX_QUEUE 16

struct token {
    bool in_flight;
    bool returned;
    uint32_t writable;
};

static struct token tokens[MAX_TOKENS];
static unsigned tokens_used;
static unsigned reports;
static uint8_t buffers[64][256]; /* what the chains point at; never touched by the queue */

/* The honest device: its two positions, and the chains it holds. */
struct device {
    struct vring_packed vr;
    uint16_t avail_pos, used_pos;
    bool avail_wrap, used_wrap;
    struct {
        uint16_t id, descs;
    } held[MAX_QUEUE];
    unsigned nheld;
};

static void env_notify(struct virtqueue *vq, void *ctx)
{
    (void)vq;
    (void)ctx;
}

static void *env_alloc(size_t bytes) { return malloc(bytes); }
static void env_free(void *ptr) { free(ptr); }

static void env_report(const char *message)
{
    CHECK(message != NULL);
    CHECK(strlen(message) < 4096);
    reports++;
}

struct input {
    const uint8_t *p;
    size_t left;
};

static uint8_t in_u8(struct input *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

static uint16_t in_u16(struct input *in)
{
    uint16_t lo = in_u8(in);
    return (uint16_t)(lo | in_u8(in) << 8);
}

static uint32_t in_u32(struct input *in)
{
    uint32_t lo = in_u16(in);
    return lo | (uint32_t)in_u16(in) << 16;
}

static void advance(const struct device *d, uint16_t *pos, bool *wrap, unsigned n)
{
    unsigned next = *pos + n;
    while (next >= d->vr.num) {
        next -= d->vr.num;
        *wrap = !*wrap;
    }
    *pos = (uint16_t)next;
}

/* Takes every available chain. Until the input has lied, the driver must
 * have written each one whole and right: every descriptor available in its
 * own lap, one id throughout, INDIRECT alone. After a lie the ring may hold
 * anything, and the device just stops at the first thing it cannot take. */
static void device_take_all(struct device *d, bool strict)
{
    while (d->nheld < d->vr.num && vring_packed_is_avail(d->vr.desc[d->avail_pos].flags, d->avail_wrap)) {
        uint16_t id = d->vr.desc[d->avail_pos].id, descs = 0, pos = d->avail_pos;
        bool wrap = d->avail_wrap, whole = true;
        for (;;) {
            const struct vring_packed_desc *e = &d->vr.desc[pos];
            bool ok = vring_packed_is_avail(e->flags, wrap) && e->id == id &&
                      (!(e->flags & VRING_DESC_F_INDIRECT) || (descs == 0 && !(e->flags & VRING_DESC_F_NEXT)));
            CHECK(ok || !strict);
            if (!ok) {
                whole = false;
                break;
            }
            descs++;
            advance(d, &pos, &wrap, 1);
            if (!(e->flags & VRING_DESC_F_NEXT))
                break;
            if (descs == d->vr.num) {
                CHECK(!strict);
                whole = false;
                break;
            }
        }
        if (!whole)
            return;
        d->avail_pos = pos;
        d->avail_wrap = wrap;
        d->held[d->nheld].id = id;
        d->held[d->nheld].descs = descs;
        d->nheld++;
    }
}

static void device_write_used(struct device *d, uint16_t id, uint32_t len, unsigned step)
{
    struct vring_packed_desc *e = &d->vr.desc[d->used_pos];
    e->id = id;
    e->len = len;
    e->flags = vring_packed_used_flags(d->used_wrap);
    advance(d, &d->used_pos, &d->used_wrap, step);
}

static void device_complete(struct device *d, uint8_t pick, uint32_t len)
{
    if (!d->nheld)
        return;
    unsigned k = pick % d->nheld;
    uint16_t id = d->held[k].id, descs = d->held[k].descs;
    memmove(&d->held[k], &d->held[k + 1], sizeof(d->held[0]) * (d->nheld - k - 1));
    d->nheld--;
    device_write_used(d, id, len, descs);
}

/* Checks one value virtqueue_get_buf / detach_unused handed back. */
static void check_token(void *token, uint32_t len, bool check_len)
{
    uintptr_t t = (uintptr_t)token;
    CHECK(t >= (uintptr_t)&tokens[0] && t < (uintptr_t)&tokens[tokens_used]);
    CHECK((t - (uintptr_t)&tokens[0]) % sizeof(tokens[0]) == 0);
    struct token *tk = token;
    CHECK(tk->in_flight && !tk->returned);
    if (check_len)
        CHECK(len <= tk->writable);
    tk->in_flight = false;
    tk->returned = true;
}

static void add_chain(struct virtqueue *vq, uint8_t counts, struct input *in)
{
    unsigned out = counts & 3, inc = (counts >> 2) & 3;
    if (out + inc == 0)
        out = 1;
    if (tokens_used >= MAX_TOKENS)
        return;
    struct vq_sg sg[6];
    uint32_t writable = 0;
    for (unsigned i = 0; i < out + inc; i++) {
        sg[i].addr = (uint64_t)(uintptr_t)buffers[(tokens_used + i) % 64];
        sg[i].len = 1 + in_u8(in);
        if (i >= out)
            writable += sg[i].len;
    }
    struct token *tk = &tokens[tokens_used];
    bool was_broken = virtqueue_is_broken(vq);
    int r = virtqueue_add(vq, sg, out, inc, tk);
    if (was_broken)
        CHECK(r != 0);
    if (r == 0) {
        tk->in_flight = true;
        tk->returned = false;
        tk->writable = writable;
        tokens_used++;
    }
    virtqueue_kick(vq);
}

/* While the queue stands, the ring's descriptors are either free or held by a chain in flight. */
static void check_bookkeeping(const struct virtqueue *vq)
{
    if (virtqueue_is_broken(vq))
        return;
    unsigned descs = 0, chains = 0;
    for (uint16_t i = 0; i < vq->num; i++)
        if (vq->state[i].token) {
            descs += vq->state[i].descs;
            chains++;
        }
    CHECK(chains == vq->chains_in_flight);
    CHECK(descs + virtqueue_free_count(vq) == vq->num);
}

static void drain(struct virtqueue *vq)
{
    for (;;) {
        bool was_broken = virtqueue_is_broken(vq);
        uint32_t len = 0xDEADBEEF;
        void *token = virtqueue_get_buf(vq, &len);
        if (!token)
            break;
        CHECK(!was_broken && !virtqueue_is_broken(vq));
        check_token(token, len, true);
    }
    check_bookkeeping(vq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t sizes[8] = { 2, 3, 4, 5, 7, 8, 13, MAX_QUEUE };
    struct input in = { data, size };
    memset(tokens, 0, sizeof(tokens));
    tokens_used = reports = 0;

    uint8_t config = in_u8(&in);
    uint16_t num = sizes[config & 7];
    uint64_t features = VIRTIO_F_RING_PACKED | (config & 8 ? VIRTIO_F_RING_EVENT_IDX : 0) |
                        (config & 16 ? VIRTIO_F_RING_INDIRECT_DESC : 0);
    size_t ring_bytes = (size_t)virtqueue_ring_bytes(num, features);
    void *ring = aligned_alloc(4096, (ring_bytes + 4095) & ~(size_t)4095);
    CHECK(ring);
    memset(ring, 0, ring_bytes);

    struct virtqueue_env env = {
        .notify = env_notify, .alloc = env_alloc, .free = env_free, .report = env_report, .ctx = NULL,
    };
    struct virtqueue vq;
    memset(&vq, 0, sizeof(vq));
    CHECK(virtqueue_init(&vq, "fuzz", 0, num, ring, features, &env) == 0);
    struct device dev = { .avail_wrap = true, .used_wrap = true };
    bool lied = false;
    vring_packed_init(&dev.vr, num, ring);

    /* Some chains in flight before the device speaks: a mix of shapes. */
    unsigned first = 1 + ((config >> 5) & 7);
    static const uint8_t shapes[] = { 0x04, 0x01, 0x09, 0x06, 0x0D, 0x05, 0x0F, 0x08 };
    for (unsigned i = 0; i < first; i++) {
        struct input lens = { (const uint8_t *)"\x10\x20\x40\x7F\x01\x02", 6 };
        add_chain(&vq, shapes[i], &lens);
    }

    unsigned ops = 0;
    while (in.left && ops++ < 256) {
        switch (in_u8(&in) % 7) {
        case 0: {
            struct vring_packed_desc *e = &dev.vr.desc[in_u8(&in) % num];
            e->id = in_u16(&in);
            e->len = in_u32(&in);
            e->flags = in_u16(&in);
            lied = true;
            break;
        }
        case 1: {
            uint16_t id = in_u16(&in);
            uint32_t len = in_u32(&in);
            device_write_used(&dev, id, len, in_u8(&in) % 4 + 1);
            lied = true;
            break;
        }
        case 2:
            device_take_all(&dev, !lied);
            break;
        case 3: {
            uint8_t pick = in_u8(&in);
            device_complete(&dev, pick, in_u32(&in));
            break;
        }
        case 4:
            drain(&vq);
            break;
        case 5:
            add_chain(&vq, in_u8(&in), &in);
            break;
        case 6:
            if (in_u8(&in) & 1)
                virtqueue_disable_cb(&vq);
            else
                virtqueue_enable_cb(&vq);
            break;
        }
    }
    drain(&vq);
    CHECK(reports <= 1);
    CHECK(reports == (virtqueue_is_broken(&vq) ? 1u : 0u));
    if (virtqueue_is_broken(&vq)) {
        uint32_t len;
        CHECK(virtqueue_get_buf(&vq, &len) == NULL);
        CHECK(!virtqueue_has_used(&vq));
    }

    /* The device is reset: everything still in flight comes back, once. */
    void *token;
    while ((token = virtqueue_detach_unused(&vq)) != NULL)
        check_token(token, 0, false);
    for (unsigned i = 0; i < tokens_used; i++)
        CHECK(!tokens[i].in_flight && tokens[i].returned);
    CHECK(virtqueue_free_count(&vq) == num);

    virtqueue_destroy(&vq);
    free(ring);
    return 0;
}
