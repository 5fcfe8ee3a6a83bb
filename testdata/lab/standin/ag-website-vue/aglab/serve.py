#!/usr/bin/env python3
"""Stand-in for the website image's nginx: serves dist/ on ports 80 and 443
(plain HTTP on both, like the upstream conf.d which has no certificates)."""
import functools
import http.server
import os
import threading

root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'dist')
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
servers = [http.server.ThreadingHTTPServer(('0.0.0.0', p), handler) for p in (80, 443)]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print('[website stand-in] serving', root, 'on 80 and 443', flush=True)
servers[0].serve_forever()
