/*
 * net/dhcp_options.c: option 26 asked for in the parameter request list lwIP
 * wrote (the hostname after it moved on, malformed lists left alone), and
 * the MTU an offer gives.
 */
#include <string.h>

#include "net/dhcp_options.h"
#include "tests/unit/check.h"

TEST(dhcp_request_list_gets_the_mtu)
{
    /* As lwIP writes a DHCPREQUEST: type, max size, list (1 3 28), hostname. */
    uint8_t opt[64] = { 53, 1, 3, 57, 2, 0x05, 0xDC, 55, 3, 1, 3, 28, 12, 2, 'u', 'k' };
    uint16_t len = 16;
    CHECK(dhcp_request_list_add(opt, &len, sizeof(opt) - 1, DHCP_OPT_MTU));
    const uint8_t want[] = { 53, 1, 3, 57, 2, 0x05, 0xDC, 55, 4, 1, 3, 28, 26, 12, 2, 'u', 'k' };
    CHECK_EQ(len, sizeof(want));
    CHECK(memcmp(opt, want, sizeof(want)) == 0);
    /* Asked once only. */
    CHECK(dhcp_request_list_add(opt, &len, sizeof(opt) - 1, DHCP_OPT_MTU));
    CHECK_EQ(len, sizeof(want));
    /* The list last, and pads before it. */
    uint8_t last[8] = { 0, 0, 55, 2, 1, 3 };
    len = 6;
    CHECK(dhcp_request_list_add(last, &len, sizeof(last), DHCP_OPT_MTU));
    CHECK_EQ(len, 7);
    CHECK_EQ(last[3], 3);
    CHECK_EQ(last[6], 26);
}

TEST(dhcp_request_list_left_alone)
{
    /* No list (a DHCPDECLINE, a RELEASE). */
    uint8_t none[16] = { 53, 1, 4, 50, 4, 10, 0, 2, 15 };
    uint16_t len = 9;
    CHECK(!dhcp_request_list_add(none, &len, sizeof(none), DHCP_OPT_MTU));
    CHECK_EQ(len, 9);
    /* No room for one more byte. */
    uint8_t full[6] = { 55, 3, 1, 3, 28 };
    len = 5;
    CHECK(!dhcp_request_list_add(full, &len, 5, DHCP_OPT_MTU));
    CHECK_EQ(len, 5);
    CHECK_EQ(full[1], 3);
    /* An option whose length runs past what was written, before the list. */
    uint8_t bad[16] = { 53, 9, 3, 55, 1, 1 };
    len = 6;
    CHECK(!dhcp_request_list_add(bad, &len, sizeof(bad), DHCP_OPT_MTU));
    CHECK_EQ(len, 6);
    /* A list of 255 entries cannot grow. */
    uint8_t big[300] = { 55, 255 };
    len = 257;
    CHECK(!dhcp_request_list_add(big, &len, sizeof(big), DHCP_OPT_MTU));
    /* Nothing after END is read. */
    uint8_t end[8] = { 255, 55, 1, 1 };
    len = 4;
    CHECK(!dhcp_request_list_add(end, &len, sizeof(end), DHCP_OPT_MTU));
}

TEST(dhcp_mtu_choice)
{
    const uint8_t v1400[] = { 0x05, 0x78 }, v576[] = { 0x02, 0x40 }, v575[] = { 0x02, 0x3F }, v9000[] = { 0x23, 0x28 };
    CHECK_EQ(dhcp_mtu_choose(v1400, 2, 1500), 1400);
    CHECK_EQ(dhcp_mtu_choose(v576, 2, 1500), 576);
    CHECK_EQ(dhcp_mtu_choose(v575, 2, 1500), 0);      /* below IPv4's minimum datagram */
    CHECK_EQ(dhcp_mtu_choose(v9000, 2, 1500), 1500);  /* never past what the device carries */
    CHECK_EQ(dhcp_mtu_choose(v9000, 2, 9000), 9000);
    CHECK_EQ(dhcp_mtu_choose(v1400, 1, 1500), 0);     /* malformed: not 2 bytes */
    CHECK_EQ(dhcp_mtu_choose(v1400, 4, 1500), 0);
}
