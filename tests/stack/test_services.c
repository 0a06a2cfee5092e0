/*
 * The HTTP and echo services over the whole stack, driven by a client made
 * by hand (sim_tcp_send): closes with bytes left over, a response still owed
 * when the PCB pool runs out, writes refused for lack of memory, requests
 * held for a client that does not read, the framing of many pipelined
 * requests, UDP echo's refusals, and /stats past its first buffer.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "net/echo_server.h"
#include "net/stats_page.h"
#include "tests/fuzz/rx_path_env.h"
#include "tests/stack/stack_sim.h"
#include "tests/unit/check.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH_ACK 0x18
#define TCP_ACK 0x10

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }

struct client {
    uint16_t sport, dport;
    uint32_t snd_nxt, rcv_nxt;
    unsigned seen;   /* frames on the wire read so far */
    char *in;        /* what came back in order, NUL-terminated */
    size_t in_len;
    bool fin, rst;
    bool acks;       /* acknowledges what it receives (off: its ACKs are lost) */
};

/* An ACK of all that came in order. */
static void client_ack(const struct client *c)
{
    sim_tcp_send(c->sport, c->dport, TCP_ACK, c->snd_nxt, c->rcv_nxt, 65535, NULL, 0, NULL, 0);
}

/* After its ACKs were lost: it acknowledges again, now and from here on. */
static void client_acks_again(struct client *c)
{
    c->acks = true;
    client_ack(c);
}

static void client_read(struct client *c)
{
    env_run_polls();
    while (c->seen < sim_wire_count()) {
        const struct wire_frame *w = sim_wire(c->seen++);
        const uint8_t *f = w->data;
        if (w->len >= 42 && be16(f + 12) == 0x0806) {
            sim_answer_arp(c->seen - 1);
            continue;
        }
        if (w->len < 54 || be16(f + 12) != 0x0800 || f[14 + 9] != 6)
            continue;
        const uint8_t *t = f + 14 + (uint32_t)(f[14] & 15) * 4;
        if (be16(t) != c->dport || be16(t + 2) != c->sport)
            continue;
        uint32_t th = (uint32_t)(t[12] >> 4) * 4, plen = w->len - (uint32_t)(t - f) - th, seq = be32(t + 4);
        uint8_t flags = t[13];
        if (flags & TCP_RST) {
            c->rst = true;
            continue;
        }
        if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
            c->rcv_nxt = seq + 1;
            continue;
        }
        if (plen && seq == c->rcv_nxt) {
            c->in = realloc(c->in, c->in_len + plen + 1);
            memcpy(c->in + c->in_len, t + th, plen);
            c->in_len += plen;
            c->in[c->in_len] = 0;
            c->rcv_nxt += plen;
        }
        if ((flags & TCP_FIN) && seq + plen == c->rcv_nxt) {
            c->fin = true;
            c->rcv_nxt++;
        }
        if (c->acks && (plen || (flags & TCP_FIN) || seq == c->rcv_nxt - 1 /* keepalive */))
            client_ack(c);
    }
}

/* `ms` of fake time, the client reading as it goes. */
static void client_run(struct client *c, unsigned ms)
{
    for (unsigned i = 0; i < ms / 10; i++) {
        client_read(c);
        env_advance(10000000ULL);
    }
    client_read(c);
}

static void client_connect(struct client *c, uint16_t sport, uint16_t dport)
{
    sim_setup();
    *c = (struct client){ .sport = sport, .dport = dport, .snd_nxt = 5001, .acks = true, .seen = sim_wire_count() };
    const uint8_t mss_1460[4] = { 2, 4, 0x05, 0xb4 };
    sim_tcp_send(sport, dport, TCP_SYN, 5000, 0, 65535, NULL, 0, mss_1460, sizeof(mss_1460));
    for (int i = 0; i < 4 && !c->rcv_nxt; i++)
        client_read(c); /* the guest may ask for the client's MAC first */
    CHECK(c->rcv_nxt != 0);
    client_ack(c);
    client_read(c);
}

