package inputs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Transport says where a source image is read from, in skopeo's terms
// (containers-transports(5)).
type Transport string

const (
	OCILayout     Transport = "oci"
	OCIArchive    Transport = "oci-archive"
	DockerArchive Transport = "docker-archive"
	Registry      Transport = "docker"
	DockerDaemon  Transport = "docker-daemon"
)

// maxSourceLine bounds one source line: longer than any path or reference.
const maxSourceLine = 4096

// Source is one parsed line of the source input.
type Source struct {
	Line      string // as the user wrote it, for messages
	Transport Transport
	// Path is the absolute path of a layout or archive.
	Path string
	// Ref selects an image inside a layout or archive: the
	// org.opencontainers.image.ref.name of an OCI layout entry, or a
	// repo:tag of a docker-archive. Empty: the only image there.
	Ref string
	// Reference is the image to pull for the registry transport.
	Reference name.Reference
	// Daemon is the image's name[:tag] or sha256:ID in the Docker engine,
	// for the docker-daemon transport.
	Daemon string
}

// transports skopeo knows but this action does not read (yet), so that a line
// like "dir:out" fails clearly instead of being taken for an image on Docker Hub.
var otherTransports = map[string]string{
	"containers-storage": "is not supported; export the image with podman save and use oci-archive:FILE or docker-archive:FILE",
	"dir":                "is not supported; copy it to an OCI layout with skopeo copy dir:PATH oci:PATH and use oci:PATH",
	"ostree":             "is not supported; export the image as an OCI layout and use oci:PATH",
	"sif":                "is not supported; convert the image to an OCI layout and use oci:PATH",
	"tarball":            "is not supported; use oci-archive:FILE or docker-archive:FILE",
}

// maxSources bounds the images one run reads, past any index a registry
// serves: a long list or a digests: directory could otherwise start
// thousands of pulls.
const maxSources = 1024

// ParseSources parses the source input: one entry per line, or several on a
// line separated by spaces or commas (sourceEntries). image is the
// destination, which bare digests and digests:DIR resolve against (digest.go);
// relative paths resolve against workspace (GITHUB_WORKSPACE), and may not
// climb out of it. An entry that names an image already listed, as written
// or once resolved, counts once. Every bad entry is reported.
func ParseSources(v, workspace string, image name.Repository) ([]*Source, error) {
	var sources []*Source
	var errs []error
	seenEntry, seenSource := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(v, "\n") {
		for _, entry := range sourceEntries(strings.TrimSpace(l)) {
			if seenEntry[entry] {
				continue
			}
			seenEntry[entry] = true
			srcs, err := parseEntry(entry, workspace, image)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, src := range srcs {
				if !seenSource[src.Line] {
					seenSource[src.Line] = true
					sources = append(sources, src)
				}
			}
			if len(sources) > maxSources {
				return nil, errorf("source", "lists more than %d images; an index holds one per platform, so give the few that make it", maxSources)
			}
		}
	}
	if len(seenEntry) == 0 && strings.TrimSpace(v) != "" {
		return nil, errorf("source", "%q lists no image; give one per line, or leave source empty for metadata-only mode", truncate(v, 40))
	}
	return sources, errors.Join(errs...)
}

// sourceEntries splits a line of the source input into its entries. A line
// is a list, separated by spaces, tabs or commas, when none of its fields
// takes a path: references, digests and docker-daemon names hold neither
// spaces nor commas, but a path may (oci:my dir). A list is how docker
// buildx imagetools create takes its sources, and how Docker's matrix recipe
// writes them ($(printf 'IMAGE@sha256:%s ' *)).
func sourceEntries(line string) []string {
	fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
	for _, f := range fields {
		if transport, _, ok := strings.Cut(f, ":"); ok && takesPath[transport] {
			return []string{line}
		}
	}
	return fields
}

// takesPath are the transports whose entry continues with a path, which may
// hold spaces and commas; otherTransports are refused, but their line is
// still read whole, so that the error quotes all of it.
var takesPath = func() map[string]bool {
	m := map[string]bool{string(OCILayout): true, string(OCIArchive): true, string(DockerArchive): true, digestsTransport: true}
	for t := range otherTransports {
		m[t] = true
	}
	return m
}()

// parseEntry parses one entry of the source input: a digests: directory
// gives a source for each digest there, anything else one source.
func parseEntry(entry, workspace string, image name.Repository) ([]*Source, error) {
	if dir, ok := strings.CutPrefix(entry, digestsTransport+":"); ok {
		return parseDigestDir(entry, dir, workspace, image)
	}
	var src *Source
	var err error
	if looksLikeDigest(entry) {
		src, err = parseDigest(entry, image)
	} else {
		src, err = ParseSource(entry, workspace)
	}
	if err != nil {
		return nil, err
	}
	return []*Source{src}, nil
}

