#include "net/stats_page.h"

#include <stdarg.h>
#include <stddef.h>

#include "arch/x86_64/timer.h"
#include "lib/kheap.h"
#include "lib/phys_mem.h"
#include "drivers/virtio/virtio_net.h"
#include "lib/printf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "net/echo_server.h"
#include "net/http_server.h"
#include "net/http_static.h"
#include "net/lwip_hooks.h"
#include "net/nic_netif.h"
#include "net/nic_tx.h"
#include "net/site.h"

/* The first buffer's size; a page that does not fit is made again in one
 * twice as large (each NIC adds about 2.6 KB), up to the last. */
#ifndef PAGE_CAPACITY_FIRST
#define PAGE_CAPACITY_FIRST (32 * 1024) /* tests/stack builds it smaller, to make pages again */
#endif
#define PAGE_CAPACITY_MAX (512 * 1024)

static struct stats_sources sources;

void stats_page_init(const struct stats_sources *src)
{
    sources = *src;
}

struct text {
    char *buf;
    size_t len, capacity;
    bool full;               /* something did not fit: the page is made again, larger */
    const char *last_family; /* HELP/TYPE lines once per metric family */
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
    if (t->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->capacity - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->capacity - t->len)
        t->full = true;
    else
        t->len += (size_t)n;
}

/* One sample; families are introduced by their first sample. */
static void metric(struct text *t, const char *name, const char *type, const char *help, const char *labels,
                   unsigned long long value)
{
    if (!t->last_family || t->last_family != name) {
        put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        t->last_family = name;
    }
    if (labels && labels[0])
        put(t, "%s{%s} %llu\n", name, labels, value);
    else
        put(t, "%s %llu\n", name, value);
}

static uint64_t queue_broken(const struct virtqueue *vq) { return vq->broken; }
static uint64_t queue_kicks(const struct virtqueue *vq) { return vq->stats.kicks; }
static uint64_t queue_kicks_skipped(const struct virtqueue *vq) { return vq->stats.kicks_skipped; }

static const struct {
    const char *name, *type, *help;
    uint64_t (*value)(const struct virtqueue *vq);
} queue_metrics[] = {
    { "virtqueue_broken", "gauge", "1 if the queue was marked broken.", queue_broken },
    { "virtqueue_kicks_total", "counter", "Notifications sent to the device.", queue_kicks },
    { "virtqueue_kicks_skipped_total", "counter", "Notifications the device said it did not need.",
      queue_kicks_skipped },
};

/* A counter family: its name, help, and where each NIC's value sits in its statistics. */
struct counter_field {
    const char *name, *help;
    size_t offset;
};

/* One sample per NIC of each of `count` counter families; stats(i, &name)
 * gives NIC i's statistics and its name. */
static void nic_counter_families(struct text *t, const struct counter_field *fields, size_t count, int nics,
                                 const void *(*stats)(int i, const char **name))
{
    for (size_t f = 0; f < count; f++) {
        for (int i = 0; i < nics; i++) {
            const char *nic;
            const char *base = stats(i, &nic);
            char labels[48];
            snprintf(labels, sizeof(labels), "nic=\"%s\"", nic);
            metric(t, fields[f].name, "counter", fields[f].help, labels, *(const uint64_t *)(base + fields[f].offset));
        }
    }
}

