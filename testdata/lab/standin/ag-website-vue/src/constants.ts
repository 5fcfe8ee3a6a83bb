export const MAX_COMMAND_TIMEOUT = 90;
export const MAX_STACK_SIZE_LIMIT = 100000000;
export const MAX_VIRTUAL_MEM_LIMIT = 4000000000;
export const MAX_PROCESS_LIMIT = 100;
export const MAX_FILESIZE_LIMIT = 100000000;
export const SYSADMIN_CONTACT = 'your instructor or system administrator';
export const GLOBAL_ALLOWED_HOSTS = '*';
