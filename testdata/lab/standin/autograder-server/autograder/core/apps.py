from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = 'autograder.core'
    label = 'core'
