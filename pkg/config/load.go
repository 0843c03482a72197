package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Load reads the nest.yaml at path, applies defaults and validates it.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes nest.yaml content (YAML or JSON) and applies defaults; empty
// content yields Default(). Unknown, duplicate and wrongly typed fields are
// errors naming the field path. Parse does not validate values: call Validate.
func Parse(data []byte) (*Config, error) {
	// Strict YAML conversion rejects duplicate keys; the JSON decoder below
	// then reports unknown fields with their full path ("sync.toHost.pods.foo"),
	// which encoding/json cannot.
	jsonData, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	var c Config
	strictErrs, err := kjson.UnmarshalStrict(jsonData, &c)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", describeTypeError(err))
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("decode: %w", errors.Join(strictErrs...))
	}
	c.ApplyDefaults()
	return &c, nil
}

// typeErrorPattern matches the decoder's type errors, which name the field as
// "GoStructName.json.path"; the Go name means nothing to a nest.yaml author.
var typeErrorPattern = regexp.MustCompile(`^json: cannot unmarshal (\S+) into Go struct field \w*\.(\S+) of type (.+)$`)

// describeTypeError rewrites a type error as "path: wrong type: got X, want Y".
// The decoder's error type is internal, so the message is all there is.
func describeTypeError(err error) error {
	m := typeErrorPattern.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	return fmt.Errorf("%s: wrong type: got %s, want %s", m[2], m[1], m[3])
}

// LoadOrDefault loads path, or returns the defaults when path is "".
func LoadOrDefault(path string) (*Config, error) {
	if path == "" {
		return Default(), nil
	}
	return Load(path)
}