static const struct counter_field nic_counters[] = {
    { "virtio_net_rx_packets_total", "Frames received.", offsetof(struct virtio_net_stats, rx_packets) },
    { "virtio_net_rx_bytes_total", "Bytes received (without the virtio header).",
      offsetof(struct virtio_net_stats, rx_bytes) },
    { "virtio_net_rx_interrupts_total", "Receive queue interrupts.", offsetof(struct virtio_net_stats, rx_interrupts) },
    { "virtio_net_rx_drop_bad_header_total", "Frames dropped: malformed virtio header.",
      offsetof(struct virtio_net_stats, rx_drop_bad_header) },
    { "virtio_net_rx_drop_gso_type_total", "Frames dropped: a GSO type not negotiated or not the frame's protocol.",
      offsetof(struct virtio_net_stats, rx_drop_gso_type) },
    { "virtio_net_rx_drop_gso_size_total", "Frames dropped: GSO size 0 or header lengths that are not the frame's.",
      offsetof(struct virtio_net_stats, rx_drop_gso_size) },
    { "virtio_net_rx_gso_total", "Large TCP segments received (GUEST_TSO4/6).",
      offsetof(struct virtio_net_stats, rx_gso) },
    { "virtio_net_rx_drop_incomplete_total", "Frames dropped: merged buffers missing.",
      offsetof(struct virtio_net_stats, rx_drop_incomplete) },
    { "virtio_net_rx_drop_no_stack_total", "Frames dropped: no network stack yet.",
      offsetof(struct virtio_net_stats, rx_drop_no_stack) },
    { "virtio_net_rx_csum_completed_total", "Partial checksums completed by the driver.",
      offsetof(struct virtio_net_stats, rx_csum_completed) },
    { "virtio_net_rx_refill_empty_total", "Refills that found no free receive buffer.",
      offsetof(struct virtio_net_stats, rx_refill_empty) },
    { "virtio_net_tx_packets_total", "Frames sent.", offsetof(struct virtio_net_stats, tx_packets) },
    { "virtio_net_tx_bytes_total", "Bytes sent (without the virtio header).",
      offsetof(struct virtio_net_stats, tx_bytes) },
    { "virtio_net_tx_interrupts_total", "Transmit queue interrupts.",
      offsetof(struct virtio_net_stats, tx_interrupts) },
    { "virtio_net_tx_gso_total", "Large TCP segments sent for the device to cut (HOST_TSO4/6).",
      offsetof(struct virtio_net_stats, tx_gso) },
    { "virtio_net_tx_ring_full_total", "Frames refused: transmit ring full.",
      offsetof(struct virtio_net_stats, tx_ring_full) },
    { "virtio_net_tx_stops_total", "Times a full ring stopped the stack's transmit queue.",
      offsetof(struct virtio_net_stats, tx_stops) },
    { "virtio_net_tx_wakes_total", "Times room came back and the stack went on.",
      offsetof(struct virtio_net_stats, tx_wakes) },
    { "virtio_net_tx_polls_total", "Transmit poll runs (after a transmit interrupt).",
      offsetof(struct virtio_net_stats, tx_polls) },
    { "virtio_net_tx_forced_kicks_total", "Notifications sent because the ring was full.",
      offsetof(struct virtio_net_stats, tx_forced_kicks) },
    { "virtio_net_tx_watchdog_kicks_total", "Notifications sent by the transmit watchdog.",
      offsetof(struct virtio_net_stats, tx_watchdog_kicks) },
    { "virtio_net_tx_completed_total", "Transmitted frames the device gave back.",
      offsetof(struct virtio_net_stats, tx_completed) },
    { "virtio_net_watchdog_tx_reaped_total", "Transmit completions the watchdog collected (no poll was coming).",
      offsetof(struct virtio_net_stats, watchdog_tx_reaped) },
    { "virtio_net_watchdog_polls_total", "Polls the transmit watchdog started.",
      offsetof(struct virtio_net_stats, watchdog_polls) },
    { "virtio_net_watchdog_rx_polls_total", "Polls the watchdog started that found received frames no interrupt announced (lost wake-ups).",
      offsetof(struct virtio_net_stats, watchdog_rx_polls) },
    { "virtio_net_watchdog_rx_frames_total", "Frames those polls received.",
      offsetof(struct virtio_net_stats, watchdog_rx_frames) },
    { "virtio_net_polls_total", "Poll runs (NAPI).", offsetof(struct virtio_net_stats, polls) },
    { "virtio_net_poll_budget_exhausted_total", "Polls that used their whole budget.",
      offsetof(struct virtio_net_stats, budget_exhausted) },
    { "virtio_net_needs_reset_total", "Times the device set NEEDS_RESET.",
      offsetof(struct virtio_net_stats, needs_reset) },
    { "virtio_net_queues_broken_total", "Times a queue failed the defensive checks.",
      offsetof(struct virtio_net_stats, queues_broken) },
    { "virtio_net_tx_timeouts_total", "Times transmit saw no completion for 2 s.",
      offsetof(struct virtio_net_stats, tx_timeouts) },
    { "virtio_net_device_resets_total", "Device resets that brought the NIC back.",
      offsetof(struct virtio_net_stats, device_resets) },
    { "virtio_net_tx_dropped_by_reset_total", "Frames in flight dropped by resets.",
      offsetof(struct virtio_net_stats, tx_dropped_by_reset) },
    { "virtio_net_ctrl_commands_total", "Control queue commands the device acknowledged.",
      offsetof(struct virtio_net_stats, ctrl_commands) },
    { "virtio_net_ctrl_failures_total", "Control queue commands refused or not answered.",
      offsetof(struct virtio_net_stats, ctrl_failures) },
    { "virtio_net_announces_total", "Announcements the device asked for (GUEST_ANNOUNCE).",
      offsetof(struct virtio_net_stats, announces) },
};

