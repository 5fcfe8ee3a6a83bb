import enum

MAX_CHAR_FIELD_LEN = 255

# Output longer than this is truncated.
MAX_OUTPUT_LENGTH = 8 * 10 ** 6

# The subdirectory of MEDIA_ROOT that holds courses.
FILESYSTEM_ROOT_COURSES_DIRNAME = 'courses'

MAX_COMMAND_LENGTH = 1000

# Sandbox resource limit settings
DEFAULT_SUBPROCESS_TIMEOUT = 10
MAX_SUBPROCESS_TIMEOUT = 300

# MAX_SUBPROCESS_TIMEOUT = 30  (an old value, kept as a comment: not a target)
DEFAULT_STACK_SIZE_LIMIT = 10000000  # 10 MB
MAX_STACK_SIZE_LIMIT = 100000000  # 100 MB

DEFAULT_PROCESS_LIMIT = 0
MAX_PROCESS_LIMIT = 150


class SupportedImages(enum.Enum):
    default = 'default'
