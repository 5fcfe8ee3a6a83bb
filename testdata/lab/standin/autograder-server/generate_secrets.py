#!/usr/bin/env python3
"""Lab stand-in for autograder-server/generate_secrets.py, with upstream's needs.

Like upstream's script it imports the settings module (which skips its
"secrets missing" check when argv[0] is generate_secrets.py), takes the
secret key from Django's get_random_secret_key, and makes a GnuPG key pair
with python-gnupg in the secrets folder: it needs python3-django,
python3-gnupg and gpg on the host, and enough entropy for the key. Existing
secrets are kept; the GPG password file is written last, so its absence
means the key pair must still be made.
"""
import argparse
import os

import autograder.settings.base as settings
from django.core.management.utils import get_random_secret_key

import gnupg


def main():
    argparse.ArgumentParser(
        description='Creates %s and the secrets in it (Django secret key, GPG key pair '
                    'and its password); existing secrets are kept.' % settings.SECRETS_DIR).parse_args()
    os.makedirs(settings.SECRETS_DIR, exist_ok=True)

    if not os.path.exists(settings.SECRET_KEY_FILENAME):
        with open(settings.SECRET_KEY_FILENAME, 'w') as f:
            f.write(get_random_secret_key())

    if not os.path.exists(settings.GPG_KEY_PASSWORD_FILENAME):
        password = get_random_secret_key()
        gpg = gnupg.GPG(gnupghome=settings.SECRETS_DIR)
        key = gpg.gen_key(gpg.gen_key_input(name_email=settings.EMAIL_FROM_ADDR, passphrase=password))
        if not key.fingerprint:
            raise SystemExit('GPG key generation failed: %s' % key.stderr)
        with open(settings.GPG_KEY_ID_FILENAME, 'w') as f:
            f.write(str(key.fingerprint))
        with open(settings.GPG_KEY_PASSWORD_FILENAME, 'w') as f:
            f.write(password)


if __name__ == '__main__':
    main()
