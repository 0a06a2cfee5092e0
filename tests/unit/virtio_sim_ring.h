/*
 * Between the simulated device's common part and split ring (virtio_sim.c)
 * and its packed ring (virtio_sim_packed.c). Tests use virtio_sim.h.
 */
#ifndef TESTS_UNIT_VIRTIO_SIM_RING_H
#define TESTS_UNIT_VIRTIO_SIM_RING_H

#include "tests/unit/virtio_sim.h"

/* The largest queue the sim handles (the driver's VIRTQUEUE_MAX_SIZE). */
#define SIM_MAX_QUEUE 1024

/* Accesses to memory the driver shares with us: never cached, never merged. */
#define READ16(p) (*(const volatile uint16_t *)(p))
#define WRITE16(p, v) (*(volatile uint16_t *)(p) = (uint16_t)(v))
/* The device runs "elsewhere": order its accesses as the spec asks a device to. */
#define SIM_MB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define SIM_WMB() __atomic_thread_fence(__ATOMIC_RELEASE)
#define SIM_RMB() __atomic_thread_fence(__ATOMIC_ACQUIRE)

/* Records a protocol violation by the driver (the first one word for word). */
__attribute__((format(printf, 2, 3))) void sim_fail(struct sim *s, const char *fmt, ...);

/* A chain about to be taken: no buffers yet. */
void sim_chain_begin(struct sim_chain *c);

/* One buffer of the chain being taken, with the checks every format makes;
 * false (and an error recorded) if the chain is malformed. */
bool sim_add_buf(struct sim *s, struct sim_chain *c, uint16_t key, uint64_t addr, uint32_t len, bool writable);

/* The chain `key` was taken: in flight, newest in the order. */
void sim_chain_taken(struct sim *s, uint16_t key);

/* Writes `len` bytes of a pattern into the chain's writable buffers, in order. */
void sim_write_data(struct sim_chain *c, uint16_t key, uint32_t len);

/* The chain `key` is done: out of flight and the order. */
void sim_chain_done(struct sim *s, uint16_t key);

/* The packed ring (virtio_sim_packed.c). */
void sim_packed_init(struct sim *s, void *ring);
bool sim_packed_take_one(struct sim *s);
void sim_packed_ask_kick(struct sim *s);
void sim_packed_put_used(struct sim *s, uint16_t id, uint32_t len);
bool sim_packed_flush(struct sim *s);
void sim_packed_set_no_notify(struct sim *s, bool no_notify);
void sim_packed_evil_push_used(struct sim *s, uint32_t id, uint32_t len);

#endif
