/*
 * Echo: every byte back, in order. TCP flow control is end to end: received
 * data stays queued here, unacknowledged to lwIP (no tcp_recved), until it
 * has been queued for sending, so a client that reads slowly shrinks its own
 * send window instead of making this server buffer without bound.
 */
#include "net/echo_server.h"

#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/string.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "net/tcp_service.h"

#define POLL_INTERVAL 4 /* 2 s: retry a close that lacked memory */
/* Received pbufs sit over the driver's receive buffers; a peer that sends
 * tiny segments and reads nothing would otherwise pin one 2 KiB buffer per
 * segment, up to a window's worth (thousands), and starve the receive ring.
 * Past this many pieces the pending data is copied into one heap buffer. */
#define MAX_PENDING_PBUFS 8
/* A pbuf chain counts its bytes in 16 bits, and a scaled window lets more
 * than that wait here: pending data is a queue of chains, each under 64 KiB.
 * Enough of them for a full window even when every chain is half full. */
#define CHAIN_MAX 0xFFFFu
#define PENDING_CHAINS (TCP_WND / (CHAIN_MAX / 2) + 2)

struct echo_conn {
    struct tcp_pcb *pcb;
    struct pbuf *pending[PENDING_CHAINS]; /* received, not yet queued for sending; oldest first */
    unsigned chains;
    bool peer_closed;
};

static struct echo_server_stats stats;

const struct echo_server_stats *echo_server_stats(void)
{
    return &stats;
}

static void detach(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
}

static err_t retry_close(void *arg, struct tcp_pcb *pcb)
{
    (void)arg;
    if (tcp_close(pcb) != ERR_OK)
        tcp_abort(pcb);
    return ERR_ABRT;
}

static void free_pending(struct echo_conn *c)
{
    for (unsigned i = 0; i < c->chains; i++)
        pbuf_free(c->pending[i]);
    c->chains = 0;
}

static void conn_close(struct echo_conn *c)
{
    struct tcp_pcb *pcb = c->pcb;
    detach(pcb);
    free_pending(c);
    kfree(c);
    tcp_poll(pcb, tcp_close(pcb) == ERR_OK ? NULL : retry_close, POLL_INTERVAL);
}

/* Moves pending bytes into lwIP's send queue as far as it has room, and only
 * then acknowledges them to the sender. */
static void pump(struct echo_conn *c)
{
    while (c->chains) {
        struct pbuf *p = c->pending[0];
        tcpwnd_size_t room = tcp_sndbuf(c->pcb); /* over 64 KiB with window scaling */
        if (room == 0 || tcp_sndqueuelen(c->pcb) >= TCP_SND_QUEUELEN - 1)
            break;
        u16_t n = p->len < room ? p->len : (u16_t)room;
        if (n && tcp_write(c->pcb, p->payload, n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break; /* no memory now: the sent callback tries again */
        stats.tcp_bytes += n;
        tcp_recved(c->pcb, n);
        c->pending[0] = pbuf_free_header(p, n);
        if (!c->pending[0]) {
            c->chains--;
            memmove(c->pending, c->pending + 1, c->chains * sizeof(c->pending[0]));
        }
    }
    tcp_output(c->pcb);
    if (!c->chains && c->peer_closed)
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
    struct pbuf **last = c->chains ? &c->pending[c->chains - 1] : NULL;
    if (!p) {
        c->peer_closed = true;
    } else if (last && (*last)->tot_len + p->tot_len <= CHAIN_MAX) {
        pbuf_cat(*last, p);
    } else if (c->chains < PENDING_CHAINS) {
        last = &c->pending[c->chains++];
        *last = p;
    } else {
        return ERR_MEM; /* not within one window: lwIP keeps p and offers it again */
    }
    if (last && pbuf_clen(*last) > MAX_PENDING_PBUFS) {
        struct pbuf *one = pbuf_coalesce(*last, PBUF_RAW); /* frees the chain when it copied */
        if (one != *last)
            stats.tcp_coalesced++;
        *last = one;
    }
    pump(c);
    return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)pcb;
    (void)len;
    pump(arg);
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    (void)err;
    struct echo_conn *c = arg;
    if (!c)
        return;
    free_pending(c);
    kfree(c);
}

static void on_accepted(void *conn, struct tcp_pcb *pcb)
{
    struct echo_conn *c = conn;
    c->pcb = pcb;
    stats.tcp_connections++;
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
}

static const struct tcp_service echo_service = {
    .name = "echo",
    .port = ECHO_PORT,
    .conn_size = sizeof(struct echo_conn),
    .accepted = on_accepted,
    .refused = &stats.tcp_refused,
};

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    (void)arg;
    if (udp_sendto(pcb, p, addr, port) == ERR_OK)
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
