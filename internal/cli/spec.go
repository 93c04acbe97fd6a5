// Package cli runs the action from a terminal or another CI system: the
// same binary, with flags that mirror action.yml's inputs, outputs printed
// as key=value, workflow commands turned into plain text, and registry
// credentials from the user's Docker config. Inside GitHub Actions none of
// it applies.
package cli

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Spec is what action.yml declares, the one source of the flags.
type Spec struct {
	Inputs []Input
}

// Input is one declared input.
type Input struct {
	Name        string
	Description string
	Default     string
}

// ParseSpec reads action.yml's inputs, keeping them in file order.
func ParseSpec(actionYAML []byte) (Spec, error) {
	var doc struct {
		Inputs yaml.Node `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(actionYAML, &doc); err != nil {
		return Spec{}, fmt.Errorf("parsing action.yml: %w", err)
	}
	var spec Spec
	for i := 0; i+1 < len(doc.Inputs.Content); i += 2 {
		var in struct {
			Description string `yaml:"description"`
			Default     string `yaml:"default"`
		}
		if err := doc.Inputs.Content[i+1].Decode(&in); err != nil {
			return Spec{}, fmt.Errorf("parsing input %s: %w", doc.Inputs.Content[i].Value, err)
		}
		spec.Inputs = append(spec.Inputs, Input{Name: doc.Inputs.Content[i].Value, Description: strings.TrimSpace(in.Description), Default: in.Default})
	}
	if len(spec.Inputs) == 0 {
		return Spec{}, fmt.Errorf("action.yml declares no inputs")
	}
	return spec, nil
}

// envName is the variable the runner sets for an input (actions/runner:
// upper-cased, spaces to '_', dashes kept).
func envName(input string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(input, " ", "_"))
}

// expressionDefaults say what a default written as a workflow expression
// means outside a workflow.
var expressionDefaults = map[string]string{
	"${{ github.token }}": "GITHUB_TOKEN",
	"${{ github.actor }}": "USER",
}
