package assets

import _ "embed"

// CreateAdminScript makes the first superuser and course in the django
// container (`python3 manage.py shell -c`); its input is JSON in the
// AGINSTALL_ADMIN environment variable, never Python source. See the file.
//
//go:embed create_admin.py
var CreateAdminScript string
