package edit_test

import (
	"fmt"

	"aginstall/steps/edit"
)

func ExampleConstantsTS() {
	src := []byte("export const MAX_COMMAND_TIMEOUT = 90;\n\nexport const SYSADMIN_CONTACT = 'your instructor or system administrator';\n")
	out, changes, err := edit.ConstantsTS(src, edit.Settings{MaxSubprocessTimeout: 300, SysadminContact: "O'Brien \\ help desk\n(room 42)"})
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	for _, c := range changes {
		fmt.Println(c.Line, c.What)
	}
	// Output:
	// export const MAX_COMMAND_TIMEOUT = 300;
	//
	// export const SYSADMIN_CONTACT = 'O\'Brien \\ help desk\n(room 42)';
	// 1 max command timeout
	// 3 sysadmin contact
}

func ExampleUnifiedDiff() {
	fmt.Print(edit.UnifiedDiff("autograder-server/_prod.env", []byte("A=1\nSITE_DOMAIN=autograder.io\n"), []byte("A=1\nSITE_DOMAIN=ag.example.edu\n")))
	// Output:
	// --- a/autograder-server/_prod.env
	// +++ b/autograder-server/_prod.env
	// @@ -1,2 +1,2 @@
	//  A=1
	// -SITE_DOMAIN=autograder.io
	// +SITE_DOMAIN=ag.example.edu
}
