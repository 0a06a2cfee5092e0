#include "net/net.h"

#include "arch/x86_64/timer.h"
#include "drivers/virtio/virtio_net.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lwip/dhcp.h"
#include "lwip/init.h"
#include "lwip/opt.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "net/echo_server.h"
#include "net/fault_port.h"
#include "net/http_server.h"
#include "net/lwip_pools.h"
#include "net/lwip_port.h"
#include "net/nic_netif.h"
#include "net/site.h"
#include "net/stats_page.h"

#define DHCP_TIMEOUT_NS (10 * 1000000000ULL)
/* QEMU's user network and the test namespace both use these (DESIGN.md). */
#define FALLBACK_ADDR 0x0A00020Fu  /* 10.0.2.15 */
#define FALLBACK_PREFIX 24
#define FALLBACK_GW 0x0A000202u    /* 10.0.2.2 */
#define MAX_NETIFS VIRTIO_NET_MAX_DEVICES
/* Input the HTTP server may hold past its connections' buffers, all of them
 * together: a sixteenth of the memory free as lwIP starts (about 320 KiB at
 * -m 8), and at least one window, so that one client pipelining at full
 * window is never slowed. */
#define HTTP_HELD_INPUT_MAX(free) ((size_t)((free) / 16 > TCP_WND ? (free) / 16 : TCP_WND))

static bool ready_printed;
static bool services_listening;
static struct timer lwip_wakeup;
static struct timer dhcp_deadline;
/* The IPv4 settings and IPv6 addresses last logged per interface, so a line appears only on change. */
static ip4_addr_t logged_addr[MAX_NETIFS * 3];
static ip6_addr_t logged_addr6[MAX_NETIFS * LWIP_IPV6_NUM_ADDRESSES];

