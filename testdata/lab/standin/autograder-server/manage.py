#!/usr/bin/env python3
"""Lab stand-in for autograder-server's manage.py (real Django from Debian)."""
import os
import sys

if __name__ == '__main__':
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'autograder.settings.base')
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