static void client_send(struct client *c, const void *data, size_t n, uint8_t more_flags)
{
    sim_tcp_send(c->sport, c->dport, TCP_PSH_ACK | more_flags, c->snd_nxt, c->rcv_nxt, 65535, data, (uint32_t)n,
                 NULL, 0);
    c->snd_nxt += (uint32_t)n + ((more_flags & TCP_FIN) ? 1 : 0);
    client_read(c);
}

/* Bytes of the first response's body that came, and what its Content-Length said. */
static size_t body_received(const struct client *c, size_t *content_length)
{
    const char *end = c->in ? strstr(c->in, "\r\n\r\n") : NULL;
    const char *cl = c->in ? strstr(c->in, "Content-Length: ") : NULL;
    *content_length = cl ? strtoul(cl + 16, NULL, 10) : 0;
    return end ? c->in_len - (size_t)(end + 4 - c->in) : 0;
}

static void client_done(struct client *c) { free(c->in); }

/* The guest's active connection with a client's port, or NULL. */
static const struct tcp_pcb *active_pcb_from(uint16_t port)
{
    for (const struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        if (p->remote_port == port)
            return p;
    return NULL;
}

/* All of lwIP's TCP segments taken, as by many other connections; then given back. */
static void *held_segs[4096];
static unsigned held_count;
static void take_all_segments(void)
{
    held_count = 0;
    while (held_count < 4096 && (held_segs[held_count] = memp_malloc(MEMP_TCP_SEG)) != NULL)
        held_count++;
}
static void give_segments_back(void)
{
    while (held_count)
        memp_free(MEMP_TCP_SEG, held_segs[--held_count]);
}

/* A request, then bytes that are no whole request (a trailing CRLF, which
 * `echo -e '...\r\n\r\n' | nc` sends, or the start of the next request),
 * then the client's FIN, its ACKs lost meanwhile: the whole response and a
 * FIN. The server closed with those bytes never passed to tcp_recved, so
 * lwIP took them as unread: an RST, and the response in flight discarded
 * (14,470 of 25,742 bytes of /stats). */
TEST(stack_http_a_close_with_bytes_left_over_still_sends_the_whole_response)
{
    static const char *const requests[] = {
        "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n",          /* nothing left over */
        "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n\r\n",      /* a trailing CRLF */
        "GET /stats HTTP/1.1\r\nHost: x\r\n\r\nGET /",     /* the start of another */
    };
    for (unsigned i = 0; i < 3; i++) {
        struct client c;
        client_connect(&c, (uint16_t)(41000 + i), 80);
        c.acks = false;
        client_send(&c, requests[i], strlen(requests[i]), 0);
        client_send(&c, NULL, 0, TCP_FIN);
        client_acks_again(&c);
        client_run(&c, 3000);
        size_t length, got = body_received(&c, &length);
        printf("    request %u: %zu of %zu body bytes, fin %d, rst %d\n", i, got, length, c.fin, c.rst);
        CHECK(length > 0);
        CHECK_EQ(got, length);
        CHECK(!c.rst);
        CHECK(c.fin);
        client_done(&c);
    }
}

/* The same close made from the poll, the response having waited for memory:
 * lwIP freed the pcb in tcp_close, and the server then cleared its poll
 * callback in the freed pcb. Now the whole response, and a FIN. */
TEST(stack_http_a_close_after_waiting_for_memory_sends_the_whole_response)
{
    struct client c;
    client_connect(&c, 45001, 80);
    take_all_segments();
    const char req[] = "GET /stats HTTP/1.1\r\nHost: h\r\n\r\n\r\n";
    client_send(&c, req, sizeof(req) - 1, TCP_FIN);
    client_run(&c, 200);
    CHECK_EQ(c.in_len, 0);
    give_segments_back();
    client_run(&c, 3000);
    size_t length, got = body_received(&c, &length);
    CHECK(length > 0);
    CHECK_EQ(got, length);
    CHECK(!c.rst);
    client_done(&c);
}

/* A response all handed to lwIP but not acknowledged for over a second (its
 * ACKs lost): the connection is not idle and must not be the one lwIP
 * aborts for a new client when the PCB pool runs out. It was marked
 * reclaimable, and the client got an RST after 16 KB. */
TEST(stack_http_a_response_still_owed_is_not_reclaimed)
{
    struct client c;
    client_connect(&c, 42001, 80);
    c.acks = false;
    const char req[] = "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n";
    client_send(&c, req, sizeof(req) - 1, 0);
    client_run(&c, 2500);
    const struct tcp_pcb *pcb = active_pcb_from(42001);
    CHECK(pcb && (pcb->unacked || pcb->unsent));
    unsigned made = 0;
    struct tcp_pcb *others[2048];
    while (made < 2048 && (others[made] = tcp_new()) != NULL)
        made++;
    bool alive = active_pcb_from(42001) != NULL;
    printf("    %u new PCBs made; the owing connection %s\n", made, alive ? "kept" : "aborted");
    CHECK(alive);
    for (unsigned i = 0; i < made; i++)
        tcp_abort(others[i]);
    client_acks_again(&c);
    client_run(&c, 3000);
    size_t length, got = body_received(&c, &length);
    CHECK_EQ(got, length);
    CHECK(!c.rst);
    client_done(&c);
}

/* Echo's write refused for lack of lwIP's segments while nothing of its own
 * was in flight: no sent callback would come, and the bytes waited for ever
 * (0 of 11 echoed 30 s after the memory came back). The poll tries again. */
TEST(stack_echo_resumes_after_a_write_refused_for_memory)
{
    struct client c;
    client_connect(&c, 43001, 7);
    take_all_segments();
    client_send(&c, "hello echo\n", 11, 0);
    client_run(&c, 200);
    CHECK_EQ(c.in_len, 0);
    give_segments_back();
    client_run(&c, 3000);
    CHECK_EQ(c.in_len, 11);
    CHECK(c.in && memcmp(c.in, "hello echo\n", 11) == 0);
    client_done(&c);
}

/* 2,000 pipelined GET and HEAD requests (bare LF lines, a leading CRLF, an
 * HTTP/1.0 keep-alive HEAD among them), cut into segments of 1-1,400 bytes
 * at random: one response each, in order, each framed by its Content-Length. */
TEST(stack_http_many_pipelined_requests_in_random_segments)
{
    struct client c;
    client_connect(&c, 47001, 80);
    static const char *const reqs[] = { "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD /hello HTTP/1.1\r\nHost: h\r\n\r\n",
                                        "GET / HTTP/1.1\r\nX: y\r\nHost: h\r\n\r\n", "GET /nope HTTP/1.1\nHost: h\n\n",
                                        "HEAD /stats HTTP/1.1\r\nHost: h\r\n\r\n", "\r\nGET /index.html HTTP/1.1\r\nHost: h\r\n\r\n",
                                        "HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" };
    static const bool is_head[] = { false, true, false, false, true, false, true };
    enum { REQUESTS = 2000 };
    static char all[REQUESTS * 48];
    static int kinds[REQUESTS];
    size_t len = 0;
    uint32_t x = 12345;
    for (int n = 0; n < REQUESTS; n++) {
        x = x * 1103515245u + 12345u;
        kinds[n] = (int)((x >> 16) % 7);
        size_t l = strlen(reqs[kinds[n]]);
        memcpy(all + len, reqs[kinds[n]], l);
        len += l;
    }
    for (size_t off = 0; off < len;) {
        x = x * 1103515245u + 12345u;
        size_t seg = 1 + (x >> 16) % 1400;
        if (seg > len - off)
            seg = len - off;
        client_send(&c, all + off, seg, 0);
        off += seg;
        if ((x >> 8) % 5 == 0)
            client_run(&c, 10);
    }
    client_run(&c, 5000);
    int got = 0;
    for (size_t pos = 0; pos < c.in_len && got < REQUESTS;) {
        char *head = c.in + pos, *end = strstr(head, "\r\n\r\n");
        if (!end || strncmp(head, "HTTP/1.1 ", 9) != 0)
            break;
        char *cl = strstr(head, "Content-Length: ");
        size_t length = cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
        pos = (size_t)(end + 4 - c.in) + (is_head[kinds[got]] ? 0 : length);
        got++;
    }
    printf("    %d requests, %d responses framed, %zu bytes\n", REQUESTS, got, c.in_len);
    CHECK_EQ(got, REQUESTS);
    CHECK(!c.rst);
    client_done(&c);
}

/* UDP echo answers a datagram from an ordinary port, but not one from
 * another small service's port (7, 9, 13, 19, 37: two echo services would
 * bounce one forged datagram for ever) nor one sent to the broadcast
 * address (every host would answer). */
TEST(stack_udp_echo_refuses_service_ports_and_broadcasts)
{
    sim_setup();
    sim_wire_clear();
    const char msg[] = "ping";
    sim_send_udp_to_echo(41001, false, msg, sizeof(msg));
    env_run_polls();
    sim_answer_arp(0);
    env_run_polls();
    unsigned answered = 0;
    for (unsigned i = 0; i < sim_wire_count(); i++)
        answered += sim_wire(i)->len >= 42 && be16(sim_wire(i)->data + 12) == 0x0800;
    CHECK_EQ(answered, 1);
    uint64_t refused = echo_server_stats()->udp_refused;
    static const uint16_t service_ports[] = { 7, 9, 13, 19, 37 };
    for (unsigned i = 0; i < 5; i++) {
        sim_wire_clear();
        sim_send_udp_to_echo(service_ports[i], false, msg, sizeof(msg));
        env_run_polls();
        CHECK_EQ(sim_wire_count(), 0);
    }
    sim_wire_clear();
    sim_send_udp_to_echo(41002, true, msg, sizeof(msg));
    env_run_polls();
    CHECK_EQ(sim_wire_count(), 0);
    CHECK_EQ(echo_server_stats()->udp_refused, refused + 6);
}

/* /stats past its first buffer (here 4 KiB, in the kernel 32 KiB, which
 * four NICs' counters outgrow) is made again in a larger one, never cut:
 * it was cut mid-line, the services' counters (written last) lost. */
TEST(stack_stats_page_is_whole_past_its_first_buffer)
{
    sim_setup();
    size_t len = 0;
    char *text = stats_page_render(&len);
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK(len > 4096);
    CHECK(len > 0 && text[len - 1] == '\n');
    const char *last = "echo_udp_refused_total ";
    CHECK(memmem(text, len, last, strlen(last)) != NULL);
    free(text);
}

/* 200 pipelined requests, then the client reads nothing for 25 s (its ACKs
 * lost): the requests after the first ones wait, whole, for it to read. They
 * were taken for a header not yet whole and answered 408 after 20 s, the
 * rest of the pipeline dropped (165 of 200 answered). Now all 200, once it
 * reads again; the send timeout (60 s) is what such a client has. */
TEST(stack_http_pipelined_requests_held_for_a_slow_reader_get_no_408)
{
    struct client c;
    client_connect(&c, 46001, 80);
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n";
    static char reqs[40 * sizeof(req)];
    size_t len = 0;
    for (int i = 0; i < 40; i++)
        len += (size_t)sprintf(reqs + len, "%s", req);
    c.acks = false;
    for (int k = 0; k < 5; k++)
        client_send(&c, reqs, len, 0);
    client_run(&c, 25000);
    client_acks_again(&c);
    client_run(&c, 10000);
    unsigned ok = 0;
    for (const char *p = c.in; p && (p = strstr(p, "HTTP/1.1 200")) != NULL; p++)
        ok++;
    printf("    %u of 200 answered 200%s\n", ok, c.in && strstr(c.in, " 408 ") ? ", and a 408" : "");
    CHECK_EQ(ok, 200);
    CHECK(!(c.in && strstr(c.in, " 408 ")));
    CHECK(!c.rst && !c.fin);
    client_done(&c);
}
