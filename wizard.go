package main

import (
	"context"
	"fmt"
)

func cmdWizard(ctx context.Context, o *options) error {
	if !isTerminal() {
		return fmt.Errorf("%w: the wizard needs a terminal; without one use `aginstall plan`, `apply --yes` or `review`", errBadInput)
	}
	return fmt.Errorf("the wizard is not built yet in this version; use plan, apply and review")
}
