from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models

from . import constants


class AutograderModelManager(models.Manager):
    def validate_and_create(self, **kwargs):
        """Like upstream: full_clean() before saving; many-to-many fields
        (e.g. admins) are set after the row exists."""
        m2m = {f.name: kwargs.pop(f.name) for f in self.model._meta.many_to_many
               if f.name in kwargs}
        obj = self.model(**kwargs)
        obj.full_clean()
        obj.save()
        for name, values in m2m.items():
            getattr(obj, name).set(values)
        return obj


class Course(models.Model):
    name = models.CharField(max_length=255, unique=True)
    admins = models.ManyToManyField(User, related_name='courses_is_admin_for', blank=True)
    # Validated against the sandbox limit in constants.py, as upstream does.
    default_timeout = models.IntegerField(default=constants.DEFAULT_SUBPROCESS_TIMEOUT)

    objects = AutograderModelManager()

    def clean(self):
        if not 1 <= self.default_timeout <= constants.MAX_SUBPROCESS_TIMEOUT:
            raise ValidationError({'default_timeout': 'must be between 1 and %d'
                                   % constants.MAX_SUBPROCESS_TIMEOUT})

    def __str__(self):
        return self.name
