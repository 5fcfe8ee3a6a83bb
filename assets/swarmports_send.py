# aginstall swarm port probe, other hosts' side: reach the manager on the
# swarm ports for a few seconds, naming this host in every packet.
import socket, sys, time
mgr, name, dur = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
end, tcp, after = time.time() + dur, {2377: False, 7946: False}, 0
# datagrams can be lost: keep sending a few rounds after TCP got through
while time.time() < end and after < 3:
    for port in [p for p in tcp if not tcp[p]]:
        try:
            s = socket.create_connection((mgr, port), timeout=0.3)
            s.sendall(name)
            s.close()
            tcp[port] = True
        except OSError:
            pass
    for port in (7946, 4789):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.sendto(name, (mgr, port))
        except OSError:
            pass
        u.close()
    if all(tcp.values()):
        after += 1
    time.sleep(0.1)
for port in sorted(tcp):
    print("tcp/%d=%s" % (port, "ok" if tcp[port] else "fail"))
