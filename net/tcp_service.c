#include "net/tcp_service.h"

#include "lib/kheap.h"
#include "lib/log.h"
#include "net/tcp_keepalive.h"
#include "net/tcp_listen_cookies.h"

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    const struct tcp_service *svc = arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    void *conn = kzalloc(svc->conn_size);
    if (!conn) {
        if (svc->refused)
            (*svc->refused)++;
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    tcp_arg(pcb, conn);
    tcp_keepalive_enable(pcb);
    svc->accepted(conn, pcb);
    return ERR_OK;
}

int tcp_service_listen(const struct tcp_service *svc)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    if (!pcb || tcp_bind(pcb, IP_ANY_TYPE, svc->port) != ERR_OK) {
        log_error("%s: cannot bind TCP port %u", svc->name, svc->port);
        if (pcb)
            tcp_close(pcb);
        return -1;
    }
    struct tcp_pcb *listener = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
    if (!listener) {
        log_error("%s: cannot listen on TCP port %u", svc->name, svc->port);
        tcp_close(pcb);
        return -1;
    }
    tcp_arg(listener, (void *)svc);
    tcp_accept(listener, on_accept);
    return 0;
}

void tcp_service_set_reclaimable(struct tcp_pcb *pcb, bool *reclaimable, bool on)
{
    if (*reclaimable == on)
        return;
    *reclaimable = on;
    if (pcb)
        tcp_setprio(pcb, on ? TCP_PRIO_MIN : TCP_PRIO_NORMAL);
    tcp_listen_cookies_reclaimable(on ? 1 : -1);
}

u16_t tcp_service_write_room(const struct tcp_pcb *pcb, bool by_reference)
{
    /* tcp_write's mss_local: never above the MSS, nor half the largest window
     * the peer offered. One pbuf is kept for a piece joined to the last
     * unsent segment. */
    u32_t seg = pcb->mss, half_window = pcb->snd_wnd_max / 2;
    if (half_window && half_window < seg)
        seg = half_window;
    int pbufs = TCP_SND_QUEUELEN - 1 - (int)tcp_sndqueuelen(pcb);
    u32_t fit = pbufs > 0 ? (u32_t)pbufs / (by_reference ? 2 : 1) * seg : 0;
    u16_t room = tcp_sndbuf(pcb);
    return fit < room ? (u16_t)fit : room;
}

void tcp_service_recved(struct tcp_pcb *pcb, size_t bytes)
{
    while (bytes) {
        u16_t n = bytes < 0xFFFF ? (u16_t)bytes : 0xFFFF;
        tcp_recved(pcb, n);
        bytes -= n;
    }
}
