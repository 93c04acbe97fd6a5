package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs the README's first command in process: it must publish and
// read back the sample image, with the full metadata.
func TestDemo(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				done <- b.String()
				return
			}
		}
	}()
	runErr := run(t.Context())
	w.Close()
	os.Stdout = stdout
	out := <-done
	if runErr != nil {
		t.Fatalf("run() = %v\n%s", runErr, out)
	}
	// One image from each registry, and the same digest at both.
	read := regexp.MustCompile(`== Read back from the registry: \S+ is (sha256:[0-9a-f]{64})`).FindAllStringSubmatch(out, -1)
	if len(read) != 2 || read[0][1] != read[1][1] {
		t.Errorf("demo read back %q, want one image from each registry with one digest:\n%s", read, out)
	}
	for _, want := range []string{
		"== Step outputs (GITHUB_OUTPUT)",
		"### Published `",
		"org.opencontainers.image.licenses=MIT",
		"org.opencontainers.image.description=Widget builds and serves widgets for the Acme platform.",
		"== Read back from the registry:",
		"application/vnd.oci.image.manifest.v1+json",
		// images: the second registry, with its own password from
		// registry-auth, has the same digest.
		"#### Also published to",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
