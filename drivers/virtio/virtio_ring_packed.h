/*
 * The packed virtqueue's memory layout (virtio 1.2, 2.8) and its
 * notification arithmetic. Shared by the driver's virtqueue and the tests'
 * simulated device; pure logic.
 *
 * One ring of descriptors that both sides write: the driver marks a
 * descriptor available by setting its AVAIL flag to the driver's wrap
 * counter and USED to the inverse; the device marks it used by setting both
 * to its own wrap counter. Each counter starts at 1 and flips whenever its
 * side passes the end of the ring (2.8.1).
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_RING_PACKED_H
#define DRIVERS_VIRTIO_VIRTIO_RING_PACKED_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtio_ring.h"

/* Descriptor flags (2.8.1; NEXT, WRITE and INDIRECT as in the split ring). */
#define VRING_PACKED_DESC_F_AVAIL (1u << 7)
#define VRING_PACKED_DESC_F_USED (1u << 15)

/* Event suppression flags (2.8.10); DESC only with VIRTIO_F_RING_EVENT_IDX. */
#define VRING_PACKED_EVENT_FLAG_ENABLE 0x0
#define VRING_PACKED_EVENT_FLAG_DISABLE 0x1
#define VRING_PACKED_EVENT_FLAG_DESC 0x2
#define VRING_PACKED_EVENT_FLAGS_MASK 0x3 /* the rest is reserved (2.8.14) */

/* off_wrap: the event's descriptor offset in bits 0-14, its wrap counter in bit 15 (2.8.14). */
#define VRING_PACKED_EVENT_WRAP_SHIFT 15
#define VRING_PACKED_EVENT_OFF_MASK 0x7FFF

/* Alignment of each part (2.8.10.1); at most 2^15 entries (2.8). */
#define VRING_PACKED_DESC_ALIGN 16
#define VRING_PACKED_EVENT_ALIGN 4
#define VRING_PACKED_MAX_SIZE 32768

/* The initial value of both wrap counters (2.8.1). */
#define VRING_PACKED_WRAP_INITIAL true

struct vring_packed_desc {
    uint64_t addr;
    uint32_t len;   /* used: bytes written, meaningful only with WRITE set (2.8.4) */
    uint16_t id;    /* buffer id */
    uint16_t flags;
};

struct vring_packed_event {
    uint16_t off_wrap;
    uint16_t flags;
};

struct vring_packed {
    uint16_t num;
    struct vring_packed_desc *desc;
    struct vring_packed_event *driver; /* Driver Area: written by the driver, read by the device */
    struct vring_packed_event *device; /* Device Area: written by the device, read by the driver */
};

/* Bytes for a ring of `num` descriptors: the descriptor ring, then the
 * driver's and the device's event suppression structures (16 * num keeps
 * them 4-aligned). */
static inline uint64_t vring_packed_size(uint16_t num)
{
    return 16ULL * num + 2 * sizeof(struct vring_packed_event);
}

static inline void vring_packed_init(struct vring_packed *vr, uint16_t num, void *mem)
{
    vr->num = num;
    vr->desc = mem;
    vr->driver = (struct vring_packed_event *)((char *)mem + 16ULL * num);
    vr->device = vr->driver + 1;
}

/* The AVAIL and USED bits a side writes into a descriptor in the lap whose
 * wrap counter is `wrap`: available (driver) or used (device). */
static inline uint16_t vring_packed_avail_flags(bool wrap)
{
    return wrap ? VRING_PACKED_DESC_F_AVAIL : VRING_PACKED_DESC_F_USED;
}

static inline uint16_t vring_packed_used_flags(bool wrap)
{
    return wrap ? VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED : 0;
}

/* True if `flags` mark a descriptor used in the lap whose wrap counter is `wrap`. */
static inline bool vring_packed_is_used(uint16_t flags, bool wrap)
{
    bool avail = flags & VRING_PACKED_DESC_F_AVAIL, used = flags & VRING_PACKED_DESC_F_USED;
    return avail == used && used == wrap;
}

/* True if `flags` mark a descriptor available in the lap whose wrap counter is `wrap`. */
static inline bool vring_packed_is_avail(uint16_t flags, bool wrap)
{
    bool avail = flags & VRING_PACKED_DESC_F_AVAIL, used = flags & VRING_PACKED_DESC_F_USED;
    return avail != used && avail == wrap;
}

static inline uint16_t vring_packed_off_wrap(uint16_t off, bool wrap)
{
    return (uint16_t)(off | (uint16_t)wrap << VRING_PACKED_EVENT_WRAP_SHIFT);
}

/* With EVENT_IDX (2.8.10): true if the event position `off_wrap` is one of
 * the `count` descriptors a side just made available (or used), which end
 * just before offset `next` of the lap whose wrap counter is `wrap`.
 * Positions are numbered on, lap after lap, in 16 bits: an event whose wrap
 * counter differs from `wrap` lies in the lap before, num lower. That tells
 * only one lap back apart, so `count` must not exceed num. */
static inline bool vring_packed_need_event(uint16_t num, uint16_t off_wrap, uint16_t next, bool wrap, uint16_t count)
{
    uint16_t event = off_wrap & VRING_PACKED_EVENT_OFF_MASK;
    if ((bool)(off_wrap >> VRING_PACKED_EVENT_WRAP_SHIFT) != wrap)
        event = (uint16_t)(event - num);
    return vring_need_event(event, next, (uint16_t)(next - count));
}

#endif
