# aginstall: the guide's "make yourself a superuser, create a course and add
# yourself as an administrator", made idempotent and safe. Run inside the
# django container as `python3 manage.py shell -c <this file>`.
#
# Input is JSON in the AGINSTALL_ADMIN environment variable:
#   {"mode": "apply" | "check", "email": "...", "course": "...", "migrations": "1"}
# With "migrations", it also says whether migrations are unapplied (what
# `manage.py migrate --check` answers), so a review starts Django once for
# both questions; before the first migration the user and course cannot be
# read, and the result says so instead of failing.
# With "schema", it also says what the image holds that a check can read the
# database with, without starting Django: every migration of the graph (a
# squashed one with what it replaces), the tables and columns of the user,
# the course and its admins, and the database the settings name (never the
# password). aginstall keeps it for this image; the rows are read each time.
# The values are only ever data (ORM arguments), never code. An existing
# course is left as it is; an existing user is made a superuser (and staff)
# if it is not one, and an admin of the course.
# "check" changes nothing. Output: one line "AGINSTALL_RESULT {json}".
#
# Everything lives inside one function: `shell -c` may exec this with
# separate globals and locals, where top-level helpers would not be found.


def aginstall_admin_main():
    import json
    import os

    from django.contrib.auth.models import User
    from django.db import transaction
    from autograder.core.models import Course

    # Nested: shell -c may run this file with separate globals and locals.
    def aginstall_schema(User, Course):
        from django.conf import settings
        from django.db.migrations.loader import MigrationLoader

        # No connection: the graph as a fresh database sees it, squashed
        # migrations in place of what they replace.
        graph = MigrationLoader(None).graph
        db = settings.DATABASES.get('default', {})
        admins = Course._meta.get_field('admins')
        return {
            'migrations': [list(k) for k in sorted(graph.nodes)],
            'replaces': {'%s.%s' % k: [list(r) for r in graph.nodes[k].replaces]
                         for k in sorted(graph.nodes) if getattr(graph.nodes[k], 'replaces', None)},
            'engine': db.get('ENGINE', ''), 'host': db.get('HOST', ''), 'name': db.get('NAME', ''),
            'user_table': User._meta.db_table, 'user_pk': User._meta.pk.column,
            'course_table': Course._meta.db_table, 'course_pk': Course._meta.pk.column,
            'course_name': Course._meta.get_field('name').column,
            'admins_table': admins.remote_field.through._meta.db_table,
            'admins_course': admins.m2m_column_name(), 'admins_user': admins.m2m_reverse_name(),
        }

    req = json.loads(os.environ['AGINSTALL_ADMIN'])
    mode = req.get('mode', 'check')
    email = req['email']
    name = req.get('course') or ''
    out = {'mode': mode, 'email': email, 'course': name,
           'user_created': False, 'user_promoted': False,
           'course_created': False, 'admin_added': False}

    pending = False
    if req.get('migrations'):
        from django.db import DEFAULT_DB_ALIAS, connections
        from django.db.migrations.executor import MigrationExecutor
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
        out['pending_migrations'] = pending
    if req.get('schema'):
        try:
            out['schema'] = aginstall_schema(User, Course)
        except Exception as e:  # the check goes on; Django is asked next time too
            out['schema_error'] = str(e)[:200]
    if pending and mode == 'check':
        try:
            User.objects.exists()
            Course.objects.exists()
        except Exception:
            out['tables_missing'] = True
            print('AGINSTALL_RESULT ' + json.dumps(out))
            return

    with transaction.atomic():
        user = User.objects.filter(username=email).first()
        course = Course.objects.filter(name=name).first() if name else None
        if mode == 'apply':
            if user is None:
                # No password: the site logs in through OAuth.
                user = User.objects.create_user(username=email, email=email,
                                                is_superuser=True, is_staff=True)
                out['user_created'] = True
            elif not user.is_superuser:
                # The admin the cluster file names is a superuser (as the
                # guide makes it): one demoted since, or made by hand
                # without it, is promoted.
                user.is_superuser = True
                user.is_staff = True
                user.save(update_fields=['is_superuser', 'is_staff'])
                out['user_promoted'] = True
            if name and course is None:
                make = getattr(Course.objects, 'validate_and_create', None) or Course.objects.create
                course = make(name=name)
                out['course_created'] = True
            if course is not None and not course.admins.filter(pk=user.pk).exists():
                course.admins.add(user)
                out['admin_added'] = True
        elif mode != 'check':
            raise ValueError('mode must be "apply" or "check", not %r' % (mode,))

    out['user_exists'] = user is not None
    out['is_superuser'] = bool(user is not None and user.is_superuser)
    out['is_staff'] = bool(user is not None and user.is_staff)
    out['course_exists'] = course is not None
    out['course_name'] = course.name if course is not None else None
    out['is_admin'] = bool(course is not None and user is not None
                           and course.admins.filter(pk=user.pk).exists())
    print('AGINSTALL_RESULT ' + json.dumps(out))


aginstall_admin_main()
