# Stand-in: the real project defines its Celery app here. The lab's
# /usr/local/bin/celery does not import it.