static const void *virtio_net_stats_of(int i, const char **name)
{
    *name = virtio_net_name(virtio_net_get(i));
    return virtio_net_stats(virtio_net_get(i));
}

static void nic_metrics(struct text *t)
{
    nic_counter_families(t, nic_counters, sizeof(nic_counters) / sizeof(nic_counters[0]), virtio_net_count(),
                         virtio_net_stats_of);
    for (int i = 0; i < virtio_net_count(); i++) {
        char labels[48];
        snprintf(labels, sizeof(labels), "nic=\"%s\"", virtio_net_name(virtio_net_get(i)));
        metric(t, "virtio_net_rx_buffers_held", "gauge", "Receive buffers the network stack holds now.", labels,
               virtio_net_rx_buffers_held(virtio_net_get(i)));
    }
    /* Metric outermost: a family's samples must stay together across NICs. */
    for (unsigned m = 0; m < sizeof(queue_metrics) / sizeof(queue_metrics[0]); m++) {
        for (int i = 0; i < virtio_net_count(); i++) {
            const struct virtio_device *v = virtio_net_device(virtio_net_get(i));
            for (unsigned q = 0; q < v->nvqs; q++) {
                char labels[64];
                snprintf(labels, sizeof(labels), "nic=\"%s\",queue=\"%u\"", v->name, q);
                metric(t, queue_metrics[m].name, queue_metrics[m].type, queue_metrics[m].help, labels,
                       queue_metrics[m].value(v->vqs[q]));
            }
        }
    }
}

/* lwIP names its pools only in debug builds: take the names from its pool list. */
static const char *const pool_names[MEMP_MAX] = {
#define LWIP_MEMPOOL(name, num, size, desc) #name,
#include "lwip/priv/memp_std.h"
};

