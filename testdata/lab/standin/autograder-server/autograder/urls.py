"""Tiny API so tests can ask Django (not our own state) what exists."""
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

from autograder.core import constants
from autograder.core.models import Course


def status(request):
    return JsonResponse({
        'site_domain': settings.SITE_DOMAIN,
        'max_subprocess_timeout': constants.MAX_SUBPROCESS_TIMEOUT,
        'default_subprocess_timeout': constants.DEFAULT_SUBPROCESS_TIMEOUT,
    })


def courses(request):
    return JsonResponse({'courses': [
        {'name': c.name, 'admins': sorted(u.username for u in c.admins.all())}
        for c in Course.objects.order_by('name')]})


urlpatterns = [
    path('api/aglab/status/', status),
    path('api/aglab/courses/', courses),
]
