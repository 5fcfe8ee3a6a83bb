#!/usr/bin/env python3
"""Write testdata/lab/out/lab.json and aginstall.yaml (the outputs contract,
see README.md). Usage: outputs.py OUT N KIND PASSWORD

Two cluster files: aginstall.yaml is the sysadmin's road (sudo user agadmin
with a password, the key from an ssh-agent, Docker from the lab's
Docker-layout repository); aginstall-root.yaml is the second road (root with
the lab key, Debian's docker.io)."""
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


DOCKER_APT_URL = 'http://10.213.0.1:8080/docker/linux/debian'

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
    'cluster_file_root': os.path.join(out, 'aginstall-root.yaml'),
    'docker_apt_url': DOCKER_APT_URL,
    'docker_apt_key': DOCKER_APT_URL + '/gpg',
    'shared_dir': os.path.join(out, 'shared'),
    # The cache this lab was built from: labtest's Reset runs up with it, so a
    # test run without AGLAB_CACHE in its environment does not build a new one.
    'cache_dir': os.environ.get('AGLAB_CACHE') or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'cache'),
    'sudo_user': 'agadmin',
    'sudo_password': password,
    'nosudo_user': 'agnosudo',
    'kind': kind,
    'hosts': hosts,
}


def cluster_file(road):
    """The cluster file of one road: 'sudo' or 'root'."""
    if road == 'sudo':
        head = ('# Written by testdata/lab/up: the cluster file for the lab (%s hosts), the sysadmin\'s road:\n'
                '# sudo user %s (aginstall asks for the sudo password, or --sudo-password-stdin),\n'
                '# the key from an ssh-agent (ssh-add %s), Docker from the lab\'s Docker-layout repository.'
                % (kind, lab['sudo_user'], key))
    else:
        head = ('# Written by testdata/lab/up: the cluster file for the lab (%s hosts), the root road:\n'
                '# root with the lab key, Debian\'s docker.io.' % kind)
    y = [head, 'name: lab', 'manager: node1', 'stack: ag-stack', 'hosts:']
    for h in hosts:
        y += ['  - name: %s' % h['name'],
              '    address: %s' % h['address'],
              '    port: 22']
        if road == 'sudo':
            y += ['    user: %s' % lab['sudo_user']]
        else:
            y += ['    user: root',
                  '    identity: %s' % key]
        y += ['    host_key: "%s"' % h['host_key_fingerprint'],
              '    labels: [%s]' % ', '.join(h['labels'])]
    if road == 'sudo':
        y += ['docker: {install: official, apt_url: %s, apt_key: %s}' % (lab['docker_apt_url'], lab['docker_apt_key'])]
    else:
        y += ['docker: {install: distro}']
    y += [
        'source: {repo: http://10.213.0.1:8080/git/autograder-full-stack.git, allow_http: true, ref: master, path: /root/autograder-full-stack}',
        '# This kernel has neither NFS nor IPVS: the shared folder is bind-mounted, ports are host-published.',
        'nfs: {mode: skip}',
        'swarm: {advertise_address: 10.213.0.11, publish_mode: host}',
        'tuning: {gunicorn_workers: 3, celery_concurrency: {grader: 2, fast_grader: 2, deferred_grader: 1, rerun_grader: 1}, '
        'client_max_body_size: 40M, max_subprocess_timeout: 120, sysadmin_contact: "Lab Admin <lab@example.edu>"}',
        'site: {domain: autograder.lab.test, tls_cert: /etc/ssl/certs/autograder.cert, '
        'tls_key: /etc/ssl/private/autograder.key.pem, postgres_image: "postgres:15"}',
        'admin: {email: admin@lab.test, course: "Lab Course 101"}',
    ]
    return '\n'.join(y) + '\n'


for road, name in (('sudo', 'aginstall.yaml'), ('root', 'aginstall-root.yaml')):
    with open(os.path.join(out, name + '.tmp'), 'w') as f:
        f.write(cluster_file(road))
    os.rename(os.path.join(out, name + '.tmp'), os.path.join(out, name))
# lab.json last: a test that sees it finds both cluster files.
with open(os.path.join(out, 'lab.json.tmp'), 'w') as f:
    json.dump(lab, f, indent=2)
    f.write('\n')
os.rename(os.path.join(out, 'lab.json.tmp'), os.path.join(out, 'lab.json'))
