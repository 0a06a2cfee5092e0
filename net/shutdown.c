#include "net/net.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "net/tcp_service.h"

static int active_connections(void)
{
    int n = 0;
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next)
        n++;
    return n;
}

int net_shutdown_begin(void)
{
    while (tcp_listen_pcbs.listen_pcbs)
        tcp_close((struct tcp_pcb *)tcp_listen_pcbs.listen_pcbs); /* a listener's close cannot fail */
    return active_connections();
}

bool net_shutdown_draining(void)
{
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next)
        if (tcp_service_owed(pcb))
            return true;
    return false;
}

int net_shutdown_finish(void)
{
    int n = 0;
    /* tcp_abort sends the reset, unlinks the PCB and tells its service (err callback). */
    for (; tcp_active_pcbs; n++)
        tcp_abort(tcp_active_pcbs);
    return n;
}
