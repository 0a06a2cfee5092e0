/*
 * lwIP 2.1.3 configuration for the unikernel: NO_SYS (no threads, one main
 * loop, lwIP never called from an interrupt handler), IPv4 and IPv6, TCP and
 * UDP, DHCP. Every value that differs from lwIP's default says why.
 */
#ifndef NET_LWIPOPTS_H
#define NET_LWIPOPTS_H

/* ---- system ---- */
#define NO_SYS 1                    /* raw API from the main loop only */
#define SYS_LIGHTWEIGHT_PROT 0      /* nothing runs concurrently with lwIP */
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_TIMERS 1               /* sys_check_timeouts() from the main loop */
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1  /* the driver reports link changes */

/* ---- memory ----
 * The PBUF_RAM heap is the kernel heap (MEM_LIBC_MALLOC), and so is the
 * memory of lwIP's pools (net/lwip_pools.h), so no static array sits in the
 * image. Pools stay lwIP's own: their counts are what makes "more
 * connections than PCBs" refuse cleanly instead of eating memory. */
#define MEM_LIBC_MALLOC 1
#define MEM_ALIGNMENT 8
#define MEMP_NUM_PBUF 1024          /* PBUF_REF/ROM: zero-copy receive buffers and app data (echo's, by reference) */
/* Concurrent connections, the most: net/lwip_pools.c makes one PCB per
 * 24 KiB of free memory, from 64 up to this (nginx's Debian default is 768
 * per worker). A client beyond them waits (its SYNs dropped) unless an idle
 * HTTP connection makes room. 64 for all left `wrk -c200` with 136
 * connections that never opened. */
#define MEMP_NUM_TCP_PCB 1024
#define MEMP_NUM_TCP_PCB_LISTEN 8
#define MEMP_NUM_TCP_SEG 1024       /* TCP_SND_QUEUELEN (718) for a busy connection, and room for more */
#define MEMP_NUM_UDP_PCB 8
#define MEMP_NUM_REASSDATA 8        /* IP packets being reassembled at once */
/* Fragments held for reassembly, all packets together (IPv4 and IPv6 each):
 * the largest datagram from a peer at MTU 576 is 119 (IPv4). At 64 such a
 * peer could not send more than about 35,000 bytes. They sit in the
 * driver's receive buffers, or in heap copies once the stack holds half of
 * those (net/nic_netif.c). */
#define IP_REASS_MAX_PBUFS 128
/* The largest datagram, 64 KiB, leaves as 45 fragments at MTU 1500 and
 * 119 at 576 (the least DHCP's interface MTU may give), each holding one
 * of these until the driver reaps its frame: when its transmit slots (256,
 * QEMU's ring) run out, or in a poll. With one a slot and two more, they do
 * not run out before the slots. At 48, UDP echoes of 30,000 bytes went
 * unanswered at MTU 576, and of 65,507 at 1280 (lwip_pool_errors
 * FRAG_PBUF). About 40 bytes each. */
#define MEMP_NUM_FRAG_PBUF 258
/* Packets to a neighbour not yet resolved wait for its ARP reply or NA: a
 * whole fragmented datagram of them. lwIP's ARP_QUEUEING 0 keeps only the
 * last packet, so a reply to a peer not in the ARP cache lost all but its
 * last fragment (QEMU's slirp then crashes on the lone last fragment). The
 * copies queued come from the heap and are refused when it is short. */
#define ARP_QUEUEING 1
#define ARP_QUEUE_LEN 128           /* per neighbour: the largest datagram at MTU 576 is 119 fragments */
#define MEMP_NUM_ARP_QUEUE 160      /* all neighbours together */
#define MEMP_NUM_ND6_QUEUE 160      /* IPv6 (125 fragments): all neighbours together (lwIP's default 20) */
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 4)
/* Received frames are the driver's buffers, not pool pbufs, and nothing here
 * asks for PBUF_POOL: a token pool. Its 64 of old were 96 KiB of .bss, and
 * OVMF must find room for the whole image, .bss too: at -m 40 it could not
 * ("BdsDxe: failed to load ... Not Found"), and the empty EFI app loaded. */
#define PBUF_POOL_SIZE 4
/* Sized for a 1500-byte frame, not from TCP_MSS (8960 for MTU 9000): pool
 * pbufs carry no received frames here, and at 8960 the pool alone took
 * 580 KiB of .bss, 7 % of an 8 MiB microvm. */
#define PBUF_POOL_BUFSIZE 1536
#define LWIP_SUPPORT_CUSTOM_PBUF 1  /* zero-copy receive: pbufs over the driver's buffers */

