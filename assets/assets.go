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
