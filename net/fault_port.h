/*
 * Fault injection for the recovery tests, off unless the command line says
 * faults=on: a datagram to UDP port 9999 naming a fault ("device-error" or
 * "bad-used-id") makes the NIC it arrived on misbehave as a faulty device
 * would (drivers/virtio/virtio_net.h, virtio_net_inject_fault). The reply
 * says what was done. Never enable it on a network you do not trust.
 */
#ifndef NET_FAULT_PORT_H
#define NET_FAULT_PORT_H

#define FAULT_PORT 9999

/* Binds the port; returns 0 or -1. */
int fault_port_start(void);

#endif
