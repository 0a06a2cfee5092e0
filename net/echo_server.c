/*
 * Echo: every byte back, in order. TCP flow control is end to end: received
 * data stays queued here, unacknowledged to lwIP (no tcp_recved), until it
 * has been queued for sending, so a client that reads slowly shrinks its own
 * send window instead of making this server buffer without bound.
 *
 * Without copies: the received pbufs (over the driver's receive buffers) are
 * handed to tcp_write by reference, and stay here, queued in the order they
 * were written, until the peer acknowledges their bytes (the sent callback);
 * only then are they freed and the buffers go back to the driver. lwIP cuts
 * its segments straight out of them. Measured on TCP echo of 64 MiB
 * (docs/BENCHMARKS.md): faster than copying each byte twice (into one buffer,
 * then into lwIP's segments).
 *
 * RFC 862 gives a session no idle time, so one that has been quiet for a
 * second with nothing in flight is put below the listeners' priority, as
 * the HTTP server's idle connections are: it stays for as long as the client
 * likes, except that when the PCB pool is empty lwIP's tcp_alloc takes the
 * longest-idle such connection for a new client (tcp_kill_prio). Otherwise
 * idle sessions, a few hundred at -m 8, would keep every client of every
 * service out. A session whose peer acknowledges nothing of its echo for a
 * minute is given up (net/tcp_service.h): gone, or never reading.
 */
#include "net/echo_server.h"

#include "arch/x86_64/timer.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "net/tcp_service.h"

#define REUSABLE_AFTER_NS 1000000000ULL
/* Received pbufs sit over the driver's receive buffers; a peer that sends
 * tiny segments and reads nothing would otherwise pin one 2 KiB buffer per
 * segment, up to a window's worth (thousands), and starve the receive ring.
 * Past this many pending pieces that fill less than half a buffer on
 * average, the pending data is copied into heap pbufs of up to COPY_CHUNK. */
#define MAX_PENDING_PBUFS 8
#define SPARSE_BYTES_PER_PBUF 1024
#define COPY_CHUNK 16384
/* Writes in flight: each adds at least one pbuf to lwIP's send queue, which
 * never holds more than TCP_SND_QUEUELEN. */
#define MAX_UNACKED TCP_SND_QUEUELEN

/* Standalone pbufs (each its own chain of one), in order. */
struct pbuf_list {
    struct pbuf *head, *tail;
    uint32_t bytes;
    unsigned count;
};

struct echo_conn {
    struct tcp_pcb *pcb;
    struct pbuf_list pending;     /* received, not yet all written */
    uint16_t pending_written;     /* bytes of pending.head already written */
    /* Written by reference and not yet acknowledged, oldest first: lwIP's
     * segments point into these. Each holds its own reference (the head of
     * `pending` may be here too, partly written). */
    struct pbuf *unacked[MAX_UNACKED];
    unsigned unacked_head, unacked_count;
    uint16_t unacked_acked;       /* bytes of the oldest already acknowledged */
    bool peer_closed;
    bool closing;                 /* our FIN is out (half close): lwIP ends the pcb, on_err frees this */
    bool reusable;                /* below the listeners' priority: lwIP may take it for a new client */
    bool probed;                  /* keepalive probes unanswered (as of the last poll): the peer may be gone */
    uint64_t last_active;         /* clock_now_ns of the last data or acknowledgement */
};

static struct echo_server_stats stats;

const struct echo_server_stats *echo_server_stats(void)
{
    return &stats;
}

/* ---- the queues ---- */

static void list_push(struct pbuf_list *l, struct pbuf *p)
{
    p->next = NULL;
    p->tot_len = p->len;
    if (l->tail)
        l->tail->next = p;
    else
        l->head = p;
    l->tail = p;
    l->bytes += p->len;
    l->count++;
}

static struct pbuf *list_pop(struct pbuf_list *l)
{
    struct pbuf *p = l->head;
    l->head = p->next;
    if (!l->head)
        l->tail = NULL;
    p->next = NULL;
    l->bytes -= p->len;
    l->count--;
    return p;
}

/* A received chain, taken apart into its pieces (the chain owned each one). */
static void list_push_chain(struct pbuf_list *l, struct pbuf *chain)
{
    while (chain) {
        struct pbuf *next = chain->next;
        chain->next = NULL;
        if (chain->len)
            list_push(l, chain);
        else
            pbuf_free(chain);
        chain = next;
    }
}

static void list_free(struct pbuf_list *l)
{
    while (l->head)
        pbuf_free(list_pop(l));
}

static void unacked_free_all(struct echo_conn *c)
{
    for (; c->unacked_count; c->unacked_count--, c->unacked_head = (c->unacked_head + 1) % MAX_UNACKED)
        pbuf_free(c->unacked[c->unacked_head]);
    c->unacked_acked = 0;
}

