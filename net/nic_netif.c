#include "net/nic_netif.h"

#include "lib/kheap.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/ip4.h"
#include "lwip/pbuf.h"
#include "lwip/snmp.h"
#include "lwip/stats.h"
#include "net/announce.h"
#include "net/nic_tx.h"
#include "netif/ethernet.h"

#define ETH_HEADER_LEN 14
#define VLAN_TAG_LEN 4
#define IPV6_MIN_LINK_MTU 1280 /* RFC 8200, section 5 */
#define PBUF_MAX_TOT_LEN 0xFFFF /* lwIP 2.1's pbuf lengths are 16 bits */

/* A pbuf over one driver receive buffer; freeing it hands the buffer back. */
struct rx_pbuf {
    struct pbuf_custom custom; /* first: lwIP passes us this pointer back */
    struct nic_netif *owner;
    uint16_t id;
};

struct nic_netif;
static struct nic_netif *registry[VIRTIO_NET_MAX_DEVICES];
static int registry_count;

/* An IPv6 multicast group's MAC address: 33:33 and the group's last 32 bits (RFC 2464, 7). */
#define MCAST6_MAC_PREFIX0 0x33
#define MCAST6_MAC_PREFIX1 0x33

struct mcast_entry {
    uint8_t mac[6];
    unsigned users;  /* groups that map to this address */
};

struct nic_netif {
    struct netif netif;
    struct mcast_entry mcast[VIRTIO_NET_MCAST_MAX + 1]; /* one more: too many turns all-multicast on */
    unsigned mcast_count;
    struct virtio_net *nic;
    struct rx_pbuf *rx_pbufs; /* one per driver receive buffer id */
    uint16_t rx_pbuf_count;
    u16_t checksum_flags;     /* the netif's usual checksum control */
    struct nic_tx tx;
    struct nic_netif_stats stats;
};

struct netif *nic_netif_lwip(struct nic_netif *n) { return &n->netif; }
struct virtio_net *nic_netif_nic(struct nic_netif *n) { return n->nic; }
const struct nic_netif_stats *nic_netif_stats(const struct nic_netif *n) { return &n->stats; }
const struct nic_tx_stats *nic_netif_tx_stats(const struct nic_netif *n) { return &n->tx.stats; }

static void rx_pbuf_free(struct pbuf *p)
{
    struct rx_pbuf *r = (struct rx_pbuf *)p;
    virtio_net_rx_release(r->owner->nic, r->id);
}

/* `ip_only`: the frame's Ethernet header is already off (see receive). */
static void input(struct nic_netif *n, struct pbuf *p, bool data_valid, bool ip_only)
{
    /* lwIP checks checksums per netif, not per packet: for a frame the device
     * already verified, switch the TCP/UDP checks off for this one input call. */
    if (data_valid)
        NETIF_SET_CHECKSUM_CTRL(&n->netif, n->checksum_flags & ~(NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP));
    err_t err = ip_only ? ip4_input(p, &n->netif) : n->netif.input(p, &n->netif);
    if (data_valid)
        NETIF_SET_CHECKSUM_CTRL(&n->netif, n->checksum_flags);
    if (err != ERR_OK && !ip_only) {
        n->stats.rx_input_errors++;
        pbuf_free(p); /* lwIP did not take it: still ours (ip4_input frees what it refuses) */
    }
}

static void release_all(struct nic_netif *n, const struct virtio_net_rx_frame *frame)
{
    for (unsigned i = 0; i < frame->count; i++)
        virtio_net_rx_release(n->nic, frame->bufs[i].id);
}

/* A large IPv4 segment may be longer than a pbuf chain can say (16 bits)
 * only by its Ethernet header: such a frame, addressed to us, goes to IP
 * without it, as ethernet_input would pass it on. */
static bool ip_only_fits(const struct nic_netif *n, const struct virtio_net_rx_frame *frame, uint32_t total)
{
    const uint8_t *eth = frame->bufs[0].data;
    return total - ETH_HEADER_LEN <= PBUF_MAX_TOT_LEN && frame->bufs[0].len > ETH_HEADER_LEN &&
           memcmp(eth, n->netif.hwaddr, ETH_HWADDR_LEN) == 0 && eth[12] == 0x08 && eth[13] == 0x00;
}

