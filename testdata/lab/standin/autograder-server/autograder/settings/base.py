"""Lab stand-in settings for autograder-server.

Like upstream, the settings refuse to start without the secret key written by
generate_secrets.py. The database is PostgreSQL, reached as upstream's
settings do (AG_DB_HOST, AG_DB_PASSWORD, ... from _prod.env).
"""
import json
import os
import sys

BASE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETTINGS_DIR = os.path.dirname(os.path.abspath(__file__))
SECRETS_DIR = os.path.join(SETTINGS_DIR, 'secrets')

SECRET_KEY_FILENAME = os.path.join(SECRETS_DIR, 'secret_key')
GPG_KEY_ID_FILENAME = os.path.join(SECRETS_DIR, 'gpg_key_id_file')
GPG_KEY_PASSWORD_FILENAME = os.path.join(SECRETS_DIR, 'gpg_key_password')
EMAIL_FROM_ADDR = os.environ.get('EMAIL_FROM_ADDR', 'admin@autograder.io')
SECRET_KEY = GPG_KEY_ID = GPG_KEY_PASSWORD = None

# As upstream: generate_secrets.py imports these settings to find the files
# it writes, so the check that the secret key exists is skipped for it.
if os.path.basename(sys.argv[0]) != 'generate_secrets.py':
    if not os.path.isfile(SECRET_KEY_FILENAME):
        raise RuntimeError(
            'Missing %s: run "python3 generate_secrets.py" in autograder-server first' % SECRET_KEY_FILENAME)
    with open(SECRET_KEY_FILENAME) as f:
        SECRET_KEY = f.read().strip()
    if os.path.isfile(GPG_KEY_ID_FILENAME):
        with open(GPG_KEY_ID_FILENAME) as f:
            GPG_KEY_ID = f.read().strip()
    if os.path.isfile(GPG_KEY_PASSWORD_FILENAME):
        with open(GPG_KEY_PASSWORD_FILENAME) as f:
            GPG_KEY_PASSWORD = f.read().strip()

DEBUG = os.environ.get('AG_DEBUG', 'false') == 'true'
ALLOWED_HOSTS = [h for h in os.environ.get('ALLOWED_HOSTS', '*').split(',') if h] + [
    'localhost', '127.0.0.1', 'django']
SITE_DOMAIN = os.environ.get('SITE_DOMAIN', '')

OAUTH2_SECRETS_FILENAME = os.environ.get('OAUTH2_SECRETS_FILENAME', 'oauth2_secrets.json')
OAUTH2_PROVIDER = os.environ.get('OAUTH2_PROVIDER', 'google')
OAUTH2_SECRETS_PATH = os.path.join(SETTINGS_DIR, OAUTH2_SECRETS_FILENAME)
OAUTH2_SECRETS = None
if os.path.isfile(OAUTH2_SECRETS_PATH):
    with open(OAUTH2_SECRETS_PATH) as f:
        OAUTH2_SECRETS = json.load(f)

MEDIA_ROOT = os.environ.get('MEDIA_ROOT', os.path.join(BASE_DIR, 'media_root'))

INSTALLED_APPS = [
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'autograder.core',
]
MIDDLEWARE = []
ROOT_URLCONF = 'autograder.urls'
WSGI_APPLICATION = 'autograder.wsgi.application'

# As upstream: PostgreSQL, configured from _prod.env (AG_DB_*). The lab's
# postgres images are real PostgreSQL 15.
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': os.environ.get('AG_DB_NAME', 'postgres'),
        'USER': os.environ.get('AG_DB_USER', 'postgres'),
        'PASSWORD': os.environ.get('AG_DB_PASSWORD', 'postgres'),
        'HOST': os.environ.get('AG_DB_HOST', 'localhost'),
        'PORT': os.environ.get('AG_DB_PORT', '5432'),
    }
}
# Unit tests on a machine without a database server (steps/admin_test.go)
# ask for SQLite explicitly; the lab and the stack never set this.
if os.environ.get('AGLAB_SQLITE_PATH'):
    DATABASES['default'] = {'ENGINE': 'django.db.backends.sqlite3', 'NAME': os.environ['AGLAB_SQLITE_PATH']}
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'
USE_TZ = True
TIME_ZONE = 'UTC'
