package sequential_test

import (
	"fmt"
	"time"

	"github.com/stompft/stompft/sequential"
)

func Example() {
	l, err := sequential.Parse("tcp://primary:7222, tcp://backup:7222, tcp://7224")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("list:", l)

	w := sequential.NewWalker(l, sequential.WalkOptions{})
	first := w.Pass(nil)
	fmt.Println("connect:", first)
	lost := first[0]
	fmt.Println("lost primary:", w.Pass(&lost))

	_, err = sequential.Parse("tcp://primary:7222,ssl://backup:7243")
	fmt.Println(err)
	// Output:
	// list: tcp://primary:7222,tcp://backup:7222,tcp://localhost:7224
	// connect: [tcp://primary:7222 tcp://backup:7222 tcp://localhost:7224]
	// lost primary: [tcp://backup:7222 tcp://localhost:7224 tcp://primary:7222]
	// url list: element "ssl://backup:7243" at offset 19: scheme "ssl" differs from the list's scheme "tcp" (tcp and ssl cannot be mixed)
}

// Load balancing: the group with fewer live connections from this process
// is chosen, and the other group follows in the same pass.
func ExampleWalker_Pass_groups() {
	l, _ := sequential.Parse("tcp://a1:7222,tcp://a2:7222|tcp://b1:7222,tcp://b2:7222")
	tr := sequential.NewTracker(time.Now)
	release := tr.Connected(sequential.Endpoint{Scheme: "tcp", Host: "a1", Port: 7222})
	defer release()

	w := sequential.NewWalker(l, sequential.WalkOptions{Tracker: tr})
	fmt.Println(w.Pass(nil))
	// Output:
	// [tcp://b1:7222 tcp://b2:7222 tcp://a1:7222 tcp://a2:7222]
}

func ExampleParseError() {
	_, err := sequential.Parse("tcp://a:7222,tcp://admin:s3cret@b:7222")
	fmt.Println(err)
	// Output:
	// url list: element "tcp://******@b:7222" at offset 13: user information (user:password@) is not allowed in a URL; give credentials in the factory instead
}
