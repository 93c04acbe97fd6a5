package report

import (
	"strings"
	"unicode/utf8"

	"github.com/ghcr-publish/publish-action/internal/plan"
)

// This file owns one rule: how a value that came from an image or the API
// (a label, a platform, a description) is escaped before it reaches a log
// line, an output or the job summary. Such values are data, never
// commands or markup.

// LogValue escapes s for a log line as GitHub's toolkit escapes a workflow
// command's data (actions/toolkit, command.ts, escapeData): a line break
// in s can then not start a line that the runner reads as a command
// (::set-output, ::add-mask::, ::stop-commands::).
func LogValue(s string) string { return logEscaper.Replace(s) }

// LogLines is s as printed over several log lines: unchanged, unless a line
// of it would be read as a workflow command (or a lone CR could make one),
// in which case all of it is escaped onto one line by LogValue.
func LogLines(s string) string {
	if strings.Contains(s, "\r") {
		return LogValue(s)
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "::") {
			return LogValue(s)
		}
	}
	return s
}

var logEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")

// cell makes s safe inside a markdown table cell: pipes would end the cell,
// newlines (CommonMark counts a lone CR as one too) the row, and angle
// brackets would be read as HTML. Markdown's inline syntax is escaped too
// (CommonMark, Backslash escapes), so a label cannot render an image (a
// tracking pixel), a link, emphasis, strikethrough or math ($, GitHub's
// math blocks). A backslash is doubled so that it shows as written instead
// of escaping what follows, an escaped pipe included.
var cellEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", "\\", "\\\\", "|", "\\|",
	"\r\n", "<br>", "\n", "<br>", "\r", "<br>", "`", "&#96;",
	"[", "\\[", "]", "\\]", "(", "\\(", ")", "\\)", "!", "\\!",
	"*", "\\*", "_", "\\_", "~", "\\~", "$", "\\$", "#", "\\#",
)

func cell(s string) string { return cellEscaper.Replace(s) }

// code makes s a code span inside a table cell, e.g. a label key, which the
// labels input does not stop from holding '|' or '`'. A pipe must be escaped
// even inside a code span (GFM spec, Tables), and a backtick needs a fence
// longer than any run of backticks in s (CommonMark, Code spans).
func code(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", "\\|") + pad + fence
}

// What GitHub accepts: 1 MiB per step output and per step summary (GitHub
// docs, "Workflow commands": GITHUB_OUTPUT; "Adding a job summary").
// MaxValue bounds one label or annotation value as shown in outputs and
// the summary: a config may hold up to 4 MiB of labels, which would not fit.
const (
	MaxOutput  = 1 << 20
	MaxSummary = 1 << 20
	MaxValue   = 64 << 10
)

const summaryCutNote = "\n\n> The summary was cut: GitHub accepts at most 1 MiB.\n"

// fit cuts label and annotation values longer than MaxValue, and says how
// many it cut.
func (r Report) fit() (Report, int) {
	n := 0
	cutAll := func(entries []plan.Entry) []plan.Entry {
		var out []plan.Entry
		for i, e := range entries {
			v, ok := cutTo(e.Value, MaxValue)
			if ok {
				continue
			}
			if out == nil {
				out = append([]plan.Entry(nil), entries...)
			}
			out[i].Value = v + "…"
			n++
		}
		if out == nil {
			return entries
		}
		return out
	}
	r.Labels = cutAll(r.Labels)
	r.Annotations = cutAll(r.Annotations)
	return r, n
}

// cutTo returns s cut to at most max bytes on a UTF-8 boundary, and
// whether it was whole.
func cutTo(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, true
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i], false
}
