package githubtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// Content is a registry repository's content, which a package's versions
// mirror: *registrytest.Registry is one.
type Content interface {
	Manifests(ctx context.Context, repo string) ([]registrytest.Manifest, error)
	DeleteManifest(ctx context.Context, repo, digest string) error
}

// Package serves a container package's versions endpoints from a registry
// repository's real content:
//
//	GET    /{orgs|users}/{owner}/packages/container/{name}/versions[?page=&per_page=]
//	GET    /{orgs|users}/{owner}/packages/container/{name}/versions/{id}
//	DELETE /{orgs|users}/{owner}/packages/container/{name}/versions/{id}
//
// Every manifest the repository holds is a version, with the tags pointing
// at it; a version's id is given the first time it is seen and its
// created_at is when the registry stored the manifest. DELETE removes the
// manifest and its tags from the registry, and refuses as GitHub does.
type Package struct {
	Org   bool   // under /orgs/ rather than /users/
	Owner string // e.g. "acme"
	Name  string // e.g. "widget" or "widget/sub" (escaped as widget%2Fsub in paths)
	// Repository is the registry repository, e.g. "acme/widget".
	Repository string
	Content    Content
	// PageSize caps per_page, to force pagination; zero means GitHub's
	// limits (default 30, at most 100).
	PageSize int
	// NotAdmin makes every DELETE answer as GitHub does for a token whose
	// repository lacks the Admin role on the package: 404 "Package not
	// found." (reported: canonical/authd#1376, actions/delete-package-versions).
	NotAdmin bool
	// Public and Downloads: a public version downloaded more than 5,000
	// times cannot be deleted (400). Downloads is by digest.
	Public    bool
	Downloads map[string]int
	// DeleteLimit, when positive, is how many deletes succeed before every
	// further DELETE gets GitHub's secondary rate limit answer (403).
	DeleteLimit int

	// Hostile listings, for code that must not trust one.

	// NoCreatedAt leaves created_at (and updated_at) out of every version.
	NoCreatedAt bool
	// NextHost, when set, puts every rel="next" link on this host
	// (HOST:PORT) instead of the API's: a listing that would take the
	// token elsewhere.
	NextHost string
	// Loop makes the last page link onward instead of ending.
	Loop Loop
}

// Loop is how a hostile listing's last page links onward.
type Loop int

const (
	// NoLoop: the last page has no rel="next", as on GitHub.
	NoLoop Loop = iota
	// LoopToFirst: the last page's rel="next" is page=1: a URL not
	// requested before (the first request names no page), the first
	// page's content.
	LoopToFirst
	// LoopToSelf: the last page's rel="next" is the last page itself.
	LoopToSelf
)

// Lag is how a package's listing lags its registry, as ghcr.io's
// eventually consistent listing does (GHCR.md: a tag just written may not
// be listed yet).
type Lag struct {
	// Tags: every version's tags are listed as they were when the lag
	// began; a version stored since has none.
	Tags bool
	// Versions: versions stored since the lag began are not listed, nor
	// found by id.
	Versions bool
}

// PackageVersion is a version as the fake lists it.
type PackageVersion struct {
	ID      int64
	Digest  string
	Tags    []string
	Created time.Time
}

// served is one package's state: the ids given so far.
type served struct {
	Package
	mu      sync.Mutex
	ids     map[string]int64     // digest → id
	created map[string]time.Time // digest → created_at
	nextID  int64
	deletes int
	// lag and lagged (digest → tags then) are set by LagPackage.
	lag    Lag
	lagged map[string][]string
}

// ServePackage starts serving p's versions. It panics if p is served already.
func (a *API) ServePackage(p Package) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.packages == nil {
		a.packages = map[string]*served{}
	}
	key := packageKey(p.Org, p.Owner, url.PathEscape(p.Name))
	if a.packages[key] != nil {
		panic("githubtest: package served twice: " + key)
	}
	a.packages[key] = &served{Package: p, ids: map[string]int64{}, created: map[string]time.Time{}, nextID: 81000001}
}

// AgePackage makes every version the package holds now d older, as if it
// had been pushed d earlier; versions stored later are not affected.
func (a *API) AgePackage(org bool, owner, name string, d time.Duration) error {
	s := a.servedPackage(org, owner, url.PathEscape(name))
	if s == nil {
		return fmt.Errorf("githubtest: package %s not served", name)
	}
	if _, err := s.sync(context.Background()); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for dg, c := range s.created {
		s.created[dg] = c.Add(-d)
	}
	return nil
}

