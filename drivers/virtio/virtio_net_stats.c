/* The driver's counters: accessors for /stats, and a periodic line with log=debug. */
#include "drivers/virtio/virtio_net_priv.h"

#include "lib/log.h"

#define STATS_PERIOD_NS 5000000000ULL

const struct virtio_net_stats *virtio_net_stats(const struct virtio_net *nic) { return &nic->stats; }
uint16_t virtio_net_rx_buffer_count(const struct virtio_net *nic) { return nic->rx_pool.count; }
uint16_t virtio_net_rx_buffers_held(const struct virtio_net *nic) { return nic->rx_pool.held; }

static void log_stats(struct timer *t, void *arg)
{
    struct virtio_net *nic = arg;
    const struct virtio_net_stats *s = &nic->stats;
    log_debug("virtio-net: %s: rx %llu pkts %llu B %llu irqs, tx %llu pkts %llu B %llu irqs, polls %llu "
              "(budget out %llu), drops hdr %llu incomplete %llu, refill empty %llu, tx ring full %llu (forced kicks %llu)",
              nic->vdev.name, (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes,
              (unsigned long long)s->rx_interrupts, (unsigned long long)s->tx_packets,
              (unsigned long long)s->tx_bytes, (unsigned long long)s->tx_interrupts, (unsigned long long)s->polls,
              (unsigned long long)s->budget_exhausted, (unsigned long long)s->rx_drop_bad_header,
              (unsigned long long)s->rx_drop_incomplete, (unsigned long long)s->rx_refill_empty,
              (unsigned long long)s->tx_ring_full, (unsigned long long)s->tx_forced_kicks);
    timer_after(t, STATS_PERIOD_NS, log_stats, nic);
}

void vn_stats_start(struct virtio_net *nic)
{
    timer_after(&nic->stats_timer, STATS_PERIOD_NS, log_stats, nic);
}
