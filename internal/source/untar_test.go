package source

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// tarEntry is one entry of a hand-made archive. ROOT in Name or Linkname
// stands for the test's scratch directory.
type tarEntry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: body}
}

func dir(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func link(typ byte, name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: target, Mode: 0o777}}
}

func special(typ byte, name string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o644, Devmajor: 1, Devminor: 3}}
}

// writeTar writes entries to path, with ROOT replaced by root.
func writeTar(t *testing.T, path, root string, entries []tarEntry) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, e := range entries {
		hdr := e.hdr
		hdr.Name = strings.ReplaceAll(hdr.Name, "ROOT", root)
		hdr.Linkname = strings.ReplaceAll(hdr.Linkname, "ROOT", root)
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("WriteHeader(%q): %v", hdr.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("Write(%q): %v", hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// tree lists everything under root: files as path=content, directories as
// path/, anything else as path?.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			out = append(out, rel+"/")
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, rel+"="+string(b))
		default:
			out = append(out, rel+"?")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return out
}

func TestUntar(t *testing.T) {
	t.Parallel()
	// An index.json that references blob ab; directories are made for the
	// files written, not from directory entries.
	const index = `{"manifests":[{"mediaType":"application/octet-stream","digest":"sha256:ab"}]}`
	tests := []struct {
		name    string
		entries []tarEntry
		want    []string
	}{
		{
			name:    "directories and files",
			entries: []tarEntry{dir("blobs/"), dir("blobs/sha256/"), file("blobs/sha256/ab", "blob"), file("index.json", index)},
			want:    []string{"blobs/", "blobs/sha256/", "blobs/sha256/ab=blob", "index.json=" + index},
		},
		{
			name:    "files without directory entries",
			entries: []tarEntry{file("blobs/sha256/ab", "blob"), file("index.json", index)},
			want:    []string{"blobs/", "blobs/sha256/", "blobs/sha256/ab=blob", "index.json=" + index},
		},
		{
			name:    "names as tar -C dir . writes them",
			entries: []tarEntry{dir("./"), dir("./blobs/"), file("./index.json", "{}")},
			want:    []string{"index.json={}"},
		},
		{
			name:    "names that clean to inside",
			entries: []tarEntry{file("blobs//sha256/./ab", "blob"), file("blobs/../index.json", index)},
			want:    []string{"blobs/", "blobs/sha256/", "blobs/sha256/ab=blob", "index.json=" + index},
		},
		{
			name:    "a blob nothing references is not written",
			entries: []tarEntry{file("blobs/sha256/ab", "blob"), file("blobs/sha256/cd", "unreferenced"), file("README", "hello"), file("index.json", index)},
			want:    []string{"blobs/", "blobs/sha256/", "blobs/sha256/ab=blob", "index.json=" + index},
		},
		{
			name:    "empty archive",
			entries: nil,
			want:    nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			archive := filepath.Join(t.TempDir(), "image.tar")
			writeTar(t, archive, "", tc.entries)
			out := t.TempDir()
			if err := untar(context.Background(), archive, out); err != nil {
				t.Fatalf("untar() = %v", err)
			}
			if diff := cmp.Diff(tc.want, tree(t, out)); diff != "" {
				t.Errorf("unpacked tree mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadHostileArchive checks that an OCI archive that would write outside
// its unpack directory, or create anything but plain files and directories,
// is refused before it can, and that the partial unpack is removed.
func TestLoadHostileArchive(t *testing.T) {
	t.Parallel()
	// A harmless start, so that each refusal happens mid-unpack.
	start := []tarEntry{file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), dir("blobs/")}
	tests := []struct {
		name     string
		entries  []tarEntry
		wantText string
		// wantExist: refused because the name is taken, as the open or
		// mkdir error says (fs.ErrExist, or ENOTDIR from mkdir).
		wantExist bool
	}{
		{name: "parent", entries: []tarEntry{file("../evil", "x")}, wantText: `entry "../evil" points outside the archive`},
		{name: "grandparent", entries: []tarEntry{file("../../evil", "x")}, wantText: `entry "../../evil" points outside the archive`},
		{name: "dot parent", entries: []tarEntry{file("./../evil", "x")}, wantText: `entry "./../evil" points outside the archive`},
		{name: "climbing from a subdirectory", entries: []tarEntry{file("blobs/../../evil", "x")}, wantText: `entry "blobs/../../evil" points outside the archive`},
		{name: "parent directory", entries: []tarEntry{dir("../evil/")}, wantText: `entry "../evil/" points outside the archive`},
		{name: "absolute", entries: []tarEntry{file("/evil", "x")}, wantText: `entry "/evil" points outside the archive`},
		{name: "absolute into scratch", entries: []tarEntry{file("ROOT/evil", "x")}, wantText: "points outside the archive"},
		{
			name:     "symlink then a file through it",
			entries:  []tarEntry{link(tar.TypeSymlink, "blobs/sha256", "ROOT"), file("blobs/sha256/evil", "x")},
			wantText: `entry "blobs/sha256" is a symbolic link`,
		},
		{name: "relative symlink", entries: []tarEntry{link(tar.TypeSymlink, "up", "../..")}, wantText: `entry "up" is a symbolic link`},
		{name: "hard link outside", entries: []tarEntry{link(tar.TypeLink, "index.json", "ROOT/archive.tar")}, wantText: `entry "index.json" is a hard link`},
		{name: "hard link inside", entries: []tarEntry{link(tar.TypeLink, "index.json", "oci-layout")}, wantText: `entry "index.json" is a hard link`},
		{name: "character device", entries: []tarEntry{special(tar.TypeChar, "null")}, wantText: `entry "null" is a device`},
		{name: "block device", entries: []tarEntry{special(tar.TypeBlock, "disk")}, wantText: `entry "disk" is a device`},
		{name: "fifo", entries: []tarEntry{special(tar.TypeFifo, "pipe")}, wantText: `entry "pipe" is a FIFO`},
		{name: "duplicate file", entries: []tarEntry{file("index.json", "{}"), file("index.json", "evil")}, wantText: "entry \"index.json\" appears twice", wantExist: true},
		{name: "duplicate after cleaning", entries: []tarEntry{file("index.json", "{}"), file("./index.json", "evil")}, wantText: "entry \"./index.json\" appears twice", wantExist: true},
		{name: "file over a directory", entries: []tarEntry{file("blobs", "evil")}, wantText: "entry \"blobs\" appears twice", wantExist: true},
		{name: "directory over a file", entries: []tarEntry{file("index.json", "{}"), dir("index.json/")}, wantText: "index.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// root/archive.tar is unpacked under root/tmp, so that
			// anything escaping one or two levels lands in root.
			root := t.TempDir()
			tmp := filepath.Join(root, "tmp")
			if err := os.Mkdir(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(root, "archive.tar")
			writeTar(t, archive, root, append(append([]tarEntry(nil), start...), tc.entries...))

			l, err := Load(t.Context(), &inputs.Source{Transport: inputs.OCIArchive, Path: archive}, Options{TempDir: tmp})
			if err == nil {
				l.Close()
				t.Fatal("Load() succeeded, want the archive refused")
			}
			if !strings.Contains(err.Error(), tc.wantText) || !strings.Contains(err.Error(), archive) {
				t.Errorf("Load() = %v, want it to name %s and contain %q", err, archive, tc.wantText)
			}
			if tc.wantExist && !errors.Is(err, fs.ErrExist) {
				t.Errorf("Load() = %v, want errors.Is(err, fs.ErrExist)", err)
			}
			if diff := cmp.Diff([]string{"archive.tar=" + mustRead(t, archive), "tmp/"}, tree(t, root)); diff != "" {
				t.Errorf("files after Load (-want +got):\n%s", diff)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLoadSparseArchive: a small archive (GNU tar --sparse, PAX format, which
// Go reads as a regular file) whose one blob
// expands to 64 MiB of holes. Unpacking it whole would write what the
// archive does not hold; it is refused before any byte of it is written.
// testdata/sparse-member.tar was made with: truncate -s 64M
// blobs/sha256/000…; tar --sparse --format=posix -cf … oci-layout index.json blobs
func TestLoadSparseArchive(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	archive := filepath.Join("testdata", "sparse-member.tar")
	l, err := Load(t.Context(), &inputs.Source{Transport: inputs.OCIArchive, Path: archive}, Options{TempDir: tmp})
	if err == nil {
		l.Close()
		t.Fatal("Load() succeeded, want the sparse member refused")
	}
	if !strings.Contains(err.Error(), "is a sparse file") || !strings.Contains(err.Error(), archive) {
		t.Errorf("Load() = %v, want it to name %s and refuse the sparse member", err, archive)
	}
	if got := tree(t, tmp); len(got) != 0 {
		t.Errorf("files left after Load: %v", got)
	}
}
