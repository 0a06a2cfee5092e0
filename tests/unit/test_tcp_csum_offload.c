/*
 * net/tcp_csum_offload.c: for IPv4 and IPv6 TCP frames the pseudo-header sum
 * lands in the checksum field and start/offset point at it; completing the
 * sum from `start` to the end (what the device does) gives a checksum that
 * verifies; anything else is left alone.
 */
#include <string.h>

#include "lib/inet_csum.h"
#include "net/tcp_csum_offload.h"
#include "tests/unit/check.h"

static size_t build_ipv4_tcp(uint8_t *f, size_t payload)
{
    memset(f, 0, 14 + 20 + 20 + payload);
    f[12] = 0x08; f[13] = 0x00;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    uint16_t total = (uint16_t)(20 + 20 + payload);
    ip[2] = (uint8_t)(total >> 8); ip[3] = (uint8_t)total;
    ip[8] = 64; ip[9] = 6;
    uint8_t src[4] = { 10, 0, 2, 15 }, dst[4] = { 10, 0, 2, 2 };
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    uint8_t *tcp = ip + 20;
    tcp[0] = 0; tcp[1] = 80; tcp[2] = 0xC0; tcp[3] = 0x01; tcp[12] = 0x50; tcp[13] = 0x18;
    for (size_t i = 0; i < payload; i++)
        tcp[20 + i] = (uint8_t)(i * 7 + 1);
    return 14 + 20 + 20 + payload;
}

/* What the device does: sum from start to the end and store the complement. */
static void device_complete(uint8_t *f, size_t len, uint16_t start, uint16_t offset)
{
    struct inet_csum c;
    inet_csum_init(&c);
    inet_csum_add(&c, f + start, len - start);
    uint16_t sum = inet_csum_result(&c);
    f[start + offset] = (uint8_t)(sum >> 8);
    f[start + offset + 1] = (uint8_t)sum;
}

/* An independent check: the full TCP checksum over pseudo header + segment verifies to 0. */
static bool ipv4_tcp_verifies(const uint8_t *f, size_t len)
{
    const uint8_t *ip = f + 14;
    size_t tcp_len = len - 34;
    uint8_t pseudo[12];
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0; pseudo[9] = 6; pseudo[10] = (uint8_t)(tcp_len >> 8); pseudo[11] = (uint8_t)tcp_len;
    struct inet_csum c;
    inet_csum_init(&c);
    inet_csum_add(&c, pseudo, sizeof(pseudo));
    inet_csum_add(&c, f + 34, tcp_len);
    return inet_csum_fold(&c) == 0xFFFF;
}

TEST(tcp_csum_ipv4_offload_verifies)
{
    uint8_t f[1600];
    for (size_t payload = 0; payload < 1460; payload += 97) {
        size_t len = build_ipv4_tcp(f, payload);
        uint16_t start = 0, offset = 0;
        CHECK_EQ(tcp_csum_offload_prepare(f, 54, &start, &offset), TCP_CSUM_OFFLOAD);
        CHECK_EQ(start, 34);
        CHECK_EQ(offset, 16);
        device_complete(f, len, start, offset);
        CHECK(ipv4_tcp_verifies(f, len));
    }
}

TEST(tcp_csum_ipv6_offload_verifies)
{
    uint8_t f[200];
    memset(f, 0, sizeof(f));
    f[12] = 0x86; f[13] = 0xDD;
    uint8_t *ip = f + 14;
    ip[0] = 0x60;
    size_t tcp_len = 20 + 31;
    ip[4] = 0; ip[5] = (uint8_t)tcp_len; ip[6] = 6; ip[7] = 64;
    for (int i = 0; i < 32; i++)
        ip[8 + i] = (uint8_t)(0xfe + i * 13);
    for (size_t i = 0; i < tcp_len; i++)
        f[54 + i] = (uint8_t)(i * 3 + 5);
    f[54 + 16] = f[54 + 17] = 0;
    uint16_t start, offset;
    CHECK_EQ(tcp_csum_offload_prepare(f, 74, &start, &offset), TCP_CSUM_OFFLOAD);
    CHECK_EQ(start, 54);
    CHECK_EQ(offset, 16);
    size_t len = 54 + tcp_len;
    device_complete(f, len, start, offset);
    uint8_t pseudo[40];
    memcpy(pseudo, ip + 8, 32);
    memset(pseudo + 32, 0, 8);
    pseudo[35] = (uint8_t)tcp_len; pseudo[39] = 6;
    struct inet_csum c;
    inet_csum_init(&c);
    inet_csum_add(&c, pseudo, sizeof(pseudo));
    inet_csum_add(&c, f + 54, tcp_len);
    CHECK_EQ(inet_csum_fold(&c), 0xFFFF);
}

TEST(tcp_csum_leaves_other_frames_alone)
{
    uint8_t f[100], copy[100];
    build_ipv4_tcp(f, 10);
    f[14 + 9] = 17; /* UDP */
    memcpy(copy, f, sizeof(f));
    uint16_t start = 7, offset = 7;
    CHECK_EQ(tcp_csum_offload_prepare(f, 64, &start, &offset), TCP_CSUM_NOT_TCP);
    CHECK(memcmp(f, copy, sizeof(f)) == 0);
    f[12] = 0x08; f[13] = 0x06; /* ARP */
    CHECK_EQ(tcp_csum_offload_prepare(f, 64, &start, &offset), TCP_CSUM_NOT_TCP);
    CHECK_EQ(tcp_csum_offload_prepare(f, 10, &start, &offset), TCP_CSUM_NOT_TCP);
}

TEST(tcp_csum_unparsed_cases)
{
    uint8_t f[100];
    uint16_t start, offset;
    build_ipv4_tcp(f, 0);
    CHECK_EQ(tcp_csum_offload_prepare(f, 40, &start, &offset), TCP_CSUM_UNPARSED); /* TCP header cut off */
    build_ipv4_tcp(f, 0);
    f[14 + 6] = 0x20; /* more fragments */
    CHECK_EQ(tcp_csum_offload_prepare(f, 54, &start, &offset), TCP_CSUM_UNPARSED);
    build_ipv4_tcp(f, 0);
    f[14] = 0x44; /* IHL 16 bytes */
    CHECK_EQ(tcp_csum_offload_prepare(f, 54, &start, &offset), TCP_CSUM_UNPARSED);
}
