#define _GNU_SOURCE
#include "tcpip_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int tcpip_tun_open(const char *name, int tap, char *out_name) {
    return tcpip_tun_open_offload(name, tap, 0, out_name);
}

int tcpip_tun_open_offload(const char *name, int tap, int vnet_hdr, char *out_name) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (short)((tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0));
    if (name && name[0]) strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (vnet_hdr) {
        int size = 10;  /* struct virtio_net_hdr, without num_buffers */
        unsigned long offloads = TUN_F_CSUM | TUN_F_TSO4;
        if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0 || ioctl(fd, TUNSETOFFLOAD, offloads) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    if (out_name) {
        memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
        out_name[IFNAMSIZ - 1] = 0;
    }
    return fd;
}

static int with_ifreq(const char *name, unsigned long request, struct ifreq *ifr) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
    int r = ioctl(s, request, ifr) < 0 ? -errno : 0;
    close(s);
    return r;
}

int tcpip_if_set_mtu(const char *name, int mtu) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_mtu = mtu;
    return with_ifreq(name, SIOCSIFMTU, &ifr);
}

int tcpip_if_get_mtu(const char *name, int *mtu) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int r = with_ifreq(name, SIOCGIFMTU, &ifr);
    if (r == 0) *mtu = ifr.ifr_mtu;
    return r;
}

int tcpip_if_set_up(const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int r = with_ifreq(name, SIOCGIFFLAGS, &ifr);
    if (r < 0) return r;
    ifr.ifr_flags |= IFF_UP;
    return with_ifreq(name, SIOCSIFFLAGS, &ifr);
}

int tcpip_if_get_mac(const char *name, unsigned char *mac) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int r = with_ifreq(name, SIOCGIFHWADDR, &ifr);
    if (r == 0) memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return r;
}

int tcpip_wait_readable(int fd, int timeout_ms) {
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    int r = poll(&p, 1, timeout_ms);
    if (r < 0) return -errno;
    return r > 0 ? 1 : 0;
}
