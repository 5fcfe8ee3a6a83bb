# aginstall swarm port probe, manager side: listen a few seconds on the swarm
# ports and print who reached which; stops early once every host was heard.
import select, socket, sys, time
want = set(sys.argv[2:])
socks, conns, heard = {}, {}, set()
for proto, port in (("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789)):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("0.0.0.0", port))
        if proto == "tcp":
            s.listen(16)
        socks[s] = (proto, port)
        print("bound=%s/%d" % (proto, port))
    except OSError:
        print("busy=%s/%d" % (proto, port))
sys.stdout.flush()
end = time.time() + float(sys.argv[1])
while socks and time.time() < end and not all((n, p) in heard for n in want for p in socks.values()):
    r = select.select(list(socks) + list(conns), [], [], 0.05)[0]
    for s in r:
        if s in conns:
            key = conns.pop(s)
            try:
                name = s.recv(200).decode("utf-8", "replace").strip()
            except OSError:
                name = ""
            s.close()
        elif socks[s][0] == "tcp":
            c = s.accept()[0]
            c.settimeout(1)
            conns[c] = socks[s]
            continue
        else:
            key = socks[s]
            name = s.recvfrom(200)[0].decode("utf-8", "replace").strip()
        if name and (name, key) not in heard:
            heard.add((name, key))
            print("got=%s/%d %s" % (key[0], key[1], name))
            sys.stdout.flush()
