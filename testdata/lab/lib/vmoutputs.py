#!/usr/bin/env python3
"""Write the VM tier's lab.json and aginstall.yaml into OUT (testdata/lab/out-vm).
Usage: vmoutputs.py OUT N PASSWORD

lab.json has the nspawn lab's shape (internal/labtest reads both) with kind
"vm": no netns, PIDs, merged root or upper dir (a guest's disk is its own),
so tests reach a guest over SSH only. The cluster file is the sysadmin's
road: the sudo user agadmin, NFS export of the checkout, the ingress mesh."""
import json
import os
import subprocess
import sys

out, n, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
key = os.path.join(out, 'id_ed25519')
BRIDGE = '10.214.0.1'

# Same placement as the nspawn lab (outputs.py) for 3 guests; the rest cycle
# through graders (at most one of grader/tiny_grader/deferred_grader/
# tiny_deferred_grader per node).
LABELS3 = [
    ['registry', 'webserver', 'database', 'small_tasks'],
    ['django_app', 'cache', 'rabbitmq_broker', 'custom_image_registry', 'grader'],
    ['fast_grader', 'deferred_grader', 'rerun_grader', 'image_builder'],
]
EXTRA = [['tiny_grader', 'tiny_fast_grader'], ['tiny_deferred_grader', 'tiny_rerun_grader']]


def labels(k):
    if n >= 3:
        return LABELS3[k - 1] if k <= 3 else EXTRA[(k - 4) % len(EXTRA)]
    if n == 2:
        return (LABELS3[0] + ['deferred_grader'] if k == 1 else
                LABELS3[1] + ['fast_grader', 'rerun_grader', 'image_builder'])
    return [l for l in LABELS3[0] + LABELS3[1] + LABELS3[2] if l != 'deferred_grader']


def fingerprint(pub):
    return subprocess.check_output(['ssh-keygen', '-lf', pub], text=True).split()[1]


hosts = []
for k in range(1, n + 1):
    h = os.path.join(out, 'hosts', 'node%d' % k)
    with open(os.path.join(h, 'pid')) as f:
        pid = int(f.read().strip() or 0)
    hosts.append({
        'name': 'node%d' % k,
        'address': '10.214.0.%d' % (10 + k),
        'pid': pid,  # the guest's UML process (also its process group)
        'host_key_fingerprint': fingerprint(os.path.join(h, 'seed/etc/ssh/ssh_host_ed25519_key.pub')),
        'console_log': os.path.join(h, 'console.log'),
        'labels': labels(k),
    })

lab = {
    'bridge': BRIDGE,
    'apt_url': 'http://%s:8080/apt' % BRIDGE,
    'repo_url': 'http://%s:8080/git/autograder-full-stack.git' % BRIDGE,
    'registry_mirror': 'http://%s:5000' % BRIDGE,
    'key': key,
    'known_hosts': os.path.join(out, 'known_hosts'),
    'cluster_file': os.path.join(out, 'aginstall.yaml'),
    'sudo_user': 'agadmin',
    'sudo_password': password,
    'nosudo_user': 'agnosudo',
    'kind': 'vm',
    'hosts': hosts,
}
with open(os.path.join(out, 'lab.json.tmp'), 'w') as f:
    json.dump(lab, f, indent=2)
    f.write('\n')
os.rename(os.path.join(out, 'lab.json.tmp'), os.path.join(out, 'lab.json'))

y = ['# Written by testdata/lab/vm/up: the VM tier (%d UML guests), the sysadmin\'s road:' % n,
     '# a sudo user, NFS export of the checkout, publishing through the ingress mesh.',
     'name: vmlab', 'manager: node1', 'stack: ag-stack', 'hosts:']
for h in hosts:
    y += ['  - name: %s' % h['name'],
          '    address: %s' % h['address'],
          '    port: 22',
          '    user: agadmin',
          '    identity: %s' % key,
          '    host_key: "%s"' % h['host_key_fingerprint'],
          '    labels: [%s]' % ', '.join(h['labels'])]
# Docker's own road when the lab serves a Docker-layout repository (vm/up
# copies it into www/ when this checkout builds one), else Debian's docker.io.
DOCKER_REPO = 'docker/linux/debian'
if os.path.exists(os.path.join(out, 'www', DOCKER_REPO, 'gpg')):
    url = 'http://%s:8080/%s' % (BRIDGE, DOCKER_REPO)
    docker = 'docker: {install: official, apt_url: %s, apt_key: %s/gpg}' % (url, url)
else:
    docker = 'docker: {install: distro}'
y += [
    docker,
    'source: {repo: %s, allow_http: true, ref: master, path: /root/autograder-full-stack}' % lab['repo_url'],
    'nfs: {mode: export}',
    'swarm: {advertise_address: 10.214.0.11, publish_mode: ingress}',
    'tuning: {gunicorn_workers: 2, celery_concurrency: {grader: 1, fast_grader: 1, deferred_grader: 1, rerun_grader: 1}, '
    'client_max_body_size: 40M, max_subprocess_timeout: 120, sysadmin_contact: "Lab Admin <lab@example.edu>"}',
    'site: {domain: autograder.lab.test, tls_cert: /etc/ssl/certs/autograder.cert, '
    'tls_key: /etc/ssl/private/autograder.key.pem, postgres_image: "postgres:15"}',
    'admin: {email: admin@lab.test, course: "Lab Course 101"}',
]
with open(os.path.join(out, 'aginstall.yaml'), 'w') as f:
    f.write('\n'.join(y) + '\n')
