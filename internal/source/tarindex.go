package source

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
)

// tarIndex reads a docker save archive in place: one pass records where each
// entry's bytes lie, and every read after that is a section of the file, so
// an export of gigabytes is neither unpacked nor scanned again per blob.
// docker save writes plain, non-sparse tar, whose entries are contiguous.
type tarIndex struct {
	f       *os.File
	closed  sync.Once
	entries map[string]tarSpan
	links   map[string]string // name → target name, both cleaned
}

type tarSpan struct {
	offset, size int64
}

func openTarIndex(archive string) (*tarIndex, error) {
	f, err := openFile(archive, "the archive")
	if err != nil {
		return nil, err
	}
	t := &tarIndex{f: f, entries: map[string]tarSpan{}, links: map[string]string{}}
	if err := t.scan(); err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

func (t *tarIndex) scan() error {
	tr := tar.NewReader(t.f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w; a docker save archive is a tar with manifest.json or index.json", err)
		}
		name := cleanName(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			// tar.Reader has consumed the header blocks and nothing more,
			// so the file's position is where the entry's bytes start.
			off, err := t.f.Seek(0, io.SeekCurrent)
			if err != nil {
				return err
			}
			t.entries[name] = tarSpan{offset: off, size: hdr.Size}
		case tar.TypeSymlink:
			// Engines before 25 link a layer shared by two images.
			t.links[name] = cleanName(path.Join(path.Dir(name), hdr.Linkname))
		case tar.TypeLink:
			t.links[name] = cleanName(hdr.Linkname)
		case tar.TypeGNUSparse:
			return fmt.Errorf("entry %q is a sparse file, which no docker save writes", hdr.Name)
		}
	}
}

func cleanName(n string) string {
	return path.Clean(strings.TrimPrefix(path.Clean("/"+n), "/"))
}

// lookup follows links to the entry a name stands for.
func (t *tarIndex) lookup(name string) (tarSpan, bool) {
	name = cleanName(name)
	for range 16 {
		if e, ok := t.entries[name]; ok {
			return e, true
		}
		target, ok := t.links[name]
		if !ok {
			return tarSpan{}, false
		}
		name = target
	}
	return tarSpan{}, false
}

func (t *tarIndex) has(name string) bool {
	_, ok := t.lookup(name)
	return ok
}

// open returns the bytes of entry name.
func (t *tarIndex) open(name string) (io.ReadCloser, int64, error) {
	e, ok := t.lookup(name)
	if !ok {
		return nil, 0, fmt.Errorf("no %s in the archive: %w", name, os.ErrNotExist)
	}
	return io.NopCloser(io.NewSectionReader(t.f, e.offset, e.size)), e.size, nil
}

// read returns the whole of entry name, which must be a JSON document.
func (t *tarIndex) read(name string) ([]byte, error) {
	rc, size, err := t.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Checked before it is read (see MaxDocument).
	if size > MaxDocument {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a manifest, index or config may be; the archive is broken or hostile", name, size, MaxDocument)
	}
	return io.ReadAll(rc)
}

func (t *tarIndex) Close() error {
	var err error
	t.closed.Do(func() { err = t.f.Close() })
	return err
}
