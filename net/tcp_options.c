#include "net/tcp_options.h"

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void tcp_options_parse(const uint8_t *opt, size_t len, struct tcp_syn_options *out)
{
    *out = (struct tcp_syn_options){ 0 };
    size_t i = 0;
    while (i < len) {
        uint8_t kind = opt[i];
        if (kind == TCP_OPT_EOL)
            return;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len || opt[i + 1] < 2 || opt[i + 1] > len - i)
            return; /* no length byte, or one that cannot be right */
        uint8_t olen = opt[i + 1];
        if (kind == TCP_OPT_MSS && olen == TCP_OPT_MSS_LEN) {
            out->has_mss = true;
            out->mss = (uint16_t)(opt[i + 2] << 8 | opt[i + 3]);
        } else if (kind == TCP_OPT_TS && olen == TCP_OPT_TS_LEN) {
            out->has_ts = true;
            out->tsval = load_be32(opt + i + 2);
        }
        i += olen;
    }
}
