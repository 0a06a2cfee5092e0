/*
 * DHCP's interface MTU (RFC 2132, 5.1: option 26), which lwIP 2.1.3 neither
 * asks for nor applies. Clouds whose overlay networks carry less than 1500
 * bytes (OpenStack's VXLAN networks: 1450) tell their guests this way; a
 * guest that sends 1500-byte frames there loses every full-sized packet.
 * Pure logic over the options' bytes, for the DHCP hooks (net/lwip_hooks.h)
 * and the host tests.
 */
#ifndef NET_DHCP_OPTIONS_H
#define NET_DHCP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define DHCP_OPT_PAD 0
#define DHCP_OPT_END 255
#define DHCP_OPT_MTU 26
#define DHCP_OPT_REQUEST_LIST 55
/* RFC 2132 allows 68; below 576, the datagram every IPv4 host must take
 * (RFC 791), an offer is taken for a mistake, as dhcpcd does. */
#define DHCP_MTU_MIN 576

/* Adds `code` to the parameter request list (option 55) among the `*len`
 * option bytes lwIP wrote, moving the options after it one byte on. False,
 * with nothing changed, when there is no such list, the options are
 * malformed, or one more byte would pass `cap`; true when `code` is listed. */
bool dhcp_request_list_add(uint8_t *options, uint16_t *len, uint16_t cap, uint8_t code);

/* The MTU an option 26 of `len` bytes at `value` gives a device whose own
 * MTU is `device_mtu`: the value, at most the device's; 0 to ignore it (not
 * 2 bytes, or below DHCP_MTU_MIN). */
uint16_t dhcp_mtu_choose(const uint8_t *value, uint8_t len, uint16_t device_mtu);

#endif
