package main

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"gopkg.in/yaml.v3"
)

// Pin returns actionYAML with runs.image pointing at image, a digest
// reference, as docker://image: the runner then pulls that exact image
// instead of building the Dockerfile (GitHub docs, "Metadata syntax",
// runs.image). Only that one line changes, so comments and layout survive
// and the release commit's diff is a single line. Pinning a pinned file
// replaces the reference.
func Pin(actionYAML []byte, image string) ([]byte, error) {
	ref, err := name.NewDigest(image, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("-image %q: want the published image by digest, REGISTRY/OWNER/REPO@sha256:… (the action's digest output): %w", image, err)
	}
	node, err := runsImage(actionYAML)
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(actionYAML, []byte("\n"))
	line := lines[node.Line-1]
	start := node.Column - 1
	// A plain scalar on one line is replaced alone, keeping a trailing
	// comment; a quoted one is replaced to the end of the line.
	end := len(bytes.TrimRight(line, "\r\n"))
	if node.Style == 0 && bytes.HasPrefix(line[start:], []byte(node.Value)) {
		end = start + len(node.Value)
	}
	value := "docker://" + ref.String()
	var out bytes.Buffer
	for i, l := range lines {
		if i != node.Line-1 {
			out.Write(l)
			continue
		}
		out.Write(line[:start])
		out.WriteString(value)
		out.Write(line[end:])
	}
	// The edit is checked by reading the file back as the runner will.
	check, err := runsImage(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("pinned file does not parse: %w", err)
	}
	if check.Value != value {
		return nil, fmt.Errorf("pinned file says image: %q, want %q", check.Value, value)
	}
	return out.Bytes(), nil
}

// runsImage finds the runs.image scalar of a Docker container action.
func runsImage(actionYAML []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(actionYAML, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not an action metadata file (no top-level mapping)")
	}
	runs := lookup(doc.Content[0], "runs")
	if runs == nil || runs.Kind != yaml.MappingNode {
		return nil, errors.New("no runs: section")
	}
	if using := lookup(runs, "using"); using == nil || using.Value != "docker" {
		return nil, errors.New("runs.using is not docker; only a container action has an image to pin")
	}
	image := lookup(runs, "image")
	if image == nil || image.Kind != yaml.ScalarNode {
		return nil, errors.New("runs.image is missing")
	}
	if image.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return nil, errors.New("runs.image is a block scalar; write it on one line")
	}
	return image, nil
}

func lookup(mapping *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			return mapping.Content[i+1]
		}
	}
	return nil
}
