#include "net/tcp_flow.h"

#include "arch/x86_64/timer.h"
#include "lib/string.h"
#include "lwip/ip_addr.h"
#include "lwip/opt.h"

void tcp_flow_of(struct tcp_flow *f, const ip_addr_t *local, uint16_t local_port, const ip_addr_t *remote,
                 uint16_t remote_port)
{
    *f = (struct tcp_flow){ .remote_port = remote_port, .local_port = local_port };
#if LWIP_IPV6
    if (IP_IS_V6(remote)) {
        f->ipv6 = true;
        memcpy(f->remote, ip_2_ip6(remote)->addr, 16);
        memcpy(f->local, ip_2_ip6(local)->addr, 16);
        return;
    }
#endif
    memcpy(f->remote, &ip_2_ip4(remote)->addr, 4);
    memcpy(f->local, &ip_2_ip4(local)->addr, 4);
}

void tcp_flow_key_make(uint8_t key[SIPHASH_KEY_BYTES])
{
    for (unsigned i = 0; i < SIPHASH_KEY_BYTES; i += 4) {
        uint32_t r = LWIP_RAND() ^ (uint32_t)clock_now_ns();
        memcpy(key + i, &r, 4);
    }
}
