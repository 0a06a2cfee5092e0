/*
 * The contract between virtqueue.c, which holds what both ring formats
 * share (arguments, indirect tables, the per-chain state and free list,
 * statistics, the defences' verdicts), and the two formats: vq_split.c
 * (virtio 1.2, 2.7) and vq_packed.c (2.8). Drivers never include this:
 * virtqueue.h is their door.
 */
#ifndef DRIVERS_VIRTIO_VQ_FORMAT_H
#define DRIVERS_VIRTIO_VQ_FORMAT_H

#include "drivers/virtio/virtqueue.h"

/* Ends a free list; can never be a descriptor index or a buffer id (queues hold at most 1024). */
#define VQ_NONE 0xFFFF

#define READ_ONCE16(p) (*(const volatile uint16_t *)(p))
#define READ_ONCE32(p) (*(const volatile uint32_t *)(p))
#define WRITE_ONCE16(p, v) (*(volatile uint16_t *)(p) = (v))
#define WRITE_ONCE32(p, v) (*(volatile uint32_t *)(p) = (v))

/* A chain about to be added, already checked and sized by virtqueue_add. */
struct vq_chain {
    const struct vq_sg *sg;
    unsigned out;      /* the first `out` buffers are device-readable, the rest device-writable */
    unsigned total;
    void *table;       /* an indirect table with room for `total` entries, or NULL: a direct chain */
    uint16_t descs;    /* ring descriptors it takes: 1 with a table, else total */
};

struct vq_ops {
    const char *name;
    const char *key_name;  /* what a chain in flight is known by: "head" or "id" */
    uint64_t ring_align;
    uint64_t (*ring_bytes)(uint16_t num);
    bool (*size_ok)(uint16_t num);
    /* Lays the format out over zeroed ring memory, positions as new. */
    void (*init)(struct virtqueue *vq, void *ring);
    /* queue_driver and queue_device (virtio 1.2, 4.1.4.3); queue_desc is
     * the start of the ring memory in both formats. */
    uint64_t (*driver_area)(const struct virtqueue *vq);
    uint64_t (*device_area)(const struct virtqueue *vq);
    /* Takes a key and ring room (the caller checked there is), writes the
     * chain, publishes it; returns the key. Called before the chain's state
     * is recorded: nothing reads it until get_buf, which never runs
     * meanwhile (interrupt handlers only switch callbacks off). */
    uint16_t (*add)(struct virtqueue *vq, const struct vq_chain *chain);
    /* Whether the device asked to hear about the num_added chains just published. */
    bool (*need_kick)(struct virtqueue *vq);
    /* The next completion, checked (vq_used_ok) and released (vq_chain_release), or NULL. */
    void *(*get_buf)(struct virtqueue *vq, uint32_t *len);
    bool (*has_used)(const struct virtqueue *vq);
    void (*disable_cb)(struct virtqueue *vq);
    uint16_t (*enable_cb_prepare)(struct virtqueue *vq);
    bool (*poll)(const struct virtqueue *vq, uint16_t mark);
    /* With EVENT_IDX: asks for an interrupt only once about 3/4 of what is
     * in flight has completed, then (after a full barrier) looks: true if an
     * interrupt may not come (the device is past that point; the packed
     * ring, which cannot tell how far, says so whenever anything is used),
     * so the caller reaps instead. NULL: every completion interrupts. */
    bool (*enable_cb_delayed)(struct virtqueue *vq);
    /* Returns a finished chain's descriptors (split) or id (packed) to the free list. */
    void (*free_chain)(struct virtqueue *vq, uint16_t key);
    void (*plant_used)(struct virtqueue *vq, uint32_t id, uint32_t len);
    /* One line of the format's own state. */
    void (*dump)(const struct virtqueue *vq, void (*print)(const char *fmt, ...));
};

extern const struct vq_ops vq_split_ops;
extern const struct vq_ops vq_packed_ops;

/* Marks the queue broken and says why, once ("virtqueue NAME: broken: ..."). */
__attribute__((format(printf, 2, 3))) void vq_break(struct virtqueue *vq, const char *fmt, ...);

/* The checks every used entry passes, whatever the format: `id` names a
 * chain in flight and `*len` fits what it offered. False (and the queue
 * broken, saying which check failed) otherwise. A chain with nothing
 * writable has its length ignored and set to 0: the spec reserves it in a
 * packed used descriptor (2.8.4), legacy devices set it loosely (2.7.8.3;
 * VirtualBox reports a transmitted frame's size), and Linux ignores it for
 * transmit. */
bool vq_used_ok(struct virtqueue *vq, uint32_t id, uint32_t *len);

/* Ends a chain's flight: its ring room back on the free list, its indirect
 * table freed, its state cleared; returns its token. */
void *vq_chain_release(struct virtqueue *vq, uint16_t key);

#endif
