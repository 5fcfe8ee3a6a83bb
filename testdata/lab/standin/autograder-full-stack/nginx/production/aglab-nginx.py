#!/usr/bin/env python3
"""Lab stand-in for the production nginx.

Reads /etc/nginx/conf.d/default.conf (the real file format) for
server_name, client_max_body_size, ssl_certificate and ssl_certificate_key.
:80 answers 301 to https://SERVER_NAME/...; :443 serves TLS with the
configured certificate (plain HTTP if the files are missing, saying so) and
proxies /api to django:8000 and everything else to website:80. Requests with
a body above client_max_body_size get 413, like nginx.
"""
import http.client
import http.server
import os
import re
import ssl
import sys
import threading

CONF = os.environ.get('AGLAB_NGINX_CONF', '/etc/nginx/conf.d/default.conf')


def parse_conf(path):
    text = open(path).read()
    text = re.sub(r'#.*', '', text)

    def last(directive, default=None):
        found = re.findall(r'\b%s\s+([^;]+);' % directive, text)
        return found[-1].strip() if found else default
    size = last('client_max_body_size', '1M')
    mult = {'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3}.get(size[-1].lower(), 1)
    limit = int(size[:-1] if size[-1].isalpha() else size) * mult
    return {
        'server_name': last('server_name', 'localhost').split()[0],
        'max_body': limit,
        'max_body_text': size,
        'cert': last('ssl_certificate'),
        'key': last('ssl_certificate_key'),
    }


conf = parse_conf(CONF)
print('[nginx stand-in] %s' % conf, flush=True)


class Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(301)
        self.send_header('Location', 'https://%s%s' % (conf['server_name'], self.path))
        self.send_header('Content-Length', '0')
        self.end_headers()
    do_POST = do_PUT = do_HEAD = do_GET


class Proxy(http.server.BaseHTTPRequestHandler):
    def proxy(self):
        length = int(self.headers.get('Content-Length') or 0)
        if length > conf['max_body']:
            self.send_response(413)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        body = self.rfile.read(length) if length else None
        upstream = ('django', 8000) if self.path.startswith('/api') else ('website', 80)
        try:
            c = http.client.HTTPConnection(*upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != 'connection'}
            headers['X-Forwarded-Proto'] = 'https'
            c.request(self.command, self.path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
        except OSError as e:
            self.send_response(502)
            msg = ('bad gateway: %s:%d: %s\n' % (upstream[0], upstream[1], e)).encode()
            self.send_header('Content-Length', str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ('transfer-encoding', 'connection', 'content-length'):
                self.send_header(k, v)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = proxy


def main():
    https = http.server.ThreadingHTTPServer(('0.0.0.0', 443), Proxy)
    if conf['cert'] and os.path.isfile(conf['cert']) and conf['key'] and os.path.isfile(conf['key']):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(conf['cert'], conf['key'])
        https.socket = ctx.wrap_socket(https.socket, server_side=True)
        print('[nginx stand-in] TLS on :443 with %s' % conf['cert'], flush=True)
    else:
        print('[nginx stand-in] WARNING: certificate %s or key %s missing: plain HTTP on :443'
              % (conf['cert'], conf['key']), file=sys.stderr, flush=True)
    threading.Thread(target=https.serve_forever, daemon=True).start()
    http.server.ThreadingHTTPServer(('0.0.0.0', 80), Redirect).serve_forever()


if __name__ == '__main__':
    main()
