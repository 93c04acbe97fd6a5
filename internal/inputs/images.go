package inputs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/credentials"
)

// imageEntry is one entry of the images input: a repository name, and
// whether it is published to.
type imageEntry struct {
	where  string // "line N" or "entry N", for errors
	text   string // the entry as written
	name   string
	enable bool
}

// parseImages reads the images input in docker/metadata-action's syntax
// (src/image.ts): one entry per line, or, on a single line with no '=',
// names separated by commas; an entry is a name, or name=NAME, with an
// optional enable=true|false (the runner has already expanded any ${{ }}
// in it). Lines starting with # are comments. Entries with enable=false are
// dropped; the others are the destinations, in order, lower-cased as
// metadata-action lower-cases them. Unlike metadata-action (and unlike the
// image input), a name must say its registry: a bare OWNER/NAME meant
// Docker Hub there and means GitHub's registry in image, so here it is
// refused rather than guessed. firstLowercased says the first destination
// had to be lower-cased. Every bad entry is its own *Error.
func parseImages(v string, ctx Context) (repos []name.Repository, firstLowercased bool, err error) {
	entries, errs := imageEntries(v)
	seen := map[string]string{} // repository → where it was first named
	enabled := 0
	for _, e := range entries {
		if !e.enable {
			continue
		}
		enabled++
		repo, lowercased, err := parseImageName(e, ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key := credentials.RegistryName(repo.RegistryStr()) + "/" + repo.RepositoryStr()
		if first, dup := seen[key]; dup {
			errs = append(errs, errorf("images", "%s %q names %s, as %s does; list each destination once (docker.io, index.docker.io and registry-1.docker.io are one registry, and docker.io/NAME is docker.io/library/NAME)", e.where, truncate(e.text, 60), truncate(key, 80), first))
			continue
		}
		seen[key] = e.where
		if len(repos) == 0 {
			firstLowercased = lowercased
		}
		repos = append(repos, repo)
	}
	if len(errs) == 0 && len(entries) > 0 && enabled == 0 {
		errs = append(errs, errorf("images", "every entry has enable=false, so there is nowhere to publish; enable one, or set push: false"))
	}
	return repos, firstLowercased, errors.Join(errs...)
}

// imageEntries splits the images input into entries, as metadata-action's
// Transform does: a single line whose comma-separated fields hold no '=' is
// a list of names (its older format); otherwise each line is one entry.
func imageEntries(v string) ([]imageEntry, []error) {
	type line struct {
		n    int
		text string
	}
	var lines []line
	for i, l := range strings.Split(v, "\n") {
		// getInputList with comment: '#', commentNoInfix: a line that
		// starts with # is a comment, a # inside one is kept.
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, line{i + 1, l})
		}
	}
	var entries []imageEntry
	var errs []error
	if len(lines) == 1 && !strings.Contains(lines[0].text, "=") {
		for i, field := range strings.Split(lines[0].text, ",") {
			e := imageEntry{where: fmt.Sprintf("entry %d", i+1), text: strings.TrimSpace(field), enable: true}
			e.name = e.text
			if e.name == "" {
				errs = append(errs, errorf("images", "%s of %q is empty; separate names with one comma, or write one per line", e.where, truncate(lines[0].text, 80)))
				continue
			}
			entries = append(entries, e)
		}
		return entries, errs
	}
	for _, l := range lines {
		e, err := parseImageEntry(fmt.Sprintf("line %d", l.n), l.text)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		entries = append(entries, e)
	}
	return entries, errs
}

// parseImageEntry reads one entry: comma-separated fields, each a name or
// key=value with key name or enable (case-insensitive, as metadata-action
// lower-cases keys).
func parseImageEntry(where, text string) (imageEntry, error) {
	e := imageEntry{where: where, text: text, enable: true}
	for _, field := range strings.Split(text, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			key, value = "name", key
		}
		key, value = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(value)
		switch key {
		case "name":
			if value == "" {
				return e, errorf("images", "%s %q has an empty name or field; give the repository, e.g. docker.io/OWNER/NAME or name=ghcr.io/OWNER/NAME,enable=true", where, truncate(text, 80))
			}
			if e.name != "" {
				return e, errorf("images", "%s %q names two images; write one destination per line", where, truncate(text, 80))
			}
			e.name = value
		case "enable":
			switch strings.ToLower(value) {
			case "true":
			case "false":
				e.enable = false
			default:
				return e, errorf("images", "%s: enable=%q is not true or false; an expression in ${{ }} must give one of them", where, truncate(value, 40))
			}
		default:
			return e, errorf("images", "%s: unknown key %q; an entry takes name= and enable= only (the repository may also stand alone)", where, truncate(key, 40))
		}
	}
	if e.name == "" {
		return e, errorf("images", "%s %q names no image; give the repository, e.g. name=docker.io/OWNER/NAME,enable=true", where, truncate(text, 80))
	}
	return e, nil
}

// parseImageName checks an entry's name as the image input's is checked,
// after its registry: one must be given, and Docker Hub's names become
// docker.io, so that go-containerregistry names Docker Hub one way
// (index.docker.io, library/ for an official image) whichever was written;
// an error then quotes the name so rewritten.
func parseImageName(e imageEntry, ctx Context) (name.Repository, bool, error) {
	host, rest, ok := cutRegistryHost(e.name)
	if !ok {
		n := truncate(e.name, 40)
		return name.Repository{}, false, errorf("images", "%s %q names no registry; write docker.io/%s for Docker Hub or %s/%s for GitHub's registry (docker/metadata-action read a bare name as Docker Hub, this action's image reads it as GitHub's, so images asks)", e.where, n, n, ctx.Registry(), n)
	}
	// Host names are case-insensitive (RFC 4343); metadata-action
	// lower-cases the whole name.
	host = strings.ToLower(host)
	if credentials.IsDockerHub(host) {
		// An official image's repository is library/NAME (Docker docs,
		// "Docker Official Images"); go-containerregistry's strict
		// validation wants it written out.
		host = "docker.io"
		if !strings.Contains(rest, "/") {
			rest = "library/" + rest
		}
	}
	repo, lowercased, err := parseRepository("images", host+"/"+rest, ctx)
	if err != nil {
		var ie *Error
		if errors.As(err, &ie) {
			ie.Msg = e.where + ": " + ie.Msg
		}
		return name.Repository{}, false, err
	}
	return repo, lowercased, nil
}
