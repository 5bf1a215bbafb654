# The workload of tests/fixtures/criu-4.2/ns-sockets (its state.json), one
# socket per fd from 3 to 16, made in the same order with the same options.
# argv[1]: a directory for the listener's path. Prints
# "ready" (the shell before it announced its pid), then holds everything until stdin ends.
import os, socket, struct, sys

d = sys.argv[1]
os.closerange(3, 1024)  # whatever the shell left open
S = socket
keep = []

def sk(*a):
    s = S.socket(*a)
    keep.append(s)
    return s

l = sk(S.AF_UNIX, S.SOCK_STREAM)                      # fd 3
l.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, 65536)
l.bind(d + "/listener")
l.listen(7)
c = sk(S.AF_UNIX, S.SOCK_STREAM)                      # fd 4
c.setsockopt(S.SOL_SOCKET, S.SO_PASSCRED, 1)
c.connect(d + "/listener")
a, b = S.socketpair(S.AF_UNIX, S.SOCK_DGRAM)          # fd 5, 6
keep += [a, b]
a.setsockopt(S.SOL_SOCKET, S.SO_SNDBUF, 32768)
a.send(b"x" * 300)
p1, p2 = S.socketpair(S.AF_UNIX, S.SOCK_SEQPACKET)    # fd 7, 8
keep += [p1, p2]
p1.shutdown(S.SHUT_WR)
ab = sk(S.AF_UNIX, S.SOCK_DGRAM)                      # fd 9
ab.bind(b"\0fixture-abstract")
t4 = sk(S.AF_INET, S.SOCK_STREAM)                     # fd 10
t4.setsockopt(S.SOL_IP, 15, 1)                        # IP_FREEBIND
t4.setsockopt(S.SOL_SOCKET, S.SO_KEEPALIVE, 1)
t4.setsockopt(S.SOL_SOCKET, S.SO_LINGER, struct.pack("ii", 1, 5))
t4.setsockopt(S.SOL_SOCKET, S.SO_MARK, 42)
t4.setsockopt(S.SOL_SOCKET, S.SO_PRIORITY, 5)
t4.setsockopt(S.SOL_IP, S.IP_TOS, 16)
t4.setsockopt(S.SOL_SOCKET, S.SO_RCVLOWAT, 7)
t4.setsockopt(S.SOL_SOCKET, S.SO_RCVTIMEO, struct.pack("ll", 3, 500000))
t4.setsockopt(S.SOL_SOCKET, S.SO_SNDTIMEO, struct.pack("ll", 4, 0))
t4.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
t4.setsockopt(S.SOL_SOCKET, S.SO_REUSEPORT, 1)
t4.setsockopt(S.IPPROTO_TCP, S.TCP_KEEPCNT, 3)
t4.setsockopt(S.IPPROTO_TCP, S.TCP_KEEPIDLE, 111)
t4.setsockopt(S.IPPROTO_TCP, S.TCP_KEEPINTVL, 22)
t4.setsockopt(S.IPPROTO_TCP, S.TCP_NODELAY, 1)
t4.bind(("10.11.12.13", 7001))
t4.listen(5)
t6 = sk(S.AF_INET6, S.SOCK_STREAM)                    # fd 11
t6.setsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY, 1)
t6.setsockopt(S.SOL_SOCKET, S.SO_BINDTODEVICE, b"vA")
t6.bind(("fd00:77::1", 7002))
t6.listen(3)
u4 = sk(S.AF_INET, S.SOCK_DGRAM)                      # fd 12
u4.setsockopt(S.SOL_SOCKET, S.SO_BROADCAST, 1)
u4.bind(("192.168.77.2", 7003))
u4.connect(("192.168.77.2", 9))
ul = sk(S.AF_INET6, S.SOCK_DGRAM, 136)                # fd 13, IPPROTO_UDPLITE
ul.bind(("::", 7004))
pk = sk(S.AF_PACKET, S.SOCK_RAW, S.htons(0x88B5))     # fd 14
pk.bind(("vA", 0x88B5))
pk.setsockopt(263, 8, 1)                              # SOL_PACKET, PACKET_AUXDATA
vA = S.if_nametoindex("vA")
pk.setsockopt(263, 1, struct.pack("iHH8s", vA, 1, 0, b""))  # PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC
pd = sk(S.AF_PACKET, S.SOCK_DGRAM, S.htons(3))        # fd 15, ETH_P_ALL
pd.setsockopt(263, 10, 1)                             # PACKET_VERSION, TPACKET_V2
nl = sk(S.AF_NETLINK, S.SOCK_RAW, 0)                  # fd 16, NETLINK_ROUTE
nl.bind((0, 0x11))

fds = [s.fileno() for s in keep]
assert fds == list(range(3, 17)), fds
print("ready", flush=True)
sys.stdin.read()