/* Copies sparse pending data (many small pieces) off the receive buffers. */
static void compact_pending(struct echo_conn *c)
{
    if (c->pending.count <= MAX_PENDING_PBUFS ||
        c->pending.bytes - c->pending_written >= (uint32_t)c->pending.count * SPARSE_BYTES_PER_PBUF)
        return;
    /* The partly written head stays: lwIP points into it. */
    struct pbuf_list rest = { 0 }, copied = { 0 };
    struct pbuf *head = c->pending_written ? list_pop(&c->pending) : NULL;
    while (c->pending.head) {
        u16_t size = (u16_t)(c->pending.bytes < COPY_CHUNK ? c->pending.bytes : COPY_CHUNK);
        struct pbuf *q = pbuf_alloc(PBUF_RAW, size, PBUF_RAM);
        if (!q)
            break; /* no memory: keep what is left as it is */
        for (u16_t off = 0; off < size;) {
            struct pbuf *p = c->pending.head;
            u16_t n = (u16_t)(p->len < size - off ? p->len : size - off);
            pbuf_take_at(q, p->payload, n, off);
            off = (u16_t)(off + n);
            if (n == p->len) {
                pbuf_free(list_pop(&c->pending));
            } else {
                pbuf_remove_header(p, n); /* the rest goes into the next chunk */
                c->pending.bytes -= n;
            }
        }
        list_push(&copied, q);
    }
    while (c->pending.head)
        list_push(&copied, list_pop(&c->pending));
    if (head)
        list_push(&rest, head);
    while (copied.head)
        list_push(&rest, list_pop(&copied));
    c->pending = rest;
    stats.tcp_coalesced++;
}

/* The peer acknowledged `len` more bytes: the oldest written pbufs are done. */
static void release_acked(struct echo_conn *c, u32_t len)
{
    while (len && c->unacked_count) {
        struct pbuf *p = c->unacked[c->unacked_head];
        u32_t left = (u32_t)p->len - c->unacked_acked;
        if (len < left) {
            c->unacked_acked = (u16_t)(c->unacked_acked + len);
            return;
        }
        len -= left;
        c->unacked_acked = 0;
        c->unacked_head = (c->unacked_head + 1) % MAX_UNACKED;
        c->unacked_count--;
        pbuf_free(p);
    }
}

/* ---- the connection ---- */

/* Data or an acknowledgement: the session is in use. */
static void conn_active(struct echo_conn *c)
{
    c->last_active = clock_now_ns();
    tcp_service_set_reclaimable(c->pcb, &c->reusable, false);
}

/* After lwIP freed the pcb (on_err). */
static void conn_free(struct echo_conn *c)
{
    tcp_service_set_reclaimable(NULL, &c->reusable, false);
    list_free(&c->pending);
    unacked_free_all(c);
    kfree(c);
}

/* Everything echoed and the peer done: our FIN, as a half close. lwIP still
 * sends what is queued, out of our pbufs, so they stay until acknowledged;
 * it frees the pcb once the peer acknowledges the FIN and tells on_err
 * (ERR_CLSD), or tells it ERR_ABRT if it gives up. Not tcp_close: that stops
 * the pcb's idle timer from seeing the peer's acknowledgements, and LAST-ACK
 * then ends 2 x TCP_MSL (2 s) after the peer's FIN even while the last
 * segments are still being retransmitted. */
static void conn_close(struct echo_conn *c)
{
    if (c->closing)
        return;
    tcp_service_set_reclaimable(c->pcb, &c->reusable, false);
    tcp_recv(c->pcb, NULL);
    if (tcp_shutdown(c->pcb, 0, 1) != ERR_OK)
        return; /* no memory for the FIN yet: on_poll tries again */
    tcp_poll(c->pcb, NULL, 0);
    c->closing = true;
}

static void pump(struct echo_conn *c);

static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
    struct echo_conn *c = arg;
    uint64_t now = clock_now_ns();
    c->probed = pcb->keep_cnt_sent != 0;
    if (tcp_service_owed(pcb) && now - c->last_active > TCP_SERVICE_SEND_TIMEOUT_NS) {
        stats.tcp_timeouts++;
        tcp_abort(pcb); /* on_err frees c */
        return ERR_ABRT;
    }
    if (c->pending.head && !c->closing)
        pump(c); /* after a write refused for memory with nothing in flight, no sent callback comes */
    if (c->peer_closed && !c->pending.head)
        conn_close(c);
    else if (!c->pending.head && !c->unacked_count && now - c->last_active >= REUSABLE_AFTER_NS)
        tcp_service_set_reclaimable(c->pcb, &c->reusable, true);
    return ERR_OK;
}