static void lwip_metrics(struct text *t)
{
    /* Families must stay together: one family per pass over the protocols. */
    static const struct {
        const char *name;
        const struct stats_proto *stats;
    } protos[] = {
        { "link", &lwip_stats.link },   { "etharp", &lwip_stats.etharp }, { "ip", &lwip_stats.ip },
        { "ipfrag", &lwip_stats.ip_frag }, { "icmp", &lwip_stats.icmp }, { "udp", &lwip_stats.udp },
        { "tcp", &lwip_stats.tcp },     { "ip6", &lwip_stats.ip6 },       { "icmp6", &lwip_stats.icmp6 },
        { "ip6frag", &lwip_stats.ip6_frag }, { "nd6", &lwip_stats.nd6 },
    };
    static const struct {
        const char *name, *help;
        size_t offset;
    } fields[] = {
        { "lwip_packets_sent_total", "lwIP: packets sent, by protocol.", offsetof(struct stats_proto, xmit) },
        { "lwip_packets_received_total", "lwIP: packets received, by protocol.", offsetof(struct stats_proto, recv) },
        { "lwip_packets_dropped_total", "lwIP: packets dropped, by protocol.", offsetof(struct stats_proto, drop) },
        { "lwip_checksum_errors_total", "lwIP: checksum errors, by protocol.", offsetof(struct stats_proto, chkerr) },
        { "lwip_length_errors_total", "lwIP: length errors, by protocol.", offsetof(struct stats_proto, lenerr) },
        { "lwip_memory_errors_total", "lwIP: out-of-memory errors, by protocol.", offsetof(struct stats_proto, memerr) },
        { "lwip_protocol_errors_total", "lwIP: protocol errors, by protocol.", offsetof(struct stats_proto, proterr) },
        { "lwip_option_errors_total", "lwIP: option errors, by protocol.", offsetof(struct stats_proto, opterr) },
        { "lwip_routing_errors_total", "lwIP: routing errors, by protocol.", offsetof(struct stats_proto, rterr) },
        { "lwip_other_errors_total", "lwIP: other errors (e.g. IP version, fragment offset), by protocol.",
          offsetof(struct stats_proto, err) },
    };
    for (unsigned f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
        for (unsigned p = 0; p < sizeof(protos) / sizeof(protos[0]); p++) {
            char labels[32];
            snprintf(labels, sizeof(labels), "proto=\"%s\"", protos[p].name);
            const STAT_COUNTER *v = (const STAT_COUNTER *)((const char *)protos[p].stats + fields[f].offset);
            metric(t, fields[f].name, "counter", fields[f].help, labels, *v);
        }
    }
    static const struct { const char *name, *type, *help; } pool_metrics[] = {
        { "lwip_pool_size", "gauge", "lwIP: pool elements in all (TCP_PCB's sized at boot from free memory)." },
        { "lwip_pool_used", "gauge", "lwIP: pool elements in use." },
        { "lwip_pool_max_used", "gauge", "lwIP: most pool elements ever in use." },
        { "lwip_pool_errors_total", "counter", "lwIP: allocations the pool refused." },
    };
    for (unsigned m = 0; m < sizeof(pool_metrics) / sizeof(pool_metrics[0]); m++) {
        for (int i = 0; i < MEMP_MAX; i++) {
            const struct stats_mem *p = lwip_stats.memp[i];
            uint64_t v = m == 0 ? p->avail : m == 1 ? p->used : m == 2 ? p->max : p->err;
            char labels[48];
            snprintf(labels, sizeof(labels), "pool=\"%s\"", pool_names[i]);
            metric(t, pool_metrics[m].name, pool_metrics[m].type, pool_metrics[m].help, labels, v);
        }
    }
    metric(t, "lwip_heap_used_bytes", "gauge", "lwIP: heap bytes in use.", NULL, lwip_stats.mem.used);
    metric(t, "lwip_heap_errors_total", "counter", "lwIP: heap allocations refused.", NULL, lwip_stats.mem.err);
    const struct net_tcp_hook_stats *tcp = net_tcp_hook_stats();
    metric(t, "tcp_guard_drops_total", "counter",
           "TCP segments at rcv_nxt + 2^31 dropped before lwIP's tcp_receive.", NULL,
           tcp->guard_drops);
    metric(t, "tcp_timewait_reused_total", "counter",
           "TIME_WAIT connections ended for a new SYN on the same 4-tuple.", NULL,
           tcp->timewait_reused);
    unsigned time_wait = 0;
    for (const struct tcp_pcb *pcb = tcp_tw_pcbs; pcb; pcb = pcb->next)
        time_wait++;
    metric(t, "tcp_time_wait_connections", "gauge", "TCP connections in TIME_WAIT (their PCBs are reused first).",
           NULL, time_wait);
    metric(t, "tcp_timewait_reset_total", "counter",
           "TIME_WAIT connections ended by an RST at their rcv_nxt: a client answering the ACK to its SYN.", NULL,
           tcp->timewait_reset);
    metric(t, "tcp_syn_cookies_sent_total", "counter",
           "SYNs past a listener's half-open limit, or whose PCB would be an idle connection's, answered with a "
           "SYN cookie.", NULL, tcp->syn_cookies_sent);
    metric(t, "tcp_syn_cookies_accepted_total", "counter", "Connections made from the ACK of a good SYN cookie.",
           NULL, tcp->syn_cookies_accepted);
    metric(t, "tcp_syn_cookies_bad_total", "counter",
           "ACKs at a listener while cookies were out that acknowledged none (answered with a reset).", NULL,
           tcp->syn_cookies_bad);
    metric(t, "tcp_syn_fin_drops_total", "counter", "SYNs with a FIN at a listener, dropped as Linux drops them.", NULL,
           tcp->syn_fin_drops);
    metric(t, "tcp_loss_probes_total", "counter",
           "Tail loss probes: one segment sent when data in flight brought no news for two round trips.",
           NULL, tcp_loss_probes);
}

