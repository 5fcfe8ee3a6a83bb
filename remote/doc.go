// Package remote is aginstall's SSH layer: one connection per host per run
// (Pool), commands streamed line by line (Conn.Run), sudo with a password
// asked once, atomic file writes, and the Docker API over the same
// connection (Conn.Docker).
//
// What it promises a sysadmin, and the tests check against real OpenSSH:
//   - Authentication like ssh(1): the cluster file's identity, else
//     ssh_config's IdentityFile or the default keys, plus ssh-agent; an
//     encrypted key asks its passphrase once, only when a server accepts it.
//     ssh_config Host aliases, HostName, Port, User, ProxyJump and
//     UserKnownHostsFile are honoured; cluster-file values win.
//   - Host keys are always checked: known_hosts and the cluster file's pins.
//     Unknown keys are gathered by ScanHostKeys for one confirmation and
//     written by AcceptHostKeys as OpenSSH writes them; a changed key is
//     refused (HostKeyChangedError) unless the operator re-pins it.
//   - Cancelling a command's context kills its whole process group on the
//     host (sshd makes each session a process group; the shell prints its
//     PID first, on stderr, and Run strips that line).
//   - The sudo password travels only on sudo's stdin (sudo -k -S, empty prompt),
//     never in argv, errors or logs; a wrong one fails at once.
//
// Commands run under the user's login shell, which must be POSIX-like
// (sh, bash, dash, zsh, ksh); sudo commands run under sh -c as root.
package remote
