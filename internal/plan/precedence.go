package plan

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// An image built FROM another project's image carries that project's
// labels. Which of the image's values stand against the run's is decided
// here, by who wrote them:
//
//   - revision, created and version describe this build: the run's values
//     always win, as docker/metadata-action with build-push-action does.
//   - source, url, title, description and licenses describe the project:
//     the image's own value (a Dockerfile LABEL) wins over a derived one,
//     unless the image's values look inherited, which they do when the
//     image's source names another repository than the run's. Inherited
//     values are replaced by the run's, or dropped when the run has none,
//     with a warning.
//   - an input always wins.

// runOwned are the keys whose values describe this build.
var runOwned = map[string]bool{
	specs.AnnotationRevision: true,
	specs.AnnotationCreated:  true,
	specs.AnnotationVersion:  true,
}

// projectOwned are the keys whose values describe the project.
var projectOwned = map[string]bool{
	specs.AnnotationSource:      true,
	specs.AnnotationURL:         true,
	specs.AnnotationTitle:       true,
	specs.AnnotationDescription: true,
	specs.AnnotationLicenses:    true,
}

// Inherited reports whether image's labels (or annotations) look inherited
// from a base image: their source names another repository than the one
// this run publishes from. Outside a workflow nothing looks inherited.
func (p Plan) Inherited(image map[string]string) bool {
	src := image[specs.AnnotationSource]
	return src != "" && p.Repository != "" && repoKey(src) != repoKey(p.Repository)
}

// KeepsImageValue reports whether the value imageValue the image carries
// for e.Key stays, rather than the plan's e.
func (p Plan) KeepsImageValue(e Entry, imageValue string, image map[string]string) bool {
	if imageValue == "" || imageValue == e.Value || e.Origin.Explicit() || runOwned[e.Key] {
		return false
	}
	return !p.Inherited(image)
}

// DropsInherited reports whether key, which the plan gives no value, is to
// be removed from an image whose values look inherited.
func (p Plan) DropsInherited(key string, image map[string]string) bool {
	return (runOwned[key] || projectOwned[key]) && p.Inherited(image)
}

// InheritedWarning says what was done about an image's inherited values.
func (p Plan) InheritedWarning(image map[string]string, replaced []string) string {
	return fmt.Sprintf("the image's labels name another repository (source %s), so they were inherited from a base image: this run's values replace %s (set labels to keep one)", image[specs.AnnotationSource], strings.Join(replaced, ", "))
}

// repoKey reduces a repository address to host/owner/repo, lower-cased:
// https://github.com/Acme/Widget, …/Widget.git, git@github.com:Acme/Widget
// and github.com/acme/widget/ are one repository.
func repoKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	scp := false
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	} else {
		// git@github.com:Acme/Widget (scp-like syntax)
		scp = strings.Contains(s, "@")
	}
	host, path, _ := strings.Cut(s, "/")
	if scp {
		host, path, _ = strings.Cut(s, ":")
	}
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	parts := strings.Split(strings.TrimSuffix(strings.TrimSuffix(path, "/"), ".git"), "/")
	if len(parts) > 2 {
		// …/tree/main and similar point into the same repository.
		parts = parts[:2]
	}
	return host + "/" + strings.TrimSuffix(strings.Join(parts, "/"), ".git")
}
