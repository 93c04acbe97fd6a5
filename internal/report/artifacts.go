package report

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"

	"github.com/sethvargo/go-githubactions"
)

// ArtifactsFile is the variable naming the file where a step declares
// what it published (runner 2.336 and later): one artifact a line,
// oci://REF@sha256:…, no '=' and at most MaxArtifacts per job. A later
// actions/attest step given no subject attests exactly what is there.
const ArtifactsFile = "GITHUB_ARTIFACTS"

// MaxArtifacts is how many artifacts the runner takes from one job.
const MaxArtifacts = 500

// artifactLine is one line the runner accepts: a reference by digest with
// nothing in it that could end the line, start another or read as a
// key=value pair.
var artifactLine = regexp.MustCompile(`^oci://[^\s=@]+@sha256:[0-9a-f]{64}$`)

// Artifacts are the lines to declare for a publish: the pushed image or
// index, then each platform image of an index. Attestation manifests are
// not subjects: they describe the images, and an attestation of an
// attestation attests nothing a consumer checks. Every destination holds
// the same artifact, each declared there, the primary first. Nothing for a dry run or
// metadata-only (nothing was published).
func (r Report) Artifacts() []string {
	if r.Mode != Published || r.Digest == "" {
		return nil
	}
	var lines []string
	for _, d := range r.destinations() {
		repo := d.Image.String()
		lines = append(lines, "oci://"+repo+"@"+r.Digest)
		seen := map[string]bool{r.Digest: true}
		for _, e := range r.Entries {
			if e.Attestation || e.Digest == "" || seen[e.Digest] {
				continue
			}
			seen[e.Digest] = true
			lines = append(lines, "oci://"+repo+"@"+e.Digest)
		}
	}
	return lines
}

// appendArtifacts adds lines to the artifacts file at path, after what
// earlier steps declared there (never truncating it), as many as fit under
// MaxArtifacts for the job. It returns what it could not declare: lines
// the runner would misread (refused whole, never split) and lines past the
// limit, each with why.
func appendArtifacts(path string, lines []string) (left []string, err error) {
	declared, err := countLines(path)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, l := range lines {
		switch {
		case !artifactLine.MatchString(l):
			left = append(left, fmt.Sprintf("%q is not oci://REF@sha256:DIGEST", l))
		case declared >= MaxArtifacts:
			left = append(left, fmt.Sprintf("%s: the job already declares the %d artifacts the runner takes", l, MaxArtifacts))
		default:
			b.WriteString(l + "\n")
			declared++
		}
	}
	if b.Len() == 0 {
		return left, nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return left, fmt.Errorf("opening %s: %w", ArtifactsFile, err)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return left, fmt.Errorf("writing %s: %w", ArtifactsFile, err)
	}
	if err := f.Close(); err != nil {
		return left, fmt.Errorf("writing %s: %w", ArtifactsFile, err)
	}
	return left, nil
}

// countLines is how many artifacts the file at path declares already; a
// file not there yet declares none.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", ArtifactsFile, err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading %s: %w", ArtifactsFile, err)
	}
	return n, nil
}

// declareArtifacts writes r's artifacts to the runner's file, when there
// is one. What cannot be declared is a warning, not a failure: the publish
// is done, and the outputs name everything; only a following attest step
// misses it.
func declareArtifacts(gha *githubactions.Action, r Report) {
	path := gha.Getenv(ArtifactsFile)
	if path == "" {
		return
	}
	left, err := appendArtifacts(path, r.Artifacts())
	for _, l := range left {
		gha.Warningf("%s: not declared: %s", ArtifactsFile, LogValue(l))
	}
	if err != nil {
		gha.Warningf("%s: nothing declared: %s", ArtifactsFile, LogValue(err.Error()))
	}
}
