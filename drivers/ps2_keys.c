#include "drivers/ps2_keys.h"

#define PREFIX_EXTENDED 0xE0
#define SET1_RELEASE 0x80 /* set 1: a release is the press's code with bit 7 set */
#define SET2_RELEASE 0xF0 /* set 2: a release is F0 and the press's code */

enum { CTRL_LEFT = 1, CTRL_RIGHT = 2, ALT_LEFT = 4, ALT_RIGHT = 8 };

/* Press codes (IBM PS/2 keyboard technical reference; extended: after E0). */
struct key_codes {
    uint8_t ctrl, alt, del; /* Delete is E0 del; the keypad's Del the same code unextended */
};
static const struct key_codes SET1 = { 0x1D, 0x38, 0x53 };
static const struct key_codes SET2 = { 0x14, 0x11, 0x71 };

bool ps2_keys_feed(struct ps2_keys *k, uint8_t byte)
{
    if (byte == PREFIX_EXTENDED) {
        k->extended = true;
        return false;
    }
    if (k->set2 && byte == SET2_RELEASE) {
        k->release = true;
        return false;
    }
    const struct key_codes *c = k->set2 ? &SET2 : &SET1;
    bool release = k->set2 ? k->release : (byte & SET1_RELEASE) != 0;
    uint8_t code = k->set2 ? byte : (uint8_t)(byte & ~SET1_RELEASE);
    uint8_t bit = code == c->ctrl ? (k->extended ? CTRL_RIGHT : CTRL_LEFT)
                  : code == c->alt ? (k->extended ? ALT_RIGHT : ALT_LEFT)
                                   : 0;
    k->extended = k->release = false;
    if (bit) {
        k->held = release ? (uint8_t)(k->held & ~bit) : (uint8_t)(k->held | bit);
        return false;
    }
    return !release && code == c->del && (k->held & (CTRL_LEFT | CTRL_RIGHT)) && (k->held & (ALT_LEFT | ALT_RIGHT));
}
