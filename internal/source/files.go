package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Every file read from a layout or an archive is a regular file, opened
// without following a link and without blocking. A layout or archive comes
// from the repository being built, which may be hostile: a blob that is a
// named pipe would block open(2) for good, where no cancellation reaches
// it (SIGTERM ignored); one that is a link, or under a linked directory,
// would have the action read and publish a file from outside the layout
// (the runner's own files). So:
//   - files under a layout are opened through an os.Root, whose openat
//     walk refuses any path component that leaves the layout, and the last
//     component is checked with Lstat first, so a link there is refused
//     rather than followed (os.Root follows links that stay inside);
//   - O_NONBLOCK makes open(2) of a named pipe return at once (open(2):
//     "O_NONBLOCK ... the open() for reading-only returns without delay"),
//     and an fstat of what was opened refuses anything but a regular file,
//     a pipe or device swapped in after the Lstat included. On a regular
//     file O_NONBLOCK changes nothing.

// fileError is a file of the source that is not what a layout or archive
// holds: it names the file and says what to fix. Load wraps it under the
// source input.
type fileError struct {
	what, path string
	problem    string
}

func (e *fileError) Error() string {
	return fmt.Sprintf("%s %s (%s); the source input must name a layout or archive of regular files only: put the file itself there, or rebuild the layout", e.what, e.problem, e.path)
}

// notRegular describes mode, the type of something that is not a regular
// file, for fileError.
func notRegular(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		return "is not a regular file but a symbolic link, which is not followed"
	case mode&fs.ModeNamedPipe != 0:
		return "is not a regular file but a named pipe"
	case mode&fs.ModeDevice != 0:
		return "is not a regular file but a device"
	case mode.IsDir():
		return "is not a regular file but a directory"
	}
	return fmt.Sprintf("is not a regular file but %s", mode.Type())
}

// openInLayout opens the file rel (slash-separated) under the layout dir
// for reading, as the comment above says; what names it in errors.
func openInLayout(dir, rel, what string) (*os.File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	name := filepath.FromSlash(rel)
	path := filepath.Join(dir, name)
	fi, err := root.Lstat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		// os.Root refuses a component that leads out of dir.
		return nil, &fileError{what: what, path: path, problem: fmt.Sprintf("cannot be opened within the layout (%v): is a directory on its path a link out of it?", unwrapPath(err))}
	}
	if !fi.Mode().IsRegular() {
		return nil, &fileError{what: what, path: path, problem: notRegular(fi.Mode())}
	}
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return checkOpened(f, what, path)
}

// openFile opens path, the file of an archive, for reading: not through a
// link, not blocking, a regular file only.
func openFile(path, what string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fileError{what: what, path: path, problem: notRegular(fi.Mode())}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|noFollow, 0)
	if err != nil {
		return nil, err
	}
	return checkOpened(f, what, path)
}

// checkOpened refuses f unless fstat says it is a regular file.
func checkOpened(f *os.File, what, path string) (*os.File, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fileError{what: what, path: path, problem: notRegular(fi.Mode())}
	}
	return f, nil
}

// unwrapPath is err without the *PathError's operation and path, which
// fileError says better.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readDocument reads the document rel of the layout dir whole: at most
// MaxDocument bytes, refused by its size before it is read.
func readDocument(dir, rel, what string) ([]byte, error) {
	f, err := openInLayout(dir, rel, what)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxDocument {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a manifest, index or config may be; the layout is broken or hostile", what, fi.Size(), MaxDocument)
	}
	// The file may grow after the Stat: never read past the bound.
	raw, err := io.ReadAll(io.LimitReader(f, MaxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxDocument {
		return nil, fmt.Errorf("%s is more than the %d bytes a manifest, index or config may be; the layout is broken or hostile", what, MaxDocument)
	}
	return raw, nil
}

// ctxReader ends a long read (a layer of gigabytes hashed or compressed
// while the source loads) once ctx is done: a cancelled run (SIGTERM)
// stops between two reads rather than at the end of the layer.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