/* Hands pending bytes to lwIP by reference as far as it has room, and only
 * then acknowledges them to the sender. PSH goes only on the last write, so
 * the segments between can leave as one large segment (net/tcp_gso.h). */
static void pump(struct echo_conn *c)
{
    u32_t written = 0;
    while (c->pending.head) {
        struct pbuf *p = c->pending.head;
        u16_t room = tcp_service_write_room(c->pcb, true);
        if (room == 0 || c->unacked_count == MAX_UNACKED)
            break;
        u16_t left = (u16_t)(p->len - c->pending_written);
        u16_t n = left < room ? left : room;
        bool last = n == left && !p->next;
        if (tcp_write(c->pcb, (u8_t *)p->payload + c->pending_written, n, last ? 0 : TCP_WRITE_FLAG_MORE) != ERR_OK)
            break; /* no memory now: the sent callback, or the poll, tries again */
        if (c->pending_written == 0) {
            pbuf_ref(p); /* the unacked queue's own reference */
            c->unacked[(c->unacked_head + c->unacked_count++) % MAX_UNACKED] = p;
        }
        stats.tcp_bytes += n;
        written += n;
        c->pending_written = (u16_t)(c->pending_written + n);
        if (c->pending_written == p->len) {
            c->pending_written = 0;
            pbuf_free(list_pop(&c->pending));
        }
    }
    /* Once, after the writes: a window update sent from inside the loop would
     * push out the segments queued so far, cutting the run short. */
    tcp_service_recved(c->pcb, written);
    tcp_output(c->pcb);
    if (!c->pending.head && c->peer_closed)
        conn_close(c);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct echo_conn *c = arg;
    (void)pcb;
    if (err != ERR_OK) {
        if (p)
            pbuf_free(p);
        return err;
    }
    if (!p)
        c->peer_closed = true;
    else
        list_push_chain(&c->pending, p);
    conn_active(c);
    compact_pending(c);
    pump(c);
    return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct echo_conn *c = arg;
    (void)pcb;
    release_acked(c, len);
    conn_active(c);
    if (!c->closing)
        pump(c);
    return ERR_OK;
}

/* lwIP freed the pcb and its segments (reset, given up, or closed after our
 * FIN): nothing points into our pbufs now. */
static void on_err(void *arg, err_t err)
{
    struct echo_conn *c = arg;
    if (!c)
        return;
    /* lwIP tells tcp_kill_prio's abort and keepalive's alike (on_poll's is of
     * a busy session, never reusable): one whose probes went unanswered was
     * keepalive's (or taken while its peer was going anyway). */
    if (err == ERR_ABRT && c->reusable && !c->probed)
        stats.tcp_reclaimed++;
    conn_free(c);
}

static void on_accepted(void *conn, struct tcp_pcb *pcb)
{
    struct echo_conn *c = conn;
    c->pcb = pcb;
    c->last_active = clock_now_ns();
    stats.tcp_connections++;
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    tcp_poll(pcb, on_poll, TCP_SERVICE_POLL_1S);
}

static const struct tcp_service echo_service = {
    .name = "echo",
    .port = ECHO_PORT,
    .conn_size = sizeof(struct echo_conn),
    .accepted = on_accepted,
    .refused = &stats.tcp_refused,
};

/* A datagram from echo, discard, daytime, chargen or time (RFC 862-868) is
 * not answered, nor one sent to a broadcast or multicast address: one forged
 * datagram between two echo services would bounce for ever, and a broadcast
 * would be answered by every host (CERT CA-1996-01; inetd does the same). */
static bool udp_echo_refused(u16_t port)
{
    if (port == 7 || port == 9 || port == 13 || port == 19 || port == 37)
        return true;
    const ip_addr_t *dst = ip_current_dest_addr();
    return IP_IS_V6(dst) ? ip6_addr_ismulticast(ip_2_ip6(dst))
                         : ip4_addr_ismulticast(ip_2_ip4(dst)) || ip4_addr_isbroadcast(ip_2_ip4(dst), ip_current_netif());
}

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    (void)arg;
    if (udp_echo_refused(port))
        stats.udp_refused++;
    else if (udp_sendto(pcb, p, addr, port) == ERR_OK)
        stats.udp_datagrams++;
    else
        stats.udp_errors++;
    pbuf_free(p);
}

int echo_server_start(void)
{
    if (tcp_service_listen(&echo_service) < 0)
        return -1;

    struct udp_pcb *udp = udp_new_ip_type(IPADDR_TYPE_ANY);
    if (!udp || udp_bind(udp, IP_ANY_TYPE, ECHO_PORT) != ERR_OK) {
        log_error("echo: cannot bind UDP port %d", ECHO_PORT);
        return -1;
    }
    udp_recv(udp, on_udp, NULL);
    return 0;
}