static const void *netif_stats_of(int i, const char **name)
{
    *name = virtio_net_name(nic_netif_nic(nic_netif_get(i)));
    return nic_netif_stats(nic_netif_get(i));
}

static const void *netif_tx_stats_of(int i, const char **name)
{
    *name = virtio_net_name(nic_netif_nic(nic_netif_get(i)));
    return nic_netif_tx_stats(nic_netif_get(i));
}

/* Drops our glue makes before lwIP sees a frame, and its transmit fallbacks. */
static void netif_metrics(struct text *t)
{
    static const struct counter_field fields[] = {
        { "netif_rx_input_errors_total", "Frames lwIP's input refused.", offsetof(struct nic_netif_stats, rx_input_errors) },
        { "netif_rx_drop_oversize_total", "Frames dropped: longer than the MTU.",
          offsetof(struct nic_netif_stats, rx_drop_oversize) },
        { "netif_rx_copied_total", "Frames copied off the receive buffers: the stack held over half of them.",
          offsetof(struct nic_netif_stats, rx_copied) },
        { "netif_rx_drop_no_memory_total", "Frames dropped: no memory to copy them.",
          offsetof(struct nic_netif_stats, rx_drop_no_memory) },
    };
    nic_counter_families(t, fields, sizeof(fields) / sizeof(fields[0]), nic_netif_count(), netif_stats_of);
    static const struct counter_field tx_fields[] = {
        { "netif_tx_linearized_total", "Frame chains copied into one buffer for the driver (too many pieces, split TCP headers).",
          offsetof(struct nic_tx_stats, linearized) },
        { "netif_tx_no_memory_total", "Frames not sent: no memory to linearize.", offsetof(struct nic_tx_stats, no_memory) },
        { "netif_tx_csum_offloaded_total", "Frames whose TCP checksum the device computes.",
          offsetof(struct nic_tx_stats, csum_offloaded) },
        { "netif_tx_csum_unparsed_total", "TCP frames dropped: their checksum could not be offloaded.",
          offsetof(struct nic_tx_stats, csum_unparsed) },
        { "netif_tx_gso_frames_total", "Large segments sent for the device to cut: lwIP's own, or runs of its segments joined.",
          offsetof(struct nic_tx_stats, gso_frames) },
        { "netif_tx_gso_segments_total", "Segments the device cut them into.", offsetof(struct nic_tx_stats, gso_segments) },
        { "netif_tx_backlogged_total", "Frames that waited in the backlog for room in the ring.",
          offsetof(struct nic_tx_stats, backlogged) },
        { "netif_tx_ring_full_total", "Frames not sent: ring and backlog full (ERR_MEM to lwIP).",
          offsetof(struct nic_tx_stats, backlog_full) },
        { "netif_tx_dropped_total", "Frames the driver refused for another reason.", offsetof(struct nic_tx_stats, dropped) },
    };
    nic_counter_families(t, tx_fields, sizeof(tx_fields) / sizeof(tx_fields[0]), nic_netif_count(), netif_tx_stats_of);
}

static void interrupt_metric(void *ctx, unsigned vector, uint64_t count, uint64_t unclaimed)
{
    (void)unclaimed;
    char labels[24];
    snprintf(labels, sizeof(labels), "vector=\"0x%x\"", vector);
    metric(ctx, "kernel_interrupts_total", "counter", "Interrupts delivered, by vector.", labels, count);
}

/* A family of its own: Prometheus wants each family's samples together. */
static void unclaimed_metric(void *ctx, unsigned vector, uint64_t count, uint64_t unclaimed)
{
    (void)count;
    char labels[24];
    snprintf(labels, sizeof(labels), "vector=\"0x%x\"", vector);
    metric(ctx, "kernel_interrupts_unclaimed_total", "counter",
           "Interrupts no handler claimed (a shared line's other device, a level interrupt delivered again).", labels,
           unclaimed);
}