static ip4_addr_t ip4_from_host(uint32_t a)
{
    ip4_addr_t ip;
    IP4_ADDR(&ip, (a >> 24) & 0xFF, (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF);
    return ip;
}

static ip4_addr_t netmask_for(unsigned prefix)
{
    return ip4_from_host(prefix ? 0xFFFFFFFFu << (32 - prefix) : 0);
}

static void wake(struct timer *t, void *arg)
{
    (void)t;
    (void)arg; /* the main loop runs sys_check_timeouts on its way back */
}

void net_run_timeouts(void)
{
    sys_check_timeouts();
    /* Last in the pass: what the polls and timeouts queued goes out, one notification per NIC. */
    nic_netif_flush_all();
    u32_t ms = sys_timeouts_sleeptime();
    if (ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE) {
        timer_cancel(&lwip_wakeup);
        return;
    }
    /* lwIP counts whole milliseconds (sys_now): its next timeout is the same
     * millisecond on every pass until the timeouts change, so the kernel
     * timer is re-armed only then. */
    uint64_t deadline = (clock_now_ns() / 1000000 + ms) * 1000000;
    if (!lwip_wakeup.armed || lwip_wakeup.deadline != deadline)
        timer_at(&lwip_wakeup, deadline, wake, NULL);
}

static void format_mac(const struct netif *netif, char *buf, size_t size)
{
    const u8_t *m = netif->hwaddr;
    snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void print_ready(struct netif *netif)
{
    if (ready_printed || !services_listening || ip4_addr_isany_val(*netif_ip4_addr(netif)))
        return;
    ready_printed = true;
    char mac[18], ip[16], gw[16];
    format_mac(netif, mac, sizeof(mac));
    ip4addr_ntoa_r(netif_ip4_addr(netif), ip, sizeof(ip));
    ip4addr_ntoa_r(netif_ip4_gw(netif), gw, sizeof(gw));
    uint64_t ns = clock_now_ns();
    kprintf("READY ip=%s mac=%s gw=%s ip6=%s http=%d echo=%d t=%llu.%03llums\n", ip, mac, gw,
            ip6addr_ntoa(netif_ip6_addr(netif, 0)), HTTP_PORT, ECHO_PORT, NS_MS_WHOLE(ns), NS_MS_FRAC(ns));
}

/* lwIP calls the status callback when an IPv6 address becomes valid or
 * stops being so. A line for each address past the link-local one (which
 * READY carries), as it comes (SLAAC from a router advertisement) and goes. */
static void log_ipv6_changes(struct netif *netif)
{
    ip6_addr_t *logged = &logged_addr6[LWIP_IPV6_NUM_ADDRESSES * (netif->num % MAX_NETIFS)];
    for (int i = 1; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
        bool valid = ip6_addr_isvalid(netif_ip6_addr_state(netif, i));
        const ip6_addr_t *now = netif_ip6_addr(netif, i);
        if (valid ? ip6_addr_cmp_zoneless(&logged[i], now) : ip6_addr_isany(&logged[i]))
            continue;
        char text[IP6ADDR_STRLEN_MAX];
        ip6addr_ntoa_r(valid ? now : &logged[i], text, sizeof(text));
        log_info("net: %c%c%u ipv6 %s %s", netif->name[0], netif->name[1], netif->num, text,
                 valid ? "valid (SLAAC)" : "no longer valid");
        if (valid)
            ip6_addr_copy(logged[i], *now);
        else
            ip6_addr_set_zero(&logged[i]);
    }
}

static void status_changed(struct netif *netif)
{
    log_ipv6_changes(netif);
    if (!netif_is_up(netif) || ip4_addr_isany_val(*netif_ip4_addr(netif)))
        return; /* nothing worth a line until there is an address */
    ip4_addr_t *logged = &logged_addr[3 * (netif->num % MAX_NETIFS)];
    if (ip4_addr_cmp(&logged[0], netif_ip4_addr(netif)) && ip4_addr_cmp(&logged[1], netif_ip4_netmask(netif)) &&
        ip4_addr_cmp(&logged[2], netif_ip4_gw(netif)))
        return; /* an IPv6 change: the IPv4 line stands */
    logged[0] = *netif_ip4_addr(netif);
    logged[1] = *netif_ip4_netmask(netif);
    logged[2] = *netif_ip4_gw(netif);
    char ip[16], mask[16], gw[16];
    ip4addr_ntoa_r(netif_ip4_addr(netif), ip, sizeof(ip));
    ip4addr_ntoa_r(netif_ip4_netmask(netif), mask, sizeof(mask));
    ip4addr_ntoa_r(netif_ip4_gw(netif), gw, sizeof(gw));
    log_info("net: %c%c%u up, ipv4 %s netmask %s gw %s%s", netif->name[0], netif->name[1], netif->num, ip, mask, gw,
             dhcp_supplied_address(netif) ? " (DHCP)" : "");
    struct netif *other;
    NETIF_FOREACH(other) {
        /* lwIP routes by the first interface that matches: the other one would receive and never answer. */
        if (other != netif && netif_is_up(other) && ip4_addr_cmp(netif_ip4_addr(other), netif_ip4_addr(netif)))
            log_warn("net: %c%c%u and %c%c%u both have %s: replies leave by one of them only", netif->name[0],
                     netif->name[1], netif->num, other->name[0], other->name[1], other->num, ip);
    }
    print_ready(netif);
}

static void link_callback(struct netif *netif)
{
    log_info("net: %c%c%u link %s", netif->name[0], netif->name[1], netif->num, netif_is_link_up(netif) ? "up" : "down");
}

/* DHCP did not bind in time: take the static default so the guest is reachable. */
static void dhcp_gave_up(struct timer *t, void *arg)
{
    (void)t;
    struct netif *netif = arg;
    if (dhcp_supplied_address(netif))
        return;
    log_warn("net: no DHCP answer within %llu s, falling back to 10.0.2.15/24 gw 10.0.2.2",
             (unsigned long long)(DHCP_TIMEOUT_NS / 1000000000ULL));
    dhcp_release_and_stop(netif);
    ip4_addr_t addr = ip4_from_host(FALLBACK_ADDR), mask = netmask_for(FALLBACK_PREFIX), gw = ip4_from_host(FALLBACK_GW);
    netif_set_addr(netif, &addr, &mask, &gw);
}

static void configure_addresses(struct netif *netif, const struct net_config *cfg, bool first)
{
    netif_create_ip6_linklocal_address(netif, 1);
    netif_set_ip6_autoconfig_enabled(netif, 1);
    if (!first || cfg->dhcp) {
        netif_set_up(netif);
        dhcp_start(netif);
        if (first)
            timer_after(&dhcp_deadline, DHCP_TIMEOUT_NS, dhcp_gave_up, netif);
        log_info("net: %c%c%u: DHCP started", netif->name[0], netif->name[1], netif->num);
        return;
    }
    ip4_addr_t addr = ip4_from_host(cfg->ip_addr), mask = netmask_for(cfg->ip_prefix);
    ip4_addr_t gw = cfg->gw_set ? ip4_from_host(cfg->gw_addr) : ip4_from_host(0);
    netif_set_addr(netif, &addr, &mask, &gw);
    netif_set_up(netif);
}

static void log_pool_sizes(uint64_t memory_free)
{
    struct lwip_pools_report r = lwip_pools_report();
    log_info("net: lwIP pools %zu KiB from the heap: %u TCP pcbs (for %llu MiB free), %u segments, %u pbufs",
             r.bytes / 1024, r.tcp_pcbs, (unsigned long long)(memory_free >> 20), MEMP_NUM_TCP_SEG, MEMP_NUM_PBUF);
    if (r.pools_short)
        log_warn("net: %u lwIP pools got fewer elements than planned (%u of %u TCP pcbs): the heap is short",
                 r.pools_short, r.tcp_pcbs, r.tcp_pcbs_planned);
}

static const struct http_dynamic_page dynamic_pages[] = {
    { "/stats", "text/plain; version=0.0.4", stats_page_render },
};

static void log_wall_clock(const struct wall_clock *c)
{
    if (!c->unix_seconds) {
        log_info("net: no wall clock (no RTC with a valid time, no kvmclock): HTTP responses carry no Date");
        return;
    }
    char date[HTTP_DATE_LEN + 1];
    http_date_format(wall_clock_at(c, clock_now_ns()), date);
    log_info("net: wall clock from %s, taken as UTC: %s", c->source, date);
}

int net_init(const struct net_config *cfg)
{
    net_random_seed(cfg->random_seed);
    lwip_pools_plan(cfg->memory_free);
    lwip_init();
    log_pool_sizes(cfg->memory_free);
    stats_page_init(&cfg->stats);
    if (cfg->site_refused_bytes)
        site_note_refused(cfg->site_refused_bytes);
    if (cfg->site && site_load(cfg->site, cfg->site_size) < 0 && cfg->site_release)
        cfg->site_release(cfg->site, cfg->site_size);
    /* Services listen before any address exists, so READY means they serve. */
    log_wall_clock(&cfg->wall_clock);
    if (http_server_start(dynamic_pages, sizeof(dynamic_pages) / sizeof(dynamic_pages[0]), &cfg->wall_clock,
                          HTTP_HELD_INPUT_MAX(cfg->memory_free)) < 0 ||
        echo_server_start() < 0)
        log_error("net: a service could not start; READY will not be printed");
    else
        services_listening = true;
    if (cfg->fault_port)
        fault_port_start();
    for (int i = 0; i < virtio_net_count(); i++) {
        struct virtio_net *nic = virtio_net_get(i);
        struct nic_netif *n = nic_netif_add(nic);
        if (!n)
            continue;
        struct netif *netif = nic_netif_lwip(n);
        netif_set_status_callback(netif, status_changed);
        netif_set_link_callback(netif, link_callback);
        if (virtio_net_link_up(nic))
            netif_set_link_up(netif);
        char mac[18];
        format_mac(netif, mac, sizeof(mac));
        log_info("net: %c%c%u on %s, mac %s, mtu %u%s", netif->name[0], netif->name[1], netif->num,
                 virtio_net_name(nic), mac, netif->mtu,
                 virtio_net_tx_csum_offload(nic) ? ", TCP checksum offload" : "");
        bool first = nic_netif_count() == 1;
        if (first)
            netif_set_default(netif);
        configure_addresses(netif, cfg, first);
    }
    if (nic_netif_count() == 0)
        log_warn("net: no network interface: nothing to serve on (needs a virtio-net device: "
                 "-device virtio-net-pci, or virtio-net-device on microvm)");
    return nic_netif_count();
}