static void receive(void *ctx, const struct virtio_net_rx_frame *frame)
{
    struct nic_netif *n = ctx;
    /* lwIP takes any length it is given; a frame past the device's MTU (a
     * jumbo from a misconfigured or hostile peer) is nothing this interface
     * agreed to. A smaller MTU from DHCP limits what is sent, not this. A
     * large TCP segment (GUEST_TSO4/6, its header checked by the driver) may
     * be as long as IP allows. */
    uint32_t total = 0;
    for (unsigned i = 0; i < frame->count; i++)
        total += frame->bufs[i].len;
    bool gso = frame->gso_type != VIRTIO_NET_HDR_GSO_NONE;
    uint32_t limit = gso ? VIRTIO_NET_MAX_GSO_FRAME : (uint32_t)virtio_net_rx_mtu(n->nic) + ETH_HEADER_LEN + VLAN_TAG_LEN;
    uint32_t skip = total > PBUF_MAX_TOT_LEN ? ETH_HEADER_LEN : 0;
    if (total > limit || (skip && !ip_only_fits(n, frame, total))) {
        n->stats.rx_drop_oversize++;
        LINK_STATS_INC(link.lenerr);
        LINK_STATS_INC(link.drop);
        release_all(n, frame);
        return;
    }
    /* Zero copy lets lwIP keep the driver's buffers as long as it keeps the
     * data (out-of-order queues, reassembly, unread data). When it holds over
     * half of them, copy instead so the receive ring always refills. */
    if (virtio_net_rx_buffers_held(n->nic) > n->rx_pbuf_count / 2) {
        struct pbuf *copy = pbuf_alloc(PBUF_RAW, (u16_t)(total - skip), PBUF_RAM);
        if (copy) {
            u16_t off = 0;
            for (unsigned i = 0; i < frame->count; i++) {
                uint32_t from = i == 0 ? skip : 0;
                pbuf_take_at(copy, frame->bufs[i].data + from, (u16_t)(frame->bufs[i].len - from), off);
                off = (u16_t)(off + frame->bufs[i].len - from);
            }
            n->stats.rx_copied++;
        } else {
            n->stats.rx_drop_no_memory++;
            LINK_STATS_INC(link.memerr);
            LINK_STATS_INC(link.drop);
        }
        release_all(n, frame);
        if (copy)
            input(n, copy, frame->data_valid, skip != 0);
        return;
    }
    struct pbuf *head = NULL;
    for (unsigned i = 0; i < frame->count; i++) {
        const struct virtio_net_rx_buffer_ref *b = &frame->bufs[i];
        uint32_t from = i == 0 ? skip : 0;
        struct rx_pbuf *r = &n->rx_pbufs[b->id];
        r->custom.custom_free_function = rx_pbuf_free;
        struct pbuf *p = pbuf_alloced_custom(PBUF_RAW, (u16_t)(b->len - from), PBUF_REF, &r->custom, b->data + from,
                                             (u16_t)(b->len - from));
        if (head)
            pbuf_cat(head, p);
        else
            head = p;
    }
    input(n, head, frame->data_valid, skip != 0);
}

static void tx_done(void *ctx, void *token)
{
    struct nic_netif *n = ctx;
    nic_tx_done(&n->tx, token);
}

static void tx_wake(void *ctx)
{
    struct nic_netif *n = ctx;
    nic_tx_wake(&n->tx);
}

static void announce(void *ctx)
{
    struct nic_netif *n = ctx;
    unsigned sent = net_announce(&n->netif);
    log_info("net: %c%c%u: announced: %u frame(s) (gratuitous ARP, unsolicited neighbour advertisements)",
             n->netif.name[0], n->netif.name[1], n->netif.num, sent);
}

/* The device's multicast filter follows the groups lwIP joins (MLD). */
static void mcast_push(struct nic_netif *n)
{
    uint8_t macs[VIRTIO_NET_MCAST_MAX + 1][6];
    for (unsigned i = 0; i < n->mcast_count; i++)
        memcpy(macs[i], n->mcast[i].mac, 6);
    virtio_net_set_multicast(n->nic, (const uint8_t (*)[6])macs, n->mcast_count);
}

static void mcast6_mac(const ip6_addr_t *group, uint8_t mac[6])
{
    uint32_t low = lwip_ntohl(group->addr[3]);
    mac[0] = MCAST6_MAC_PREFIX0;
    mac[1] = MCAST6_MAC_PREFIX1;
    for (int k = 0; k < 4; k++)
        mac[2 + k] = (uint8_t)(low >> (24 - 8 * k));
}

/* On address changes only: cold, so built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) static void mcast_change(struct nic_netif *n, const uint8_t mac[6], bool add)
{
    unsigned i = 0;
    while (i < n->mcast_count && memcmp(n->mcast[i].mac, mac, 6) != 0)
        i++;
    if (add) {
        if (i < n->mcast_count) {
            n->mcast[i].users++;
            return;
        }
        if (n->mcast_count == VIRTIO_NET_MCAST_MAX + 1)
            return; /* already past the table: all-multicast is on */
        memcpy(n->mcast[n->mcast_count].mac, mac, 6);
        n->mcast[n->mcast_count++].users = 1;
    } else {
        if (i == n->mcast_count || --n->mcast[i].users)
            return;
        n->mcast[i] = n->mcast[--n->mcast_count];
    }
    mcast_push(n);
}

