package source

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ghcr-publish/publish-action/internal/bytecount"
)

// untar unpacks an OCI archive into dir. An OCI layout holds only directories
// and regular files, so anything else — links, devices, sparse files, names
// that climb out of dir, a name twice — marks a broken or hostile archive and
// is refused, in a first pass that writes nothing. That pass also follows
// index.json to every blob the layout references (manifests and indexes are
// read, each at most MaxDocument, straight from the archive); the second pass
// writes oci-layout, index.json and those blobs only, so what lands on disk
// is bounded by what the layout references, and an unreferenced member of
// any size costs nothing.
func untar(ctx context.Context, archive, dir string) error {
	f, err := openFile(archive, "the archive")
	if err != nil {
		return err
	}
	defer f.Close()
	members, err := scanTar(f)
	if err != nil {
		return err
	}
	keep, err := referenced(f, members)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		clean := archiveName(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !keep[clean] {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := writeFile(target, ctxReader{ctx, tr}); err != nil {
			return fmt.Errorf("unpacking %s: %w", hdr.Name, err)
		}
	}
}

// member is a regular file in an archive: where its bytes start, and how
// many there are.
type member struct {
	offset, size int64
}

func archiveName(name string) string {
	return path.Clean(strings.TrimPrefix(name, "./"))
}

// scanTar checks every entry and lists the regular files a layout is made
// of.
func scanTar(f *os.File) (map[string]member, error) {
	counter := &bytecount.Reader{R: f}
	tr := tar.NewReader(counter)
	seen := map[string]byte{} // clean name → tar type flag
	members := map[string]member{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return members, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			// PAX global headers (git archive writes one) are metadata.
			continue
		}
		clean := archiveName(hdr.Name)
		if clean == "." {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(clean)) {
			return nil, fmt.Errorf("entry %q points outside the archive", hdr.Name)
		}
		if prev, dup := seen[clean]; dup && !(prev == tar.TypeDir && hdr.Typeflag == tar.TypeDir) {
			return nil, fmt.Errorf("entry %q appears twice in the archive: %w", hdr.Name, fs.ErrExist)
		}
		seen[clean] = hdr.Typeflag
		switch hdr.Typeflag {
		case tar.TypeDir:
		case tar.TypeReg:
			for k := range hdr.PAXRecords {
				if strings.HasPrefix(k, "GNU.sparse.") {
					// Its holes would unpack to bytes the archive does
					// not hold; no OCI tool writes one.
					return nil, fmt.Errorf("entry %q is a sparse file (%d bytes, most of them holes); an OCI archive holds only plain files", hdr.Name, hdr.Size)
				}
			}
			if layoutFile(clean) {
				// The reader has read the header and nothing of the data:
				// the data starts here.
				members[clean] = member{offset: counter.N, size: hdr.Size}
			}
		default:
			return nil, fmt.Errorf("entry %q is a %s; an OCI archive holds only files and directories", hdr.Name, kind(hdr.Typeflag))
		}
	}
}

// referenced follows index.json to every blob it reaches: the children of
// indexes, the config, layers and subject of manifests. Documents are read
// from the archive, each at most MaxDocument; at most MaxReferenced blobs
// are followed. A blob the layout names but lacks is left for the layout
// reader to report.
func referenced(f *os.File, members map[string]member) (map[string]bool, error) {
	keep := map[string]bool{"oci-layout": true, "index.json": true}
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	}
	type document struct {
		Manifests []descriptor `json:"manifests"`
		Config    *descriptor  `json:"config"`
		Layers    []descriptor `json:"layers"`
		Subject   *descriptor  `json:"subject"`
	}
	read := func(name string) (*document, error) {
		m, ok := members[name]
		if !ok {
			return nil, nil
		}
		if m.size > MaxDocument {
			return nil, fmt.Errorf("%s is %d bytes, more than the %d a manifest, index or config may be", name, m.size, MaxDocument)
		}
		raw, err := io.ReadAll(io.NewSectionReader(f, m.offset, m.size))
		if err != nil {
			return nil, err
		}
		var d document
		if err := json.Unmarshal(raw, &d); err != nil {
			// Not for this pass to judge: the layout reader says what is
			// wrong with it.
			return nil, nil
		}
		return &d, nil
	}
	queue := []string{"index.json"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		d, err := read(name)
		if err != nil || d == nil {
			return keep, err
		}
		var next []descriptor
		next = append(next, d.Manifests...)
		next = append(next, d.Layers...)
		for _, p := range []*descriptor{d.Config, d.Subject} {
			if p != nil {
				next = append(next, *p)
			}
		}
		for _, desc := range next {
			alg, hex, ok := strings.Cut(desc.Digest, ":")
			blob := "blobs/" + alg + "/" + hex
			if !ok || !layoutFile(blob) || keep[blob] {
				continue
			}
			if len(keep) > MaxReferenced {
				return nil, fmt.Errorf("index.json reaches more than %d blobs", MaxReferenced)
			}
			keep[blob] = true
			if types.MediaType(desc.MediaType).IsIndex() || types.MediaType(desc.MediaType).IsImage() {
				queue = append(queue, blob)
			}
		}
	}
	return keep, nil
}

// MaxReferenced bounds the blobs an archive's index.json may reach.
const MaxReferenced = 100000

// layoutFile reports whether name is one of the files an OCI layout is made
// of (image-spec, image-layout.md).
func layoutFile(name string) bool {
	switch name {
	case "oci-layout", "index.json":
		return true
	}
	parts := strings.Split(name, "/")
	return len(parts) == 3 && parts[0] == "blobs" && parts[1] != "" && parts[2] != ""
}

func writeFile(target string, r io.Reader) error {
	// O_EXCL: a second entry with the same name must not overwrite the first
	// after it was read.
	out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func kind(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}