/* ---- protocols ---- */
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_IPV6_AUTOCONFIG 1      /* SLAAC */
#define LWIP_IPV6_DHCP6 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 1
#define DHCP_DOES_ARP_CHECK 0       /* the 1 s ARP probe of the offered address is a LAN-era
                                       safeguard; a VM is handed its address by its host */
#define LWIP_AUTOIP 0
#define LWIP_DNS 0
#define LWIP_IGMP 0
/* Linux's hop limits (net.ipv4.ip_default_ttl, net.ipv6.conf.*.hop_limit),
 * RFC 1700's 64, not lwIP's 255, which marks every packet as this stack's.
 * Neighbour discovery keeps its required 255 (ND6_HOPLIM). */
#define IP_DEFAULT_TTL 64
#define LWIP_ICMP6_HL 64
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IPV6_FRAG_COPYHEADER 1      /* required with 64-bit pointers (ip6_frag.c asserts it) */

/* ---- TCP ---- */
/* The largest MSS the guest ever advertises: a 9000-byte MTU (VIRTIO_NET_F_MTU,
 * drivers/virtio/virtio_net_mtu.h) - 40. Each connection's is clamped to its
 * netif's MTU (TCP_CALCULATE_EFF_SEND_MSS, on by default): 1460 at 1500. */
#define TCP_MSS 8960
#define TCP_MSS_ETHERNET 1460       /* the usual one, which the queues below are sized for */
/* Window scaling (RFC 7323 section 2): windows past 64 KiB both ways, for
 * bulk transfers and large received segments (an offloaded 64 KiB segment
 * needs a window larger than itself). Measured on TCP echo and HTTP under
 * TCG: no change either way beyond the noise of a shared machine
 * (docs/network.md); kept for what the larger window allows. */
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 3             /* windows of up to 512 KiB, announced in 8-byte units */
#define TCP_WND (256 * 1024)
#define TCP_SND_BUF (256 * 1024)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS_ETHERNET)
/* The first flight (RFC 6928): min(10 MSS, max(2 MSS, 14600)), 14,600 bytes
 * at MSS 1460, as Linux (since 2.6.39), FreeBSD and Windows send, where
 * lwIP's default is RFC 5681's 4,380. A response up to 14 KiB then reaches
 * the client in one round trip, not three; only the first flight changes,
 * and loss still sets cwnd by the rules of docs/network.md. */
#define LWIP_TCP_CALC_INITIAL_CWND(mss) \
    ((tcpwnd_size_t)LWIP_MIN(10U * (mss), LWIP_MAX(2U * (mss), 14600U)))
/* lwIP's default (half the send buffer) breaks its own rule that this stays
 * 4 MSS below 64 KiB, where the sent callback's 16-bit count would overflow. */
#define TCP_SNDLOWAT (0xFFFF - 4 * TCP_MSS - 1)
/* lwIP's RTO is counted in slow-timer ticks (2 x this) and settles at three
 * of them on a LAN: 1.5 s at lwIP's 250 ms, 240 ms here (Linux: 200 ms plus
 * the round trip); delayed ACKs wait one tick of 40 ms (Linux's minimum).
 * docs/network.md, "Loss recovery". */
#define TCP_TMR_INTERVAL 40
/* Timestamps (LWIP_TCP_TIMESTAMPS) stay off: lwIP uses them for neither PAWS
 * nor round-trip times, so they would only add 12 bytes to every segment;
 * measured, they changed nothing. The TIME_WAIT reuse check uses them when on. */
#define TCP_QUEUE_OOSEQ 1
/* Out-of-order segments are held in receive buffers: a peer sending tiny
 * segments out of order could pin hundreds per connection. 8 per pcb. */
#define TCP_OOSEQ_MAX_PBUFS 8
/* Selective acknowledgements of what is held out of order (RFC 2018): with
 * them a sender that lost several segments of one window resends just those,
 * in one round trip (Linux's RFC 6675 recovery), instead of one a round trip
 * or all after the lost one. Offered in the SYN-ACK only to a client that
 * asked. The client's SACKs tell its duplicate ACKs
 * (scripts/lwip-tcp-sack-dupacks.patch). docs/network.md. */
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
#define LWIP_TCP_KEEPALIVE 1        /* per-pcb keepalive times: net/tcp_keepalive.h */
/* TIME_WAIT is 2 x TCP_MSL = 60 s, as in Linux and FreeBSD (lwIP's default
 * is 120 s); a new SYN beyond the old sequence space reopens the 4-tuple at
 * once (net/tcp_timewait_reuse.h), and when the PCB pool runs out lwIP reuses
 * the oldest TIME_WAIT PCB (tcp_kill_timewait), so thousands of short
 * connections in a row never exhaust the pool. docs/network.md says why. */