static void kernel_metrics(struct text *t)
{
    uint64_t ns = clock_now_ns();
    /* Seconds, Prometheus's base unit of time (promtool's lint asks for it). */
    put(t, "# HELP kernel_uptime_seconds Time since the kernel's entry (EFI or PVH).\n"
           "# TYPE kernel_uptime_seconds gauge\nkernel_uptime_seconds %llu.%03llu\n",
        (unsigned long long)(ns / 1000000000), (unsigned long long)(ns / 1000000 % 1000));
    struct memory_stats m = memory_get_stats();
    metric(t, "kernel_memory_managed_bytes", "gauge", "Physical memory the page allocator manages.", NULL, m.managed_bytes);
    metric(t, "kernel_memory_free_bytes", "gauge", "Physical memory free.", NULL, m.free_bytes);
    const struct heap *h = kheap_stats();
    metric(t, "kernel_heap_allocations", "gauge", "Live kernel heap blocks.", NULL, h->allocations);
    metric(t, "kernel_heap_bytes", "gauge", "Bytes in live kernel heap blocks.", NULL, h->bytes_in_use);
    metric(t, "kernel_heap_failed_allocations_total", "counter", "Kernel heap allocations refused.", NULL, h->failed_allocations);
    if (sources.interrupt_counts) {
        sources.interrupt_counts(interrupt_metric, t);
        sources.interrupt_counts(unclaimed_metric, t);
    }
    metric(t, "kernel_timers_fired_total", "counter", "Kernel timers that fired.", NULL, timers_fired());
}

/* The site archive and the static-file answers (net/site.h, net/http_static.h). */
static void site_metrics(struct text *t)
{
    const struct site_stats *s = site_stats();
    metric(t, "site_served", "gauge", "1 if a site archive is being served.", NULL, s->served);
    metric(t, "site_archive_bytes", "gauge", "Bytes of the site archive in memory (0: none).", NULL,
           s->served ? s->archive_bytes : 0);
    metric(t, "site_files", "gauge", "Files of the site.", NULL, s->files);
    metric(t, "site_directories", "gauge", "Directories the site archive lists.", NULL, s->dirs);
    metric(t, "site_directory_links", "gauge", "Links to directories of the site, served through.", NULL,
           s->dir_links);
    metric(t, "site_file_bytes", "gauge", "Bytes of the site's files (inside the archive).", NULL, s->file_bytes);
    metric(t, "site_table_bytes", "gauge", "Heap bytes of the site's file table.", NULL, s->table_bytes);
    metric(t, "site_entries_skipped", "gauge", "Archive entries not served (other types, bad or repeated names).",
           NULL, s->skipped);
    metric(t, "site_archives_refused_total", "counter", "Site archives refused: malformed or too large.", NULL,
           s->refused);
    const struct http_static_stats *h = http_static_stats();
    static const struct {
        const char *code;
        size_t offset;
    } codes[] = {
        { "200", offsetof(struct http_static_stats, ok) },
        { "206", offsetof(struct http_static_stats, partial) },
        { "301", offsetof(struct http_static_stats, redirects) },
        { "304", offsetof(struct http_static_stats, not_modified) },
        { "412", offsetof(struct http_static_stats, precondition_failed) },
        { "416", offsetof(struct http_static_stats, range_not_satisfiable) },
    };
    for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char labels[16];
        snprintf(labels, sizeof(labels), "code=\"%s\"", codes[i].code);
        metric(t, "http_static_responses_total", "counter", "Answers from the site's files, by status.", labels,
               *(const uint64_t *)((const char *)h + codes[i].offset));
    }
    metric(t, "http_static_gzip_total", "counter", "Answers sent from a precompressed .gz variant.", NULL, h->gzip);
    metric(t, "http_bad_targets_total", "counter",
           "Targets refused before any lookup: bad percent-encoding, a NUL, a .. segment.", NULL, h->bad_targets);
}

