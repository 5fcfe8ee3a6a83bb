#!/usr/bin/env python3
"""Write testdata/lab/out/lab.json and aginstall.yaml (the outputs contract,
see README.md). Usage: outputs.py OUT N KIND PASSWORD"""
import json
import os
import subprocess
import sys

out, n, kind, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
key = os.path.join(out, 'id_ed25519')


def ip(k):
    return '10.213.0.%d' % (10 + k)


def read(path, default=''):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def fingerprint(pub):
    line = subprocess.check_output(['ssh-keygen', '-lf', pub], text=True)
    return line.split()[1]


# Placement labels. 3 nodes: as in the issue. Node 4+: graders, keeping "at
# most one of grader/tiny_grader/deferred_grader/tiny_deferred_grader".
LABELS3 = [
    ['registry', 'webserver', 'database', 'small_tasks'],
    ['django_app', 'cache', 'rabbitmq_broker', 'custom_image_registry', 'grader'],
    ['fast_grader', 'deferred_grader', 'rerun_grader', 'image_builder'],
]
EXTRA = [
    ['tiny_grader', 'tiny_fast_grader'],
    ['tiny_deferred_grader', 'tiny_rerun_grader'],
    ['grader', 'fast_grader'],
    ['deferred_grader', 'rerun_grader'],
]


def labels(k):
    if n >= 3:
        return LABELS3[k - 1] if k <= 3 else EXTRA[(k - 4) % len(EXTRA)]
    if n == 2:  # node2 cannot hold both grader and deferred_grader
        return (LABELS3[0] + ['deferred_grader'] if k == 1 else
                LABELS3[1] + ['fast_grader', 'rerun_grader', 'image_builder'])
    return [l for l in LABELS3[0] + LABELS3[1] + LABELS3[2] if l != 'deferred_grader']


hosts = []
for k in range(1, n + 1):
    h = os.path.join(out, 'hosts', 'node%d' % k)
    hosts.append({
        'name': 'node%d' % k,
        'address': ip(k),
        'netns': 'aglab-node%d' % k,
        'pid': int(read(os.path.join(h, 'pid')) or 0),
        'leader_pid': int(read(os.path.join(h, 'leader_pid')) or 0),
        'root': os.path.join(h, 'root'),
        'upper': os.path.join(h, 'upper'),
        'docker_dir': os.path.join(h, 'docker'),
        'host_key_fingerprint': fingerprint(os.path.join(h, 'root/etc/ssh/ssh_host_ed25519_key.pub')),
        'console_log': os.path.join(h, 'console.log'),
        'labels': labels(k),
    })

lab = {
    'bridge': '10.213.0.1',
    'apt_url': 'http://10.213.0.1:8080/apt',
    'repo_url': 'http://10.213.0.1:8080/git/autograder-full-stack.git',
    'registry_mirror': 'http://10.213.0.1:5000',
    'key': key,
    'known_hosts': os.path.join(out, 'known_hosts'),
    'cluster_file': os.path.join(out, 'aginstall.yaml'),
    'shared_dir': os.path.join(out, 'shared'),
    'sudo_user': 'agadmin',
    'sudo_password': password,
    'nosudo_user': 'agnosudo',
    'kind': kind,
    'hosts': hosts,
}
with open(os.path.join(out, 'lab.json.tmp'), 'w') as f:
    json.dump(lab, f, indent=2)
    f.write('\n')
os.rename(os.path.join(out, 'lab.json.tmp'), os.path.join(out, 'lab.json'))

y = ['# Written by testdata/lab/up: the cluster file for the lab (%s hosts).' % kind,
     'name: lab', 'manager: node1', 'stack: ag-stack', 'hosts:']
for h in hosts:
    y += ['  - name: %s' % h['name'],
          '    address: %s' % h['address'],
          '    port: 22',
          '    user: root',
          '    identity: %s' % key,
          '    host_key: "%s"' % h['host_key_fingerprint'],
          '    labels: [%s]' % ', '.join(h['labels'])]
y += [
    'docker: {install: distro}',
    'source: {repo: http://10.213.0.1:8080/git/autograder-full-stack.git, ref: master, path: /root/autograder-full-stack}',
    'nfs: {mode: skip}',
    'swarm: {advertise_address: 10.213.0.11, publish_mode: host}',
    'tuning: {gunicorn_workers: 3, celery_concurrency: {grader: 2, fast_grader: 2, deferred_grader: 1, rerun_grader: 1}, '
    'client_max_body_size: 40M, max_subprocess_timeout: 120, sysadmin_contact: "Lab Admin <lab@example.edu>"}',
    'site: {domain: autograder.lab.test, tls_cert: /etc/ssl/certs/autograder.cert, '
    'tls_key: /etc/ssl/private/autograder.key.pem, postgres_image: "postgres:15"}',
    'admin: {email: admin@lab.test, course: "Lab Course 101"}',
]
with open(os.path.join(out, 'aginstall.yaml'), 'w') as f:
    f.write('\n'.join(y) + '\n')