// ParseSource parses one entry that names one image by its transport or
// reference. The entries resolved against the destination (bare digests,
// digests:DIR) are ParseSources'.
func ParseSource(line, workspace string) (*Source, error) {
	if len(line) > maxSourceLine {
		return nil, errorf("source", "a line of %d bytes (%q) is too long; a source is at most %d bytes", len(line), truncate(line, 40), maxSourceLine)
	}
	// Messages quote the line shortened: it may be MiBs.
	shown := truncate(line, 80)
	if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, errorf("source", "%q contains control characters; give one source per line", shown)
	}
	transport, rest, hasTransport := strings.Cut(line, ":")
	switch Transport(transport) {
	case OCILayout, OCIArchive, DockerArchive:
		// containers/image splits path and reference at the first colon.
		path, ref, _ := strings.Cut(rest, ":")
		if path == "" {
			return nil, errorf("source", "%q names no path; write %s:PATH[:REF]", shown, transport)
		}
		abs, err := resolvePath(path, workspace)
		if err != nil {
			return nil, errorf("source", "%q: %v", shown, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, errorf("source", "%q: %s does not exist; build the image first or fix the path (relative paths start at the workspace)", shown, truncate(abs, 120))
		}
		return &Source{Line: line, Transport: Transport(transport), Path: abs, Ref: ref}, nil
	case DockerDaemon:
		return parseDaemon(line, rest)
	case Registry:
		ref, ok := strings.CutPrefix(rest, "//")
		if !ok {
			return nil, errorf("source", "%q: the docker transport takes docker://REFERENCE", shown)
		}
		return parseRegistry(line, ref)
	}
	if msg, known := otherTransports[transport]; hasTransport && known {
		return nil, errorf("source", "%q: transport %s: %s", shown, transport, msg)
	}
	if hasTransport && (strings.HasPrefix(rest, "//") || !looksLikeImage(line)) {
		return nil, errorf("source", "%q: unknown transport %q; use oci:DIR, oci-archive:FILE, docker-archive:FILE, docker://REF or a registry reference", shown, truncate(transport, 40))
	}
	return parseRegistry(line, line)
}

// looksLikeImage tells a registry reference such as alpine:3.20 or
// localhost:5000/app apart from an unknown transport such as foo:bar/baz.
func looksLikeImage(line string) bool {
	// Lower-cased: an upper-case name is still a reference, with an error
	// of its own.
	_, err := name.ParseReference(strings.ToLower(line))
	if err != nil {
		return false
	}
	// "word:rest" with no slash is a repository and a tag; with a slash the
	// part before it must be a registry host (a host:port).
	_, _, hasHost := cutRegistryHost(line)
	return !strings.Contains(line, "/") || hasHost
}

// parseDaemon reads docker-daemon:NAME[:TAG] or docker-daemon:sha256:ID, as
// skopeo does.
func parseDaemon(line, ref string) (*Source, error) {
	if id, ok := strings.CutPrefix(ref, "sha256:"); ok && sha256Hex.MatchString(id) {
		return &Source{Line: line, Transport: DockerDaemon, Daemon: ref}, nil
	}
	r, err := name.ParseReference(ref)
	if err != nil || ref == "" {
		return nil, errorf("source", "%q: give docker-daemon:NAME[:TAG] or docker-daemon:sha256:ID, as docker images lists them", truncate(line, 80))
	}
	if _, isDigest := r.(name.Digest); isDigest {
		return nil, errorf("source", "%q: the Docker engine exports by name or image ID, not by registry digest; give NAME[:TAG] or sha256:ID", truncate(line, 80))
	}
	return &Source{Line: line, Transport: DockerDaemon, Daemon: ref}, nil
}

func parseRegistry(line, ref string) (*Source, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		// go-containerregistry's messages repeat the reference in full.
		shown := truncate(line, 80)
		if lower := strings.ToLower(ref); lower != ref {
			if _, lerr := name.ParseReference(lower); lerr == nil {
				return nil, errorf("source", "%q has upper-case letters in the repository name; use %q", shown, truncate(lower, 80))
			}
		}
		return nil, errorf("source", "%q is not a valid image reference (REGISTRY/REPOSITORY[:TAG|@DIGEST]): %s", shown, truncate(err.Error(), 120))
	}
	return &Source{Line: line, Transport: Registry, Reference: r}, nil
}

// resolvePath makes path absolute. A relative path must stay inside the
// workspace: "../../etc" in a workflow is a mistake or an attack.
func resolvePath(path, workspace string) (string, error) {
	if filepath.IsAbs(path) {
		return filepath.Clean(path), nil
	}
	if workspace == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("resolving %s: %w", truncate(path, 80), err)
		}
		workspace = wd
	}
	clean := filepath.Clean(path)
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("relative path %s leaves the workspace; give a path inside it, or an absolute path", truncate(path, 80))
	}
	return filepath.Join(workspace, clean), nil
}
