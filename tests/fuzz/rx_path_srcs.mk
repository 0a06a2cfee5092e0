# The sources of the whole receive path as the host runs it: the driver,
# the netif glue, net_init, the services and lwIP (the same sources as the
# kernel's LWIP_SRCS), everything between a virtio-net device and the
# services. Included by tests/fuzz/Makefile (the rx_path harness) and
# tests/stack/Makefile, each with its own stand-in for the rest of the
# kernel. Paths are relative to the repository root.
LWIP_DIR := third_party/lwip
VQ_SRCS := drivers/virtio/virtqueue.c drivers/virtio/vq_split.c drivers/virtio/vq_packed.c
SITE_SRCS := lib/cpio.c lib/archive_kind.c net/site.c net/http_static.c net/http_date.c lib/civil_time.c net/media_types.c
LWIP_SRCS := $(addprefix $(LWIP_DIR)/src/core/, init.c def.c inet_chksum.c ip.c mem.c memp.c netif.c pbuf.c \
	stats.c sys.c tcp.c tcp_in.c tcp_out.c timeouts.c udp.c \
	ipv4/dhcp.c ipv4/etharp.c ipv4/icmp.c ipv4/ip4.c ipv4/ip4_addr.c ipv4/ip4_frag.c \
	ipv6/ethip6.c ipv6/icmp6.c ipv6/inet6.c ipv6/ip6.c ipv6/ip6_addr.c ipv6/ip6_frag.c ipv6/mld6.c ipv6/nd6.c) \
	$(LWIP_DIR)/src/netif/ethernet.c
RX_PATH_SRCS := $(addprefix drivers/virtio/, virtio_net.c virtio_net_datapath.c virtio_net_tx.c virtio_net_faults.c \
	virtio_net_stats.c virtio_net_mtu.c virtio_net_ctrl.c net_buffers.c net_offload.c) $(VQ_SRCS) \
	net/nic_netif.c net/nic_tx.c net/tcp_large_send.c net/tcp_frame.c net/tcp_gso.c net/announce.c net/net.c net/http_server.c \
	net/http_parser.c net/echo_server.c net/stats_page.c net/tcp_service.c \
	net/fault_port.c net/tcp_csum_offload.c net/tcp_seq_guard.c net/lwip_hooks.c net/lwip_pools.c lib/inet_csum.c lib/timer_list.c lib/printf.c \
	net/tcp_timewait_reuse.c net/tcp_options.c net/dhcp_options.c net/tcp_reinject.c net/tcp_listen_cookies.c net/syn_cookie.c net/tcp_isn.c net/ip_id.c net/tcp_flow.c lib/siphash.c \
	$(SITE_SRCS) \
	lib/napi.c