static err_t mld_mac_filter(struct netif *netif, const ip6_addr_t *group, enum netif_mac_filter_action action)
{
    uint8_t mac[6];
    mcast6_mac(group, mac);
    mcast_change(netif->state, mac, action == NETIF_ADD_MAC_FILTER);
    return ERR_OK;
}

static void link_changed(void *ctx, bool up)
{
    struct nic_netif *n = ctx;
    if (up)
        netif_set_link_up(&n->netif);
    else
        netif_set_link_down(&n->netif);
}

static err_t linkoutput(struct netif *netif, struct pbuf *p)
{
    struct nic_netif *n = netif->state;
    return nic_tx_output(&n->tx, p);
}

bool nic_netif_cuts_tcp(const struct netif *netif, bool v6)
{
    const struct nic_netif *n = netif->linkoutput == linkoutput ? netif->state : NULL;
    return n && n->tx.runs && n->tx.tso[v6];
}

bool nic_netif_all_cut_tcp(bool v6)
{
    for (int i = 0; i < registry_count; i++)
        if (!nic_netif_cuts_tcp(&registry[i]->netif, v6))
            return false;
    return registry_count > 0;
}

void nic_netif_flush_all(void)
{
    for (int i = 0; i < registry_count; i++)
        nic_tx_flush(&registry[i]->tx);
}

uint16_t nic_netif_device_mtu(const struct netif *netif)
{
    const struct nic_netif *n = netif->state;
    return virtio_net_mtu(n->nic);
}

void nic_netif_set_link_mtu(struct netif *netif, uint16_t mtu)
{
    netif->mtu = mtu;
    netif->mtu6 = mtu > IPV6_MIN_LINK_MTU ? mtu : IPV6_MIN_LINK_MTU;
}

/* Setup runs once: cold, so built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) static err_t netif_setup(struct netif *netif)
{
    struct nic_netif *n = netif->state;
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, virtio_net_mac(n->nic), ETH_HWADDR_LEN);
    netif->mtu = virtio_net_mtu(n->nic);
    netif->mtu6 = netif->mtu;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = linkoutput;
    /* With transmit offload the device computes TCP checksums. */
    n->checksum_flags = NETIF_CHECKSUM_ENABLE_ALL;
    if (virtio_net_tx_csum_offload(n->nic))
        n->checksum_flags &= (u16_t)~NETIF_CHECKSUM_GEN_TCP;
    NETIF_SET_CHECKSUM_CTRL(netif, n->checksum_flags);
    /* All-nodes (ff02::1) is never joined through MLD, but always received. */
    ip6_addr_t all_nodes;
    ip6_addr_set_allnodes_linklocal(&all_nodes);
    uint8_t mac[6];
    mcast6_mac(&all_nodes, mac);
    mcast_change(n, mac, true);
    netif_set_mld_mac_filter(netif, mld_mac_filter);
    return ERR_OK;
}

int nic_netif_count(void) { return registry_count; }
struct nic_netif *nic_netif_get(int i) { return i >= 0 && i < registry_count ? registry[i] : NULL; }

__attribute__((cold)) struct nic_netif *nic_netif_add(struct virtio_net *nic)
{
    if (registry_count == VIRTIO_NET_MAX_DEVICES)
        return NULL;
    struct nic_netif *n = kzalloc(sizeof(*n));
    if (!n)
        return NULL;
    n->nic = nic;
    if (nic_tx_init(&n->tx, nic, &n->netif) < 0)
        log_warn("net: %s: no memory for large-segment runs: TCP segments go out one by one", virtio_net_name(nic));
    n->rx_pbuf_count = virtio_net_rx_buffer_count(nic);
    n->rx_pbufs = kzalloc(sizeof(struct rx_pbuf) * n->rx_pbuf_count);
    if (!n->rx_pbufs) {
        kfree(n);
        return NULL;
    }
    for (uint16_t i = 0; i < n->rx_pbuf_count; i++)
        n->rx_pbufs[i] = (struct rx_pbuf){ .owner = n, .id = i };
    if (!netif_add(&n->netif, NULL, NULL, NULL, n, netif_setup, ethernet_input)) {
        log_error("net: %s: lwIP refused the interface", virtio_net_name(nic));
        return NULL;
    }
    struct virtio_net_stack stack = { .receive = receive, .tx_done = tx_done, .link_changed = link_changed,
                                      .tx_wake = tx_wake, .ctx = n, .announce = announce };
    virtio_net_attach_stack(nic, &stack);
    registry[registry_count++] = n;
    return n;
}
