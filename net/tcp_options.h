/*
 * The TCP options of a SYN that the TCP input hook needs before lwIP has
 * parsed them (lwIP's tcp_parseopt is private to tcp_in.c): the MSS and the
 * timestamp. A malformed option list (a length under 2 or past the end) is
 * read up to the fault, as lwIP reads it. Pure logic, unit-tested.
 */
#ifndef NET_TCP_OPTIONS_H
#define NET_TCP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 9293 section 3.2 (EOL, NOP, MSS), RFC 7323 section 3 (timestamps). */
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define TCP_OPT_MSS_LEN 4
#define TCP_OPT_TS 8
#define TCP_OPT_TS_LEN 10
#define TCP_OPTIONS_MAX 40 /* data offset 15 words, less the 20-byte header */

struct tcp_syn_options {
    bool has_mss;
    uint16_t mss;
    bool has_ts;
    uint32_t tsval;
};

/* `opt`: the option bytes after the fixed header, `len` of them (network order). */
void tcp_options_parse(const uint8_t *opt, size_t len, struct tcp_syn_options *out);

#endif
