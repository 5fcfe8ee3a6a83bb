// Package assets holds the files aginstall sends to hosts, embedded in the
// binary so that nothing has to be installed on a host beforehand.
package assets

import _ "embed"

// DiscoverScript is the read-only POSIX sh script the discover step sends on
// stdin to `sh -s` on every host: one round trip gathers every fact, printed
// as key=value lines (keys may repeat for lists). Inputs come as environment
// variables: AG_PEER (an address of the manager, to find the source address
// this host reaches it from) and AG_SRC (the source path, for free space).
//
//go:embed discover.sh
var DiscoverScript string

// SwarmPortsListen is the manager's side of the swarm port probe (python3,
// run as `python3 - SECONDS HOST...`): it listens on 2377/tcp, 7946/tcp+udp
// and 4789/udp and prints bound=, busy= and got=PROTO/PORT HOST lines.
//
//go:embed swarmports_listen.py
var SwarmPortsListen string

// SwarmPortsSend is the other hosts' side (`python3 - MANAGER HOST SECONDS`):
// it connects and sends datagrams naming the host, and prints tcp/PORT=ok|fail.
//
//go:embed swarmports_send.py
var SwarmPortsSend string