// LagPackage makes the package's listing lag its registry from now on (see
// Lag); a zero Lag ends it.
func (a *API) LagPackage(org bool, owner, name string, l Lag) error {
	s := a.servedPackage(org, owner, url.PathEscape(name))
	if s == nil {
		return fmt.Errorf("githubtest: package %s not served", name)
	}
	vs, err := s.sync(context.Background())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag, s.lagged = l, map[string][]string{}
	for _, v := range vs {
		s.lagged[v.Digest] = v.Tags
	}
	return nil
}

// PackageVersions lists the versions of a served package as the API would
// now, newest first.
func (a *API) PackageVersions(org bool, owner, name string) ([]PackageVersion, error) {
	s := a.servedPackage(org, owner, url.PathEscape(name))
	if s == nil {
		return nil, fmt.Errorf("githubtest: package %s not served", name)
	}
	return s.sync(context.Background())
}

// OnRequest sets a function called with every request before it is served
// (outside any lock, so it may use the registry or the API), for tests that
// change the world at an exact point of a conversation: a tag pushed just
// before a version is read, say. nil removes it.
func (a *API) OnRequest(f func(Request)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hook = f
}

func packageKey(org bool, owner, escapedName string) string {
	kind := "users"
	if org {
		kind = "orgs"
	}
	return strings.ToLower(kind + "/" + owner + "/" + escapedName)
}

func (a *API) servedPackage(org bool, owner, escapedName string) *served {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.packages[packageKey(org, owner, escapedName)]
}

// sync reads the registry and returns the versions, newest first, giving
// ids to new manifests (oldest first, then by digest, so ids are
// deterministic) and forgetting deleted ones.
func (s *served) sync(ctx context.Context) ([]PackageVersion, error) {
	ms, err := s.Content.Manifests(ctx, s.Repository)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	present := map[string]bool{}
	var fresh []registrytest.Manifest
	for _, m := range ms {
		present[m.Digest] = true
		if _, ok := s.ids[m.Digest]; !ok {
			fresh = append(fresh, m)
		}
	}
	for dg := range s.ids {
		if !present[dg] {
			delete(s.ids, dg)
			delete(s.created, dg)
		}
	}
	slices.SortStableFunc(fresh, func(x, y registrytest.Manifest) int { return x.Stored.Compare(y.Stored) })
	for _, m := range fresh {
		s.ids[m.Digest] = s.nextID
		s.created[m.Digest] = m.Stored.UTC().Truncate(time.Second)
		s.nextID++
	}
	out := make([]PackageVersion, 0, len(ms))
	for _, m := range ms {
		then, seen := s.lagged[m.Digest]
		if s.lag.Versions && !seen {
			continue
		}
		if s.lag.Tags {
			m.Tags = then
		}
		out = append(out, PackageVersion{ID: s.ids[m.Digest], Digest: m.Digest, Tags: m.Tags, Created: s.created[m.Digest]})
	}
	slices.SortFunc(out, func(x, y PackageVersion) int {
		if c := y.Created.Compare(x.Created); c != 0 {
			return c
		}
		return int(y.ID - x.ID)
	})
	return out, nil
}

// versionJSON is a container package version as GitHub serializes it.
type versionJSON struct {
	ID             int64      `json:"id"`
	Name           string     `json:"name"`
	URL            string     `json:"url"`
	PackageHTMLURL string     `json:"package_html_url"`
	CreatedAt      *time.Time `json:"created_at,omitempty"`
	UpdatedAt      *time.Time `json:"updated_at,omitempty"`
	HTMLURL        string     `json:"html_url"`
	Metadata       struct {
		PackageType string `json:"package_type"`
		Container   struct {
			Tags []string `json:"tags"`
		} `json:"container"`
	} `json:"metadata"`
}

func (s *served) toJSON(v PackageVersion) versionJSON {
	kind := "users"
	if s.Org {
		kind = "orgs"
	}
	esc := url.PathEscape(s.Name)
	j := versionJSON{
		ID:             v.ID,
		Name:           v.Digest,
		URL:            fmt.Sprintf("https://api.github.com/%s/%s/packages/container/%s/versions/%d", kind, s.Owner, esc, v.ID),
		PackageHTMLURL: fmt.Sprintf("https://github.com/%s/%s/packages/container/package/%s", kind, s.Owner, esc),
		HTMLURL:        fmt.Sprintf("https://github.com/%s/%s/packages/container/%s/%d", kind, s.Owner, esc, v.ID),
	}
	if !s.NoCreatedAt {
		j.CreatedAt, j.UpdatedAt = &v.Created, &v.Created
	}
	j.Metadata.PackageType = "container"
	j.Metadata.Container.Tags = v.Tags
	if j.Metadata.Container.Tags == nil {
		j.Metadata.Container.Tags = []string{}
	}
	return j
}

