package action

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/push"
	"github.com/ghcr-publish/publish-action/internal/report"
	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/stamp"
)

// stamped is what the stamp step made: the artifact to push and its digest.
type stamped struct {
	artifact push.Artifact
	result   stamp.Result
	digest   v1.Hash
}

// source is the org.opencontainers.image.source annotation as published.
func (s stamped) source() string {
	for _, e := range s.result.Annotations {
		if e.Key == specs.AnnotationSource {
			return e.Value
		}
	}
	return ""
}

func (s stamped) report() *report.Stamped {
	return &report.Stamped{Result: s.result, Digest: s.digest.String()}
}

// stamp reads the sources and stamps them into one artifact. A push the
// probe beside the reading saw refused fails here, with advice, whatever
// the reading gave.
func (r *run) stamp(ctx context.Context, p plan.Plan) (stamped, error) {
	s, err := r.stampSources(p)
	if perr := r.rd.probed(); perr != nil {
		return s, r.refused(ctx, perr)
	}
	return s, err
}

// stampSources stamps every source, as they are read, into one artifact.
func (r *run) stampSources(p plan.Plan) (stamped, error) {
	gha, in := r.gha, r.in
	for _, src := range in.Sources {
		gha.Infof("Reading %s", src.Line)
	}
	results, err := r.rd.wait()
	if err != nil {
		return stamped{}, err
	}
	var loaded []*source.Loaded
	for i, src := range in.Sources {
		if results[i].err != nil {
			return stamped{}, inputs.Wrap("source", results[i].err)
		}
		l := results[i].l
		loaded = append(loaded, l)
		for _, n := range l.Notices {
			gha.Noticef("%s: %s", src.Line, n)
		}
		if lacks := l.Lacks(in.Platforms); len(lacks) > 0 {
			return stamped{}, &inputs.Error{Input: "platforms", Msg: fmt.Sprintf("%s lacks the blobs of %s (the engine has only part of the image); pull it (docker pull --platform %s) or drop it from platforms", src.Line, strings.Join(lacks, ", "), lacks[0])}
		}
	}

	artifact, res, err := stampAll(loaded, p, in.Attestations)
	if err != nil {
		return stamped{}, err
	}
	for _, w := range res.Warnings {
		gha.WithFieldsMap(map[string]string{"title": "labels from the image"}).Warningf("%s", w)
	}
	if in.Platforms != nil {
		if err := stamp.CheckPlatforms(res.Entries, in.Platforms); err != nil {
			return stamped{}, inputs.Wrap("platforms", err)
		}
	}
	for _, e := range res.Entries {
		kind := ""
		if e.Attestation {
			kind = "attestation of "
		}
		gha.Infof("%s%s: %s %s", kind, e.Platform, e.Fate, e.Digest)
	}
	if res.ConvertedToOCI {
		gha.Noticef("%s", report.ConvertedNote)
	}
	for _, e := range res.Entries {
		if e.Fate == stamp.Dropped {
			gha.Warningf("attestations: drop removed the attestation of %s from %s; its provenance is no longer published", e.Platform, e.Source)
		}
	}
	if unstamped := res.Unstamped(); len(unstamped) > 0 {
		gha.WithFieldsMap(map[string]string{"title": "images left unstamped"}).Noticef("%s", preserveNotice(unstamped))
	}
	digest, err := artifact.Digest()
	if err != nil {
		return stamped{}, fmt.Errorf("computing digest: %w", err)
	}
	return stamped{artifact: artifact, result: res, digest: digest}, nil
}

// stampAll stamps one image on its own, or anything else (an index, or
// several sources to merge) as one index.
func stampAll(loaded []*source.Loaded, p plan.Plan, policy inputs.Attestations) (push.Artifact, stamp.Result, error) {
	if len(loaded) == 1 && loaded[0].Image != nil {
		img, res, err := stamp.Image(loaded[0].Image, p)
		if err != nil {
			return nil, stamp.Result{}, fmt.Errorf("stamping %s: %w", loaded[0].Line, err)
		}
		entry, err := stamp.ImageEntry(loaded[0].Line, img, res)
		if err != nil {
			return nil, stamp.Result{}, err
		}
		res.Entries = []stamp.Entry{entry}
		return img, res, nil
	}
	idx, res, err := stamp.Index(loaded, p, stamp.AttestationPolicy(policy))
	if err != nil {
		var dup *stamp.DuplicatePlatformError
		if errors.As(err, &dup) {
			return nil, stamp.Result{}, inputs.Wrap("source", err)
		}
		return nil, stamp.Result{}, fmt.Errorf("stamping the index: %w", err)
	}
	return idx, res, nil
}

// preserveNotice says, once, that attestations: preserve left attested
// platform images without the metadata, and gives both ways to have it
// there: a build that stamps it kept its provenance valid, which
// repointing cannot (the statement inside names the old digest).
func preserveNotice(platforms []string) string {
	return fmt.Sprintf("attestations: preserve left the images of %s byte-identical, so their build attestations stay valid, "+
		"but without the labels and annotations (the index carries them). To have them in every image, stamp them at build time: "+
		"pass this action's labels and annotations outputs (a step with no source) to the build's labels and annotations "+
		"(README: \"Metadata, then build, then publish\"); or set attestations: repoint, which stamps the images and points "+
		"each attestation at the new digest, though the statement inside still names the old one", strings.Join(platforms, ", "))
}
