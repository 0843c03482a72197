package profile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// FileName is the profile file of a profile directory.
const FileName = "profile.yaml"

// file is the on-disk form of a profile: layers name files relative to the
// profile file's directory instead of holding their content.
type file struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Description string            `json:"description,omitempty"`
	Variables   map[string]string `json:"variables,omitempty"`
	Layers      []fileLayer       `json:"layers"`
}

type fileLayer struct {
	Name      string    `json:"name"`
	Kind      LayerKind `json:"kind"`
	Namespace string    `json:"namespace,omitempty"`
	// Manifests inline, and/or files (glob patterns, each expanded in
	// sorted order) appended after them.
	Manifests string   `json:"manifests,omitempty"`
	Files     []string `json:"files,omitempty"`
	// Chart is a chart directory or a packaged chart (.tgz).
	Chart      string `json:"chart,omitempty"`
	Values     string `json:"values,omitempty"`
	ValuesFile string `json:"valuesFile,omitempty"`
	Release    string `json:"release,omitempty"`
}

// Load reads a profile from a directory holding profile.yaml, or from a
// profile file, reading the files its layers name (paths relative to the
// profile file, never outside its directory). Chart directories are kept
// as paths; packaged charts are read into Chart.Archive. The result is
// validated.
func Load(path string) (*Profile, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	if st.IsDir() {
		path = filepath.Join(path, FileName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	var f file
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("load profile %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	p := &Profile{Name: f.Name, Version: f.Version, Description: f.Description, Variables: f.Variables}
	var errs []error
	for i, fl := range f.Layers {
		l, err := fl.load(dir, fmt.Sprintf("layers[%d]", i))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Layers = append(p.Layers, l)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("load profile %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("load profile %s: %w", path, err)
	}
	return p, nil
}

func (fl *fileLayer) load(dir, field string) (Layer, error) {
	l := Layer{Name: fl.Name, Kind: fl.Kind, Namespace: fl.Namespace, Manifests: fl.Manifests, Values: fl.Values, Release: fl.Release}
	var docs []string
	if strings.TrimSpace(fl.Manifests) != "" {
		docs = append(docs, fl.Manifests)
	}
	for j, pattern := range fl.Files {
		f := fmt.Sprintf("%s.files[%d]", field, j)
		if !filepath.IsLocal(pattern) {
			return l, fmt.Errorf("%s: %q is not a path inside the profile directory", f, pattern)
		}
		matches, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return l, fmt.Errorf("%s: %w", f, err)
		}
		if len(matches) == 0 {
			return l, fmt.Errorf("%s: no file matches %q", f, pattern)
		}
		sort.Strings(matches)
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				return l, fmt.Errorf("%s: %w", f, err)
			}
			docs = append(docs, string(data))
		}
	}
	// Documents of several files are joined as one stream.
	for i := range docs {
		if !strings.HasSuffix(docs[i], "\n") {
			docs[i] += "\n"
		}
	}
	l.Manifests = strings.Join(docs, "---\n")
	if fl.ValuesFile != "" {
		f := field + ".valuesFile"
		if fl.Values != "" {
			return l, fmt.Errorf("%s: set values or valuesFile, not both", f)
		}
		if !filepath.IsLocal(fl.ValuesFile) {
			return l, fmt.Errorf("%s: %q is not a path inside the profile directory", f, fl.ValuesFile)
		}
		data, err := os.ReadFile(filepath.Join(dir, fl.ValuesFile))
		if err != nil {
			return l, fmt.Errorf("%s: %w", f, err)
		}
		l.Values = string(data)
	}
	if fl.Chart != "" {
		f := field + ".chart"
		if !filepath.IsLocal(fl.Chart) {
			return l, fmt.Errorf("%s: %q is not a path inside the profile directory", f, fl.Chart)
		}
		p := filepath.Join(dir, fl.Chart)
		st, err := os.Stat(p)
		if err != nil {
			return l, fmt.Errorf("%s: %w", f, err)
		}
		if st.IsDir() {
			if _, err := os.Stat(filepath.Join(p, "Chart.yaml")); err != nil {
				return l, fmt.Errorf("%s: %s is not a chart directory: %w", f, fl.Chart, err)
			}
			l.Chart = &Chart{Dir: p}
		} else {
			data, err := os.ReadFile(p)
			if err != nil {
				return l, fmt.Errorf("%s: %w", f, err)
			}
			l.Chart = &Chart{Archive: data}
		}
	}
	return l, nil
}
