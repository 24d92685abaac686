/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-net's tap and the data path vireo serves itself (virtio-net.h):
 * frames between the tap and the guest's rings on the event loop.
 */
#ifndef VIREO_NET_TAP_H
#define VIREO_NET_TAP_H

#include "virtio-net.h"

/* Open (create if missing) cfg.tap, one fd per queue pair. -1 + err. */
int net_tap_open(struct virtio_net *n, char *err, size_t errlen);
/* Take cfg.fd, a tap opened by someone else. -1 + err. */
int net_tap_adopt(struct virtio_net *n, char *err, size_t errlen);
int net_tap_set_mtu(struct virtio_net *n, char *err, size_t errlen);
/* Header size and the offloads the driver negotiated. -errno. */
int net_tap_configure(struct virtio_net *n);
/* Steer frames to queue pair i (multiqueue taps), or not. */
void net_tap_attach(struct virtio_net *n, unsigned int i, bool on);

/* In-process data path. */
void net_pair_watch(struct net_pair *p, bool on);
void net_rx_run(struct net_pair *p);
void net_tx_run(struct net_pair *p);
void net_on_tap(struct ev_handler *h, uint32_t events);

#endif
