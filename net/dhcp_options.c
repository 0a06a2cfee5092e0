#include "net/dhcp_options.h"

#include "lib/string.h"

bool dhcp_request_list_add(uint8_t *options, uint16_t *len, uint16_t cap, uint8_t code)
{
    uint32_t i = 0;
    while (i < *len && options[i] != DHCP_OPT_END) {
        if (options[i] == DHCP_OPT_PAD) {
            i++;
            continue;
        }
        if (i + 2 > *len || i + 2 + options[i + 1] > *len)
            return false; /* an option running past what was written */
        uint32_t n = options[i + 1], values = i + 2;
        if (options[i] != DHCP_OPT_REQUEST_LIST) {
            i = values + n;
            continue;
        }
        for (uint32_t k = 0; k < n; k++)
            if (options[values + k] == code)
                return true;
        if (n == 255 || (uint32_t)*len + 1 > cap)
            return false;
        memmove(options + values + n + 1, options + values + n, *len - (values + n));
        options[values + n] = code;
        options[i + 1]++;
        (*len)++;
        return true;
    }
    return false;
}

uint16_t dhcp_mtu_choose(const uint8_t *value, uint8_t len, uint16_t device_mtu)
{
    if (len != 2)
        return 0;
    uint16_t mtu = (uint16_t)((value[0] << 8) | value[1]);
    if (mtu < DHCP_MTU_MIN)
        return 0;
    return mtu < device_mtu ? mtu : device_mtu;
}
