#include "net/fault_port.h"

#include "drivers/virtio/virtio_net.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/udp.h"

static const struct {
    const char *name;
    enum virtio_net_fault fault;
} faults[] = {
    { "device-error", VIRTIO_NET_FAULT_DEVICE_ERROR },
    { "bad-used-id", VIRTIO_NET_FAULT_BAD_USED_ID },
};

/* The driver behind the interface a datagram came in on (matched by MAC). */
static struct virtio_net *nic_of(const struct netif *netif)
{
    for (int i = 0; netif && i < virtio_net_count(); i++)
        if (memcmp(virtio_net_mac(virtio_net_get(i)), netif->hwaddr, 6) == 0)
            return virtio_net_get(i);
    return NULL;
}

static void reply(struct udp_pcb *pcb, const ip_addr_t *addr, u16_t port, const char *text)
{
    size_t len = strlen(text);
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
    if (!p)
        return;
    memcpy(p->payload, text, len);
    udp_sendto(pcb, p, addr, port);
    pbuf_free(p);
}

static void on_datagram(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    (void)arg;
    char command[32];
    u16_t n = pbuf_copy_partial(p, command, sizeof(command) - 1, 0);
    pbuf_free(p);
    while (n > 0 && (command[n - 1] == '\n' || command[n - 1] == '\r'))
        n--;
    command[n] = '\0';
    struct virtio_net *nic = nic_of(ip_current_input_netif());
    for (unsigned i = 0; nic && i < sizeof(faults) / sizeof(faults[0]); i++) {
        if (strcmp(command, faults[i].name) != 0)
            continue;
        char text[64];
        snprintf(text, sizeof(text), "ok %s on %s\n", faults[i].name, virtio_net_name(nic));
        reply(pcb, addr, port, text); /* first: the fault may take this reply with it */
        int rc = virtio_net_inject_fault(nic, faults[i].fault);
        if (rc < 0)
            log_error("fault: %s on %s failed: error %d", faults[i].name, virtio_net_name(nic), rc);
        return;
    }
    reply(pcb, addr, port, nic ? "error: unknown fault (device-error|bad-used-id)\n" : "error: no NIC\n");
}

int fault_port_start(void)
{
    struct udp_pcb *pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
    if (!pcb || udp_bind(pcb, IP_ANY_TYPE, FAULT_PORT) != ERR_OK) {
        log_error("fault: cannot bind UDP port %d", FAULT_PORT);
        return -1;
    }
    udp_recv(pcb, on_datagram, NULL);
    log_warn("fault: fault injection listening on UDP port %d (faults=on)", FAULT_PORT);
    return 0;
}
