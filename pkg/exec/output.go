package exec

import (
	"bytes"
	"context"
	"os"
	osexec "os/exec"
)

// Output runs cmd to completion on this machine and returns its standard
// output; when it fails, the RunError holds its standard error.
func Output(ctx context.Context, cmd Command) ([]byte, error) {
	c := osexec.CommandContext(ctx, cmd.Path, cmd.Args...)
	c.Env = append(os.Environ(), cmd.Env...)
	c.Dir = cmd.Dir
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return out, &RunError{Command: cmd, Output: stderr.Bytes(), Err: err}
	}
	return out, nil
}