static void service_metrics(struct text *t)
{
    const struct http_server_stats *h = http_server_stats();
    metric(t, "http_connections_total", "counter", "HTTP connections accepted.", NULL, h->connections);
    metric(t, "http_connections_active", "gauge", "HTTP connections open now.", NULL, h->active);
    metric(t, "http_requests_total", "counter", "HTTP requests answered.", NULL, h->requests);
    for (int c = 2; c <= 5; c++) {
        char labels[16];
        snprintf(labels, sizeof(labels), "class=\"%dxx\"", c);
        metric(t, "http_responses_total", "counter", "HTTP responses, by status class.", labels, h->responses_by_class[c]);
    }
    metric(t, "http_idle_timeouts_total", "counter",
           "HTTP connections closed for idleness, a request header not whole in 20 s (408), or a client that "
           "acknowledged nothing of a response for a minute.", NULL, h->timeouts);
    metric(t, "http_aborted_total", "counter", "HTTP connections aborted.", NULL, h->aborted);
    metric(t, "http_idle_reused_total", "counter", "Idle HTTP connections aborted for a new one, the TCP PCB pool empty.",
           NULL, h->reused);
    metric(t, "http_body_bytes_referenced_total", "counter",
           "Response body bytes handed to TCP by reference (static pages and the site: no copy).", NULL,
           h->body_bytes_referenced);
    metric(t, "http_body_bytes_copied_total", "counter", "Response body bytes handed to TCP as copies (/stats).",
           NULL, h->body_bytes_copied);
    metric(t, "http_input_bytes_discarded_total", "counter",
           "Request bytes read and dropped: bodies (not read by this server) and the rest of refused requests.", NULL,
           h->input_bytes_discarded);
    metric(t, "http_input_held_bytes", "gauge",
           "Received request bytes held past the connections' buffers (pipelined requests waiting).", NULL,
           h->held_input);
    metric(t, "http_input_held_max_bytes", "gauge", "The most that may be held so, all connections together.", NULL,
           h->held_input_max);
    metric(t, "http_input_deferred_total", "counter",
           "Segments left with lwIP, to be offered again, because the held input was at its most.", NULL,
           h->input_deferred);
    metric(t, "http_large_header_buffers_total", "counter",
           "Requests whose header outgrew the connection's 8 KiB and got a 32 KiB buffer while parsed.", NULL,
           h->large_buffers);
    site_metrics(t);
    const struct echo_server_stats *e = echo_server_stats();
    metric(t, "echo_tcp_connections_total", "counter", "TCP echo connections accepted.", NULL, e->tcp_connections);
    metric(t, "echo_tcp_refused_total", "counter", "TCP echo connections aborted for lack of memory.", NULL, e->tcp_refused);
    metric(t, "echo_tcp_reclaimed_total", "counter",
           "Idle TCP echo sessions closed to make room for a new connection (the PCB pool empty).", NULL,
           e->tcp_reclaimed);
    metric(t, "echo_tcp_timeouts_total", "counter",
           "TCP echo sessions given up: the peer acknowledged nothing for a minute with data waiting for it.", NULL,
           e->tcp_timeouts);
    metric(t, "echo_tcp_bytes_total", "counter", "TCP echo bytes echoed.", NULL, e->tcp_bytes);
    metric(t, "echo_tcp_coalesced_total", "counter", "TCP echo data copied off receive buffers (many small segments).",
           NULL, e->tcp_coalesced);
    metric(t, "echo_udp_datagrams_total", "counter", "UDP echo datagrams echoed.", NULL, e->udp_datagrams);
    metric(t, "echo_udp_errors_total", "counter", "UDP echo datagrams that could not be sent back.", NULL, e->udp_errors);
    metric(t, "echo_udp_refused_total", "counter",
           "UDP echo datagrams not answered: from port 7, 9, 13, 19 or 37, or to a broadcast or multicast address.",
           NULL, e->udp_refused);
}

char *stats_page_render(size_t *len)
{
    for (size_t capacity = PAGE_CAPACITY_FIRST; capacity <= PAGE_CAPACITY_MAX; capacity *= 2) {
        struct text t = { .buf = kmalloc(capacity), .capacity = capacity };
        if (!t.buf)
            return NULL;
        kernel_metrics(&t);
        nic_metrics(&t);
        netif_metrics(&t);
        lwip_metrics(&t);
        service_metrics(&t);
        if (!t.full) {
            *len = t.len;
            return t.buf;
        }
        kfree(t.buf);
    }
    return NULL; /* never cut short: a 500 instead */
}
