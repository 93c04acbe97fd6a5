package cli

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Console turns the workflow commands the action prints
// (::warning::, ::group::, …) into plain lines for a terminal or another
// CI system's log. ::add-mask:: lines are dropped: outside Actions nobody
// would hide what follows, so they would only print the secret.
func Console(w io.Writer) io.Writer {
	return &console{w: w}
}

type console struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(c.buf[:i])
		c.buf = c.buf[i+1:]
		if out, keep := plain(line); keep {
			if _, err := io.WriteString(c.w, out+"\n"); err != nil {
				return len(p), err
			}
		}
	}
}

// plain renders one line; keep is false for lines that must not show.
func plain(line string) (out string, keep bool) {
	rest, ok := strings.CutPrefix(line, "::")
	if !ok {
		return line, true
	}
	cmd, msg, ok := strings.Cut(rest, "::")
	if !ok {
		return line, true
	}
	// Properties such as title= are dropped: every message names the input
	// at fault already.
	name, _, _ := strings.Cut(cmd, " ")
	msg = unescape(msg)
	switch name {
	case "add-mask", "endgroup", "debug":
		return "", false
	case "group":
		return "== " + msg, true
	case "error", "warning", "notice":
		return name + ": " + msg, true
	}
	return line, true
}

// unescape undoes the workflow-command escaping (actions/toolkit,
// command.ts: escapeData and escapeProperty).
func unescape(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%").Replace(s)
}
