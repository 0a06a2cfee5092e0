/*
 * libFuzzer harness: the pure parts of the frame path that run on the host.
 * net/tcp_csum_offload.c's tcp_csum_offload_prepare on the input as a frame
 * (an exact-size writable copy, so ASan sees any access past its end), with
 * the pseudo-header sum it stores checked against a reference computed
 * here; and lib/inet_csum.c over the input cut into pieces at split points
 * the input itself chooses, checked against a plain byte-at-a-time sum.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/inet_csum.h"
#include "net/tcp_csum_offload.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* RFC 1071 the slow way: big-endian 16-bit words, odd tail padded with 0. */
static uint16_t ref_fold(const uint8_t *p, size_t n, uint64_t sum)
{
    for (size_t i = 0; i < n; i++)
        sum += (i & 1) ? p[i] : (uint64_t)p[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)sum;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void fuzz_offload(const uint8_t *data, size_t size)
{
    uint8_t *frame = malloc(size ? size : 1);
    CHECK(frame);
    if (size)
        memcpy(frame, data, size);
    uint16_t start = 0xAAAA, offset = 0xBBBB;
    enum tcp_csum_result r = tcp_csum_offload_prepare(frame, size, &start, &offset);
    CHECK(r == TCP_CSUM_NOT_TCP || r == TCP_CSUM_OFFLOAD || r == TCP_CSUM_UNPARSED);
    if (r != TCP_CSUM_OFFLOAD) {
        /* Nothing written. */
        CHECK(size == 0 || memcmp(frame, data, size) == 0);
        CHECK(start == 0xAAAA && offset == 0xBBBB);
    } else {
        CHECK((size_t)start + offset + 2 <= size);
        CHECK(offset == 16 && start >= 14 + 20);
        /* Only the two checksum bytes changed. */
        for (size_t i = 0; i < size; i++)
            if (i != (size_t)start + offset && i != (size_t)start + offset + 1)
                CHECK(frame[i] == data[i]);
        /* The stored value is the folded pseudo-header sum. */
        const uint8_t *ip = data + 14;
        uint64_t sum;
        uint16_t expect;
        if (be16(data + 12) == 0x0800) {
            uint32_t tcp_len = be16(ip + 2) - (uint32_t)(ip[0] & 0x0F) * 4;
            sum = 6 + tcp_len;
            expect = ref_fold(ip + 12, 8, sum);
        } else {
            CHECK(be16(data + 12) == 0x86DD && start == 14 + 40);
            sum = 6 + (uint64_t)be16(ip + 4);
            expect = ref_fold(ip + 8, 32, sum);
        }
        CHECK(be16(frame + start + offset) == expect);
    }
    free(frame);
}

static void fuzz_csum_splits(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    /* The first byte seeds the cut points; the rest is summed. */
    uint32_t seed = data[0] * 2654435761u + 1;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    uint16_t expect = ref_fold(p, n, 0);
    for (int round = 0; round < 4; round++) {
        struct inet_csum c;
        inet_csum_init(&c);
        size_t pos = 0;
        while (pos < n) {
            seed = seed * 1103515245u + 12345u;
            size_t piece = (seed >> 16) % (round == 0 ? 2 : round == 1 ? 5 : 64);
            if (piece > n - pos)
                piece = n - pos;
            /* An exact-size copy of each piece, so ASan sees reads past it. */
            uint8_t *copy = malloc(piece ? piece : 1);
            CHECK(copy);
            if (piece)
                memcpy(copy, p + pos, piece);
            inet_csum_add(&c, copy, piece);
            free(copy);
            pos += piece;
        }
        CHECK(c.offset == n);
        CHECK(inet_csum_fold(&c) == expect);
        CHECK(inet_csum_result(&c) == (uint16_t)~expect);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_offload(data, size);
    fuzz_csum_splits(data, size);
    return 0;
}
