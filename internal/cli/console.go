package cli

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"sync"
)

// Console turns the workflow commands the action prints
// (::warning::, ::group::, …) into plain lines for a terminal or another
// CI system's log. ::add-mask:: lines are dropped, and what they register is
// masked in every later line as the runner would: outside Actions nobody
// else hides it.
func Console(w io.Writer) io.Writer {
	return &console{w: w}
}

type console struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	masks []string
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
		if v, ok := strings.CutPrefix(line, "::add-mask::"); ok {
			if v = unescape(v); v != "" {
				c.masks = append(c.masks, v)
			}
			continue
		}
		if out, keep := plain(line); keep {
			out = c.mask(out)
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

// mask replaces every registered value in s with ***, longest first, so a
// value that contains another is masked whole.
func (c *console) mask(s string) string {
	masks := slices.Clone(c.masks)
	slices.SortFunc(masks, func(a, b string) int { return len(b) - len(a) })
	for _, m := range masks {
		s = strings.ReplaceAll(s, m, "***")
	}
	return s
}
