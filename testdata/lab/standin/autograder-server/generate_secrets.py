#!/usr/bin/env python3
"""Lab stand-in for autograder-server/generate_secrets.py.

Writes the same files as upstream (autograder/settings/secrets/secret_key,
gpg_key_id_file, gpg_key_password) but needs only python3: no Django, no
gnupg, no entropy wait. Existing files are kept, as upstream does.
"""
import os
import secrets
import string

SECRETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'autograder', 'settings', 'secrets')


def write_once(name, value):
    path = os.path.join(SECRETS_DIR, name)
    if os.path.exists(path):
        print('%s exists, keeping it' % path)
        return
    with open(path, 'w') as f:
        f.write(value)
    os.chmod(path, 0o600)
    print('wrote %s' % path)


def main():
    os.makedirs(SECRETS_DIR, exist_ok=True)
    chars = string.ascii_letters + string.digits + '!@#$%^&*(-_=+)'
    write_once('secret_key', ''.join(secrets.choice(chars) for _ in range(50)))
    write_once('gpg_key_id_file', 'AGLAB' + secrets.token_hex(8).upper())
    write_once('gpg_key_password', secrets.token_urlsafe(32))


if __name__ == '__main__':
    main()
