/*
 * libFuzzer harness: the split virtqueue's used-ring consumer
 * (drivers/virtio/virtqueue.c and vq_split.c; fuzz_virtqueue_packed.c does
 * the packed ring), with the fuzz input playing a hostile device. A queue
 * of 8 or 16 entries gets chains with distinct tokens; then the input, as a
 * little script, writes used-ring entries (id, len) and the used index, adds
 * more chains, and drains with virtqueue_get_buf; at the end detach_unused
 * takes back the rest. Checked: every token returned was in flight and is returned once,
 * with no more bytes than were writable; once the queue is broken nothing
 * comes back from get_buf and add refuses; at most one report; and in the
 * end every chain added came back exactly once. Everything is freed, so
 * LeakSanitizer sees any leak.
 *
 * Input: byte 0 configures (bit 0: 16 entries, else 8; bit 1: EVENT_IDX;
 * bit 2: INDIRECT_DESC; bits 3-5: chains added first). Then operations,
 * each an opcode byte and its operands (missing bytes read as 0):
 *   0 write entry: slot byte, id u32 LE, len u32 LE -> used->ring[slot % num]
 *   1 write used idx: u16 LE
 *   2 advance used idx by (byte % 8), writing each new entry from u32 id, u32 len
 *   3 drain: get_buf until NULL
 *   4 add a chain: counts byte (out 0-3, in 0-3), lengths bytes
 *   5 disable / enable callbacks (byte bit 0)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio/virtqueue.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define MAX_TOKENS 512

struct token {
    bool in_flight;
    bool returned;
    uint32_t writable;
};

static struct token tokens[MAX_TOKENS];
static unsigned tokens_used;
static unsigned reports;
static unsigned notifies;
static uint8_t buffers[64][256]; /* what the chains point at; never touched by the queue */

static void env_notify(struct virtqueue *vq, void *ctx)
{
    (void)vq;
    (void)ctx;
    notifies++;
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { data, size };
    memset(tokens, 0, sizeof(tokens));
    tokens_used = reports = notifies = 0;

    uint8_t config = in_u8(&in);
    uint16_t num = (config & 1) ? 16 : 8;
    uint64_t features = (config & 2 ? VIRTIO_F_RING_EVENT_IDX : 0) | (config & 4 ? VIRTIO_F_RING_INDIRECT_DESC : 0);
    size_t ring_bytes = (size_t)virtqueue_ring_bytes(num, features);
    void *ring = aligned_alloc(4096, ring_bytes);
    CHECK(ring);
    memset(ring, 0, ring_bytes);

    struct virtqueue_env env = {
        .notify = env_notify, .alloc = env_alloc, .free = env_free, .report = env_report, .ctx = NULL,
    };
    struct virtqueue vq;
    memset(&vq, 0, sizeof(vq));
    CHECK(virtqueue_init(&vq, "fuzz", 0, num, ring, features, &env) == 0);
    struct vring_used *used = vq.split.vring.used;

    /* Some chains in flight before the device speaks: a mix of shapes. */
    unsigned first = 1 + ((config >> 3) & 7);
    static const uint8_t shapes[] = { 0x04, 0x01, 0x09, 0x06, 0x0D, 0x05, 0x0F, 0x08 };
    for (unsigned i = 0; i < first; i++) {
        struct input lens = { (const uint8_t *)"\x10\x20\x40\x7F\x01\x02", 6 };
        add_chain(&vq, shapes[i], &lens);
    }

    unsigned ops = 0;
    while (in.left && ops++ < 256) {
        switch (in_u8(&in) % 6) {
        case 0: {
            uint8_t slot = in_u8(&in);
            used->ring[slot % num].id = in_u32(&in);
            used->ring[slot % num].len = in_u32(&in);
            break;
        }
        case 1:
            used->idx = in_u16(&in);
            break;
        case 2: {
            unsigned n = in_u8(&in) % 8;
            for (unsigned i = 0; i < n; i++) {
                struct vring_used_elem *e = &used->ring[used->idx % num];
                e->id = in_u32(&in);
                e->len = in_u32(&in);
                used->idx++;
            }
            break;
        }
        case 3:
            drain(&vq);
            break;
        case 4:
            add_chain(&vq, in_u8(&in), &in);
            break;
        case 5:
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
    }

    /* The device is reset: everything still in flight comes back, once. */
    void *token;
    while ((token = virtqueue_detach_unused(&vq)) != NULL)
        check_token(token, 0, false);
    for (unsigned i = 0; i < tokens_used; i++)
        CHECK(!tokens[i].in_flight && tokens[i].returned);
    if (!virtqueue_is_broken(&vq))
        CHECK(virtqueue_free_count(&vq) == num);

    virtqueue_destroy(&vq);
    free(ring);
    return 0;
}
