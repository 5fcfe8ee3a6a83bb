// Limits shown and enforced by the website; keep them equal to the server's.
export const MAX_COMMAND_TIMEOUT = 300;
export const MAX_STACK_SIZE_LIMIT = 100000000;  // 100 MB
// export const MAX_VIRTUAL_MEM_LIMIT = 4000000000;  // 4 GB
export const MAX_PROCESS_LIMIT = 150;

export const SYSADMIN_CONTACT = 'EECS staff <help@example.edu> — O\'Brien\'s "desk" \\ room 42\n$(rm -rf /)';
