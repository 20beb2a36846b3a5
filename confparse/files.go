package confparse

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Limits on what Load-time reading accepts. Every limit is checked on the
// open file's fstat before a byte is read, and again while reading.
const (
	// MaxFileSize caps a factories.conf (ParseFile and Parse).
	MaxFileSize int64 = 4 << 20
	// MaxPasscodeFileSize caps a passcode_file.
	MaxPasscodeFileSize int64 = 64 << 10
	// MaxPEMFileSize caps each ssl_trusted, ssl_issuer, ssl_identity and
	// ssl_private_key file.
	MaxPEMFileSize int64 = 1 << 20
)

// Errors wrapped by a refused file; test with errors.Is.
var (
	// ErrNotRegularFile: the path is a directory, a named pipe, a device,
	// a socket, or a pseudo file (under /proc, /sys or /dev, or a file
	// that reads more bytes than its size says).
	ErrNotRegularFile = errors.New("not a regular file")
	// ErrFileTooLarge: the file is over its stated limit.
	ErrFileTooLarge = errors.New("file too large")
)

// pseudoRoots hold files that are not what they seem: sizes of 0 that
// read data (/proc/self/environ), endless devices (/dev/zero).
var pseudoRoots = []string{"/proc", "/sys", "/dev"}

func isPseudoPath(abs string) bool {
	for _, r := range pseudoRoots {
		if abs == r || strings.HasPrefix(abs, r+"/") {
			return true
		}
	}
	return false
}

// readRegularFile reads a whole regular file of at most limit bytes
// without ever blocking on it: it is opened non-blocking (a named pipe
// with no writer opens at once), fstat'ed, and refused unless it is a
// regular file within the limit; then at most its stated size is read.
//
// With confined set, symlinks are followed only while they stay inside
// the directory that holds path (os.Root): a Kubernetes secret mount
// (pw -> ..data/pw) works, a link to /etc/shadow does not.
//
// Errors name the path and the limit, never the content.
func readRegularFile(path string, limit int64, confined bool) ([]byte, error) {
	if len(path) > maxPathLength {
		return nil, &os.PathError{Op: "open", Path: clipName(path), Err: fmt.Errorf("path longer than %d bytes", maxPathLength)}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	refuse := func(err error, format string, args ...any) error {
		return &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: "+format, append([]any{err}, args...)...)}
	}
	if isPseudoPath(abs) {
		return nil, refuse(ErrNotRegularFile, "files under %s are refused", strings.Join(pseudoRoots, ", "))
	}
	var f *os.File
	if confined {
		dir, name := filepath.Split(abs)
		if real, err := filepath.EvalSymlinks(dir); err == nil && isPseudoPath(real) {
			return nil, refuse(ErrNotRegularFile, "files under %s are refused", strings.Join(pseudoRoots, ", "))
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, fixPath(err, path)
		}
		defer root.Close()
		f, err = root.OpenFile(name, os.O_RDONLY|openNonBlocking, 0)
		if err != nil {
			if pe := (*os.PathError)(nil); errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
				// os.Root's refusal of a link that leaves the directory.
				return nil, &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (a symlink is followed only when it is relative and its target stays inside the directory holding it)", pe.Err)}
			}
			return nil, fixPath(err, path)
		}
	} else {
		f, err = os.OpenFile(abs, os.O_RDONLY|openNonBlocking, 0)
		if err != nil {
			return nil, fixPath(err, path)
		}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, refuse(ErrNotRegularFile, "it is %s", fileKind(st.Mode()))
	}
	if st.Size() > limit {
		return nil, refuse(ErrFileTooLarge, "%d bytes, more than the limit of %s", st.Size(), sizeString(limit))
	}
	// Read one byte more than the stated size: a file that yields more
	// is a pseudo file (or is being rewritten) and is refused.
	data, err := io.ReadAll(io.LimitReader(f, st.Size()+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > st.Size() {
		return nil, refuse(ErrNotRegularFile, "it reads more than its size of %d bytes (a pseudo file, or a file being written)", st.Size())
	}
	return data, nil
}

// fixPath puts the path as written in a *PathError from os.Root.
func fixPath(err error, path string) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return &os.PathError{Op: strings.TrimSuffix(pe.Op, "at"), Path: path, Err: pe.Err}
	}
	return err
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file (mode " + m.String() + ")"
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
