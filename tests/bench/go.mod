// The bench program lives in its own module so that its plotting
// dependencies (gonum.org/v1/plot and what it pulls) never enter the module
// graph of an application that uses the library. It builds against the
// library in this repository (replace below); go.work at the root lets
// `go run ./tests/bench` work from there.
module github.com/stompft/stompft/tests/bench

go 1.26.8

require (
	github.com/go-stomp/stomp/v3 v3.1.5
	github.com/stompft/stompft v0.0.0-00010101000000-000000000000
	gonum.org/v1/plot v0.17.0
)

require (
	codeberg.org/go-fonts/liberation v0.5.0 // indirect
	codeberg.org/go-latex/latex v0.2.0 // indirect
	codeberg.org/go-pdf/fpdf v0.11.1 // indirect
	git.sr.ht/~sbinet/gg v0.7.0 // indirect
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/ajstarks/svgo v0.0.0-20211024235047-1546f124cd8b // indirect
	github.com/fsnotify/fsnotify v1.10.1 // indirect
	github.com/golang/freetype v0.0.0-20170609003504-e2365dfdc4a0 // indirect
	github.com/sirupsen/logrus v1.10.2 // indirect
	golang.org/x/image v0.30.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)

replace github.com/stompft/stompft => ../..
