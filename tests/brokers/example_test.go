package brokers_test

import (
	"fmt"
	"strings"

	"github.com/stompft/stompft/tests/brokers"
)

// ParseEnv reads the file up.sh writes; tests normally call Require, which
// loads it for them.
func ExampleParseEnv() {
	file := `# Written by tests/brokers/up.sh
export STOMPFT_AMQ_PAIR="127.0.0.1:61713,127.0.0.1:61714"
export STOMPFT_RABBIT1="127.0.0.1:61733"
`
	e, err := brokers.ParseEnv(strings.NewReader(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.PairAddrs())
	fmt.Println(e.Addr(brokers.Rabbit1))
	// Output:
	// [127.0.0.1:61713 127.0.0.1:61714]
	// 127.0.0.1:61733
}
