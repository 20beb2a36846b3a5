package embedded

import "syscall"

func errAddrInUse() error { return syscall.EADDRINUSE }
