// Package ports picks and checks TCP ports on 127.0.0.1, where every server
// Nest starts on this machine listens.
package ports

import (
	"fmt"
	"net"
	"strconv"
)

// Free asks the kernel for a free port on 127.0.0.1.
func Free() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// IsFree reports whether port can be bound on 127.0.0.1.
func IsFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
