#ifndef TCPIP_SHIM_H
#define TCPIP_SHIM_H

/* Thin wrappers around the Linux ioctls that Swift cannot call directly
 * (ioctl is variadic). Every function returns 0 or a file descriptor on
 * success and -errno on failure. */

#ifdef __cplusplus
extern "C" {
#endif

enum { TCPIP_IFNAMSIZ = 16 };

/* Opens /dev/net/tun and attaches it to the interface `name` (created if it
 * does not exist; an existing persistent device made with `ip tuntap add` is
 * attached to). `tap` = 1 for a TAP (Ethernet frames), 0 for a TUN (IP
 * packets). No packet-information header. On success the interface's name
 * (kernel-chosen when `name` is empty or has a %d) is written to `out_name`
 * (TCPIP_IFNAMSIZ bytes) and the descriptor, non-blocking and close-on-exec, is
 * returned. */
int tcpip_tun_open(const char *name, int tap, char *out_name);

/* As tcpip_tun_open, and with `vnet_hdr` = 1: IFF_VNET_HDR (every frame read or written
 * starts with a 10-byte struct virtio_net_hdr, TUNSETVNETHDRSZ 10), and TUNSETOFFLOAD
 * with TUN_F_CSUM | TUN_F_TSO4 (the kernel may hand us partial checksums and TCP/IPv4
 * super-segments, and takes ours). */
int tcpip_tun_open_offload(const char *name, int tap, int vnet_hdr, char *out_name);

/* Sets the interface's MTU. */
int tcpip_if_set_mtu(const char *name, int mtu);

/* Reads the interface's MTU into *mtu. */
int tcpip_if_get_mtu(const char *name, int *mtu);

/* Brings the interface up (IFF_UP). */
int tcpip_if_set_up(const char *name);

/* Reads the interface's hardware address (6 bytes). */
int tcpip_if_get_mac(const char *name, unsigned char *mac);

/* Waits up to timeout_ms for fd to be readable: 1 readable, 0 timeout, -errno. */
int tcpip_wait_readable(int fd, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
