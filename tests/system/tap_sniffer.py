"""Every frame on the test network's tap, read inside the namespace from a
raw socket by a thread, from now until close(); subclasses say what to keep
of each (take)."""
import socket
import threading

from netns import TAP
from test_services import inside

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15  # each frame read comes behind a struct virtio_net_hdr (10 bytes)


class TapSniffer:
    def __init__(self, net, vnet_hdr=False):
        with inside(net):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        if vnet_hdr:
            self.sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        self.sock.bind((TAP, 0))
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def take(self, data):
        raise NotImplementedError

    def _run(self):
        while not self.stop:
            try:
                self.take(self.sock.recv(1 << 17))
            except socket.timeout:
                continue
            except OSError:
                return

    def send(self, frame):
        self.sock.send(frame)

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        # Frames the thread had not read when it stopped are still queued on
        # the socket: the last ones were lost when the host was busy (a CI run
        # saw 2 of 3 fragmented echo replies).
        self.sock.setblocking(False)
        try:
            while True:
                self.take(self.sock.recv(1 << 17))
        except OSError:  # BlockingIOError: the queue is empty
            pass
        self.sock.close()