const (
	docsVersions      = "https://docs.github.com/rest/packages/packages#list-package-versions-for-a-package-owned-by-an-organization"
	docsDeleteVersion = "https://docs.github.com/rest/packages/packages#delete-package-version-for-an-organization"
)

// servePackage answers the versions routes; ok is false when the path is
// not one of them.
func (a *API) servePackage(w http.ResponseWriter, r *http.Request, p string) (ok bool) {
	// p is lower-cased, prefix-stripped, without the leading slash.
	seg := strings.Split(p, "/")
	if len(seg) < 6 || len(seg) > 7 || (seg[0] != "orgs" && seg[0] != "users") || seg[2] != "packages" || seg[3] != "container" || seg[5] != "versions" {
		return false
	}
	s := a.servedPackage(seg[0] == "orgs", seg[1], seg[4])
	if s == nil {
		writeError(w, http.StatusNotFound, "Package not found.", docsVersions)
		return true
	}
	versions, err := s.sync(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Server Error", docsRoot)
		return true
	}
	if len(seg) == 6 {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return false
		}
		if len(versions) == 0 {
			writeError(w, http.StatusNotFound, "Package not found.", docsVersions)
			return true
		}
		s.list(w, r, versions)
		return true
	}
	id, err := strconv.ParseInt(seg[6], 10, 64)
	var v *PackageVersion
	for i := range versions {
		if err == nil && versions[i].ID == id {
			v = &versions[i]
		}
	}
	if v == nil {
		writeError(w, http.StatusNotFound, "Package version not found.", docsVersions)
		return true
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeJSON(w, http.StatusOK, s.toJSON(*v))
	case http.MethodDelete:
		s.delete(w, r, *v, versions)
	default:
		return false
	}
	return true
}

func (s *served) list(w http.ResponseWriter, r *http.Request, versions []PackageVersion) {
	q := r.URL.Query()
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	if s.PageSize > 0 {
		perPage = min(perPage, s.PageSize)
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	last := max((len(versions)+perPage-1)/perPage, 1)
	var out []versionJSON
	for i := (page - 1) * perPage; i < len(versions) && i < page*perPage; i++ {
		out = append(out, s.toJSON(versions[i]))
	}
	if out == nil {
		out = []versionJSON{}
	}
	link := func(n int, rel string) string {
		// RawPath keeps a nested name's %2F, as GitHub's links do.
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
		if rel == "next" && s.NextHost != "" {
			u.Host = s.NextHost
		}
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set("page", strconv.Itoa(n))
		qq.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"), link(1, "first"))
	}
	switch {
	case page < last:
		links = append(links, link(page+1, "next"), link(last, "last"))
	case s.Loop == LoopToFirst:
		links = append(links, link(1, "next"))
	case s.Loop == LoopToSelf:
		links = append(links, link(page, "next"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, out)
}

// delete applies GitHub's refusals in the order GitHub reports them, then
// deletes the manifest from the registry.
func (s *served) delete(w http.ResponseWriter, r *http.Request, v PackageVersion, versions []PackageVersion) {
	s.mu.Lock()
	limited := s.DeleteLimit > 0 && s.deletes >= s.DeleteLimit
	s.mu.Unlock()
	switch {
	case s.NotAdmin:
		writeError(w, http.StatusNotFound, "Package not found.", docsDeleteVersion)
		return
	case limited:
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
		return
	case s.Public && s.Downloads[v.Digest] > 5000:
		writeError(w, http.StatusBadRequest, "Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance.", docsDeleteVersion)
		return
	}
	if len(v.Tags) > 0 {
		tagged := 0
		for _, o := range versions {
			if len(o.Tags) > 0 {
				tagged++
			}
		}
		if tagged == 1 {
			writeError(w, http.StatusBadRequest, "You cannot delete the last tagged version of a package. You must delete the package instead.", docsDeleteVersion)
			return
		}
	}
	if err := s.Content.DeleteManifest(r.Context(), s.Repository, v.Digest); err != nil {
		writeError(w, http.StatusInternalServerError, "Server Error", docsRoot)
		return
	}
	s.mu.Lock()
	s.deletes++
	s.mu.Unlock()
	writeError(w, http.StatusNoContent, "", "")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // cannot happen: plain structs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
