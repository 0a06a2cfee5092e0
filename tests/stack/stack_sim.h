/*
 * The far side of the whole stack (driver, netif glue, services, lwIP) for
 * the host tests: a virtio-net device that does what QEMU's does with what
 * it is given (segments a large TCP segment, completes offloaded checksums,
 * fills receive buffers) and checks every frame it puts on the wire, and a
 * TCP peer at 10.0.2.2 that answers ARP and talks to the guest's echo
 * service, optionally losing frames either way. PEER_TRACE=1 in the
 * environment prints one line per TCP frame each way.
 */
#ifndef TESTS_STACK_STACK_SIM_H
#define TESTS_STACK_STACK_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/netif.h"

/* Once: the device probed with every offload QEMU offers on a tap backend,
 * the netif up at 10.0.2.15/24, duplicate address detection done, lwIP's
 * pools sized for SIM_MEMORY_FREE bytes of free memory. */
#define SIM_MEMORY_FREE (8u << 20)
void sim_setup(void);
struct netif *sim_netif(void);
struct virtio_net *sim_nic(void);

/* A frame as it went on the wire, after the device segmented it and filled
 * in the checksums it was asked to. */
struct wire_frame {
    uint8_t *data;
    uint32_t len;
    bool from_gso;   /* one of the segments of a large one */
    bool offloaded;  /* its TCP checksum came from the device */
};

/* Frames on the wire since the last sim_wire_clear (the peer sees them as they come). */
unsigned sim_wire_count(void);
const struct wire_frame *sim_wire(unsigned i);
void sim_wire_clear(void);
/* Problems the device found in what the guest gave it (0: none), and the first. */
unsigned sim_device_errors(void);
const char *sim_device_error(void);
/* Chains the device took, and how many of them were large segments. */
unsigned long sim_tx_chains(void);
unsigned long sim_tx_gso_chains(void);

/* While paused the device takes nothing from the transmit ring (a backend
 * that stopped); resuming sends what waits there, as a device may at any time. */
void sim_pause_transmit(bool paused);

/* The peer sends a UDP datagram from `sport` to the guest's echo port (at
 * the subnet's broadcast address if `broadcast`); and
 * answers the guest's ARP requests for its address among the frames on the
 * wire (from `from` on). */
void sim_send_udp_to_echo(uint16_t sport, bool broadcast, const void *payload, uint16_t len);
/* A TCP frame from the peer's address, flags and numbers as given, and
 * `opts_len` bytes of options. */
void sim_tcp_send(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t wnd,
                  const void *payload, uint32_t len, const uint8_t *opts, unsigned opts_len);
void sim_answer_arp(unsigned from);

#define SIM_MAX_DROPS 4
#define SIM_OUTAGE_SENDS 8
#define SIM_FLIGHTS 8

struct peer_config {
    uint16_t port;           /* the peer's own port */
    const uint8_t *data;     /* what it sends to echo port 7 */
    uint32_t len;
    bool gso;                /* it sends large segments (GUEST_TSO4) */
    unsigned loss_to_peer;   /* per mille of the guest's frames lost on the way */
    unsigned loss_to_guest;  /* per mille of the peer's frames lost on the way */
    uint16_t mss;            /* the MSS it announces and checks the guest's segments against (0: 1460) */
    uint32_t seed;
    /* Lost on the way to the peer as well: the first frame from the guest
     * that carries each of these offsets of the echoed stream (an offset
     * named twice: its first two frames). */
    uint32_t drop_offsets[SIM_MAX_DROPS];
    unsigned drop_count;
    uint16_t data_mss_option;  /* an MSS option of this value on its data segments too (0: none) */
    /* The link goes down for outage_ms (every frame either way lost) from
     * the first frame from the guest that carries this offset of the echoed
     * stream on, so the guest has data in flight throughout (0 ms: none). */
    uint32_t outage_at;
    uint32_t outage_ms;
    bool outage_to_guest_only;  /* only the peer's frames are lost in it (its ACKs) */
    /* Its SYN offers SACK (RFC 2018); if the guest agrees, it keeps what
     * arrives after a hole (one block) and names it in its ACKs. */
    bool sack;
    /* Each of its ACKs announces a window a little larger than the last, as
     * a Linux receiver's grows early in a connection. */
    bool window_grows;
    /* It acknowledges once per batch of the guest's frames (those put on
     * the wire together), not each data frame: the stretch ACKs a Linux
     * receiver sends when the host's tap hands it a large segment whole. */
    bool ack_per_batch;
    /* Its FIN waits until the whole echo is back (an ACK carrying a FIN is
     * no duplicate, and lwIP starts counting duplicates again after one). */
    bool fin_after_echo;
};

struct peer_result {
    bool ok;
    char why[200];
    uint32_t echoed;            /* bytes that came back in order */
    unsigned guest_frames;      /* TCP frames from the guest on the wire */
    uint32_t largest_segment;   /* the most data one of them carried */
    unsigned lost_to_peer, lost_to_guest;
    uint64_t fake_ms;           /* fake time it took */
    /* Data the guest sent again, and how much of that its retransmission
     * timer sent (time had passed since the peer's last frame) rather than
     * an ACK; and for each of cfg->drop_offsets, the fake time from the
     * dropped frame to the next one carrying that offset. */
    unsigned retransmits, timer_retransmits;
    bool resent[SIM_MAX_DROPS];
    uint64_t resent_after_ms[SIM_MAX_DROPS];
    /* Echoed bytes in the guest's first frames that carried any, sent
     * before it could hear of them: its initial window, when it has more. */
    uint32_t first_flight;
    /* Bytes past all it had sent when cfg->drop_offsets[0] was dropped that
     * the guest sent before it resent that offset. */
    uint32_t new_before_resend;
    /* ACKs with a SACK block the peer sent between that drop and the resend. */
    unsigned sacks_before_resend;
    /* The fake time from the outage's start to the guest's first data frame after it. */
    uint64_t resumed_after_outage_ms;
    /* The fake times, from the outage's start, of the guest's first frames
     * that carried cfg->outage_at (its first send, then its resends). */
    uint64_t outage_at_sent_ms[SIM_OUTAGE_SENDS];
    unsigned outage_at_sends;
    /* New bytes (past all it had sent before) in each of the guest's first
     * batches of frames that carried any: how its window grew, a round trip
     * a batch when the peer acknowledges each batch at once. */
    uint32_t flights[SIM_FLIGHTS];
    unsigned flight_count;
    /* Data bytes, new or sent again, in each of the guest's first batches
     * of frames once the outage is over: how its window grew back after
     * the retransmission timeouts. */
    uint32_t after_outage[SIM_FLIGHTS];
    unsigned after_outage_count;
    /* Times the guest, done running, held new data the window had room for
     * (one MSS or more) with no loss to recover. */
    unsigned window_left_unused;
};

/* Connects, sends cfg->data, reads the echo back, closes; the echo must be
 * byte-exact and every guest segment at most the MSS on the wire (or
 * TCP_MIN_SND_MSS, when the peer announced less). */
struct peer_result peer_echo(const struct peer_config *cfg, uint8_t *echo);

#endif
