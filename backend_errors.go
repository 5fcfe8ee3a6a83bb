package main

import "fmt"

func errNeedSudo(host string) error {
	return fmt.Errorf("%s needs a sudo password: enter it on the sudo screen (it is kept in memory only)", host)
}

func errUnknownStep(id string) error {
	return fmt.Errorf("%w: no step %q", errBadInput, id)
}