#define TCP_MSL 30000UL
/* Keeps each listener's half-open count (accepts_pending), which decides
 * when SYN cookies take over (net/tcp_listen_cookies.h). */
#define TCP_LISTEN_BACKLOG 1

/* The TCP input hook (net/lwip_hooks.h): SYN cookies at listeners, TIME_WAIT
 * reuse, and segments tcp_receive would assert on (net/tcp_seq_guard.h). */
#define LWIP_HOOK_FILENAME "net/lwip_hooks.h"
#define LWIP_HOOK_TCP_INPACKET_PCB net_tcp_inpacket_hook
/* RFC 6528 initial sequence numbers (net/tcp_isn.h), not lwIP's counter. */
#define LWIP_HOOK_TCP_ISN net_tcp_isn
/* Each pool's memory and count, at lwip_init (net/lwip_pools.h; the hook
 * comes from scripts/lwip-pool-memory.patch). */
#define LWIP_HOOK_MEMP_POOL_MEMORY(desc, base, num) net_memp_pool_memory(desc, base, num)
/* Large segments for devices that cut them (net/tcp_large_send.h; the hooks
 * come from scripts/lwip-large-segments.patch). */
#define LWIP_HOOK_TCP_SEGMENT_MAX(pcb) tcp_large_send_segment_max(pcb)
#define LWIP_HOOK_IP_CUT_BY_NETIF(p, netif) tcp_large_send_cut_by_netif(p, netif)
/* IPv4 identifications per destination, as many as packets the device makes,
 * and IPv6 fragments' per destination (net/ip_id.h; the hooks come from
 * scripts/lwip-ip4-id-hook.patch and scripts/lwip-ipv6-frag-id-hook.patch). */
#define LWIP_HOOK_IP4_ID(p, netif) net_ip4_id(p, netif)
#define LWIP_HOOK_IP6_FRAG_ID(p) net_ip6_frag_id(p)
/* DHCP's interface MTU, asked for and applied (net/dhcp_options.h). */
#define LWIP_HOOK_DHCP_APPEND_OPTIONS(netif, dhcp, state, msg, msg_type, options_len_ptr) \
    net_dhcp_append_options(msg, options_len_ptr)
#define LWIP_HOOK_DHCP_PARSE_OPTION(netif, dhcp, state, msg, msg_type, option, len, pbuf, offset) \
    do { \
        LWIP_UNUSED_ARG(msg); \
        net_dhcp_parse_option(netif, state, msg_type, option, len, pbuf, offset); \
    } while (0)

/* lwIP's TCP sanity checks (init.c) include one that does not apply here:
 * TCP_WND against PBUF_POOL, whereas received frames are the driver's
 * buffers (PBUF_POOL is unused). They are off; the others are kept here. */
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1
#if MEMP_NUM_TCP_SEG < TCP_SND_QUEUELEN || TCP_SND_BUF < 2 * TCP_MSS || \
    TCP_SND_QUEUELEN < 2 * (TCP_SND_BUF / TCP_MSS) || TCP_SNDLOWAT >= TCP_SND_BUF || \
    TCP_SNDLOWAT >= 0xFFFF - 4 * TCP_MSS || TCP_WND < TCP_MSS || TCP_WND > (0xFFFF << TCP_RCV_SCALE)
#error "lwipopts.h: the TCP sizes break one of lwIP's sanity checks (init.c)"
#endif

/* ---- checksums ----
 * Generated and checked in software by default; per-netif control lets the
 * driver glue turn off generation of TCP checksums when the device offloads
 * them (VIRTIO_NET_F_CSUM) and skip checking frames the device marked valid. */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1
#define LWIP_CHECKSUM_ON_COPY 0

/* ---- statistics (for /stats and the debug log) ---- */
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define LWIP_STATS_LARGE 1          /* 32-bit counters: /stats counters must not wrap at 65535 (a SYN flood did) */
#define LINK_STATS 1
#define ETHARP_STATS 1
#define IP_STATS 1
#define IPFRAG_STATS 1
#define ICMP_STATS 1
#define UDP_STATS 1
#define TCP_STATS 1
#define MEM_STATS 1
#define MEMP_STATS 1
#define IP6_STATS 1
#define ICMP6_STATS 1
#define ND6_STATS 1
#define IP6_FRAG_STATS 1

/* ---- netif ---- */
#define LWIP_SINGLE_NETIF 0         /* one netif per NIC */
#define LWIP_NETIF_HOSTNAME 1

#endif
