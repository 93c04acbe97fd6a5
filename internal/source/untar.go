package source

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// untar unpacks an OCI archive into dir. An OCI layout holds only directories
// and regular files, so anything else — links, devices, names that climb out
// of dir — marks a broken or hostile archive and is refused. Only the files
// a layout is made of (oci-layout, index.json, blobs/ALG/HEX) are written;
// anything else is skipped unread. What is written adds up to no more than
// the archive's own size: a plain tar cannot unpack to more, so a member
// that would (a sparse file, which expands its holes) is refused before it
// fills the disk.
func untar(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	budget := fi.Size()
	seen := map[string]byte{} // clean name → tar type flag
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			// PAX global headers (git archive writes one) are metadata.
			continue
		}
		clean := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if clean == "." {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(clean)) {
			return fmt.Errorf("entry %q points outside the archive", hdr.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(clean))
		if prev, dup := seen[clean]; dup && !(prev == tar.TypeDir && hdr.Typeflag == tar.TypeDir) {
			return fmt.Errorf("entry %q appears twice in the archive: %w", hdr.Name, fs.ErrExist)
		}
		seen[clean] = hdr.Typeflag
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if !layoutFile(clean) {
				continue
			}
			if hdr.Size > budget {
				return fmt.Errorf("entry %q unpacks to %d bytes, more than the archive holds (%d bytes); a sparse or hostile member, rebuild the archive", hdr.Name, hdr.Size, fi.Size())
			}
			budget -= hdr.Size
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := writeFile(target, tr); errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("entry %q appears twice in the archive: %w", hdr.Name, fs.ErrExist)
			} else if err != nil {
				return fmt.Errorf("unpacking %s: %w", hdr.Name, err)
			}
		default:
			return fmt.Errorf("entry %q is a %s; an OCI archive holds only files and directories", hdr.Name, kind(hdr.Typeflag))
		}
	}
}

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
