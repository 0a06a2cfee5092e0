/*
 * The feature bits that choose a ring's shape, and the split virtqueue's
 * memory layout (virtio 1.2, 2.7) with its notification arithmetic (the
 * packed ring's is in virtio_ring_packed.h). Shared by the driver's
 * virtqueue and the tests' simulated device.
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_RING_H
#define DRIVERS_VIRTIO_VIRTIO_RING_H

#include <stdint.h>

/* Device-independent feature bits that shape the rings (virtio 1.2, 6). */
#define VIRTIO_F_RING_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_F_RING_EVENT_IDX (1ULL << 29)
#define VIRTIO_F_RING_PACKED (1ULL << 34)

#define VRING_DESC_F_NEXT 1     /* the chain continues in `next` */
#define VRING_DESC_F_WRITE 2    /* device-writable (else device-readable) */
#define VRING_DESC_F_INDIRECT 4 /* addr/len describe a table of descriptors */

#define VRING_AVAIL_F_NO_INTERRUPT 1 /* driver: do not interrupt me (without EVENT_IDX) */
#define VRING_USED_F_NO_NOTIFY 1     /* device: do not kick me (without EVENT_IDX) */

/* The legacy interface fixes the used ring at this alignment; modern devices
 * accept it too, so one layout serves both transports. */
#define VRING_LEGACY_ALIGN 4096

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct vring_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[]; /* num entries, then used_event */
};

struct vring_used_elem {
    uint32_t id;  /* head of the completed chain (uint32 by the spec) */
    uint32_t len; /* bytes the device wrote */
};

struct vring_used {
    uint16_t flags;
    uint16_t idx;
    struct vring_used_elem ring[]; /* num entries, then avail_event */
};

struct vring {
    uint16_t num;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
};

static inline uint64_t vring_align(uint64_t x, uint64_t a)
{
    return (x + a - 1) & ~(a - 1);
}

/* Bytes for a ring of `num` entries in the legacy layout: descriptors and
 * available ring, then the used ring at the next 4 KiB boundary. */
static inline uint64_t vring_size(uint16_t num)
{
    return vring_align(16ULL * num + 2 * (3ULL + num), VRING_LEGACY_ALIGN) + vring_align(2 * 3ULL + 8ULL * num, VRING_LEGACY_ALIGN);
}

static inline void vring_init(struct vring *vr, uint16_t num, void *mem)
{
    vr->num = num;
    vr->desc = mem;
    vr->avail = (struct vring_avail *)((char *)mem + 16ULL * num);
    vr->used = (struct vring_used *)((char *)mem +
                                     vring_align(16ULL * num + 2 * (3ULL + num), VRING_LEGACY_ALIGN));
}

/* With VIRTIO_F_EVENT_IDX: the driver's "interrupt me after this used index"
 * and the device's "kick me after this avail index" (virtio 1.2, 2.7.10). */
static inline volatile uint16_t *vring_used_event(const struct vring *vr)
{
    return &vr->avail->ring[vr->num];
}

static inline volatile uint16_t *vring_avail_event(const struct vring *vr)
{
    return (volatile uint16_t *)&vr->used->ring[vr->num];
}

/* True if moving an index from old_idx to new_idx passes event_idx: the
 * other side asked to hear about exactly that step. All arithmetic wraps at 16 bits. */
static inline int vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

#endif
