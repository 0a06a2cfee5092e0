/*
 * net/tcp_options.c: the MSS and timestamp of a SYN's option list as Linux
 * and others lay it out, and malformed lists read only up to the fault.
 */
#include <stdlib.h>
#include <string.h>

#include "net/tcp_options.h"
#include "tests/unit/check.h"

TEST(tcp_options_linux_syn)
{
    /* MSS 1460, SACK permitted, TS 0x01020304/0, NOP, window scale 7. */
    static const uint8_t opt[] = { 2, 4, 0x05, 0xB4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7 };
    struct tcp_syn_options o;
    tcp_options_parse(opt, sizeof(opt), &o);
    CHECK(o.has_mss);
    CHECK_EQ(o.mss, 1460);
    CHECK(o.has_ts);
    CHECK_EQ(o.tsval, 0x01020304u);
}

TEST(tcp_options_none_nops_and_eol)
{
    struct tcp_syn_options o;
    tcp_options_parse(NULL, 0, &o);
    CHECK(!o.has_mss && !o.has_ts);
    static const uint8_t nops[] = { 1, 1, 1, 2, 4, 0x02, 0x18 };
    tcp_options_parse(nops, sizeof(nops), &o);
    CHECK(o.has_mss);
    CHECK_EQ(o.mss, 536);
    static const uint8_t eol[] = { 0, 2, 4, 0x05, 0xB4 }; /* nothing after the end of the list counts */
    tcp_options_parse(eol, sizeof(eol), &o);
    CHECK(!o.has_mss);
}

TEST(tcp_options_malformed_stop_at_the_fault)
{
    struct tcp_syn_options o;
    static const uint8_t zero_len[] = { 2, 4, 0x05, 0xB4, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
    tcp_options_parse(zero_len, sizeof(zero_len), &o);
    CHECK(o.has_mss && !o.has_ts);
    static const uint8_t past_end[] = { 8, 10, 1, 2, 3, 4, 5, 6 };
    tcp_options_parse(past_end, sizeof(past_end), &o);
    CHECK(!o.has_ts);
    static const uint8_t no_len[] = { 1, 2 };
    tcp_options_parse(no_len, sizeof(no_len), &o);
    CHECK(!o.has_mss);
    static const uint8_t wrong_len[] = { 2, 3, 0x05, 8, 8, 1, 2, 3, 4, 5, 6, 7, 8 }; /* MSS of length 3: skipped */
    tcp_options_parse(wrong_len, sizeof(wrong_len), &o);
    CHECK(!o.has_mss && !o.has_ts);
    static const uint8_t unknown[] = { 99, 2, 2, 4, 0x01, 0x00 };
    tcp_options_parse(unknown, sizeof(unknown), &o);
    CHECK(o.has_mss);
    CHECK_EQ(o.mss, 256);
}

TEST(tcp_options_every_short_list_is_safe)
{
    /* Every list of up to 3 bytes from a small alphabet: no read past the end
     * (ASan), and no option found that cannot fit. */
    static const uint8_t alphabet[] = { 0, 1, 2, 3, 4, 8, 10, 255 };
    unsigned n = sizeof(alphabet);
    for (unsigned len = 0; len <= 3; len++)
        for (unsigned code = 0; code < n * n * n; code++) {
            uint8_t buf[3];
            unsigned c = code;
            for (unsigned i = 0; i < len; i++, c /= n)
                buf[i] = alphabet[c % n];
            uint8_t *heap = malloc(len ? len : 1); /* exactly len bytes: ASan sees any overread */
            memcpy(heap, buf, len);
            struct tcp_syn_options o;
            tcp_options_parse(heap, len, &o);
            free(heap);
            if (o.has_mss || o.has_ts) { /* neither option fits in 3 bytes */
                CHECK(!o.has_mss && !o.has_ts);
                return;
            }
        }
    CHECK(true);
}
