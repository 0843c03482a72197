package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ResolveVariables returns the values of the profile's variables for one cluster:
// the profile's defaults with the overrides on top. Overriding a variable
// that the profile does not declare is an error naming it (most likely a
// typo).
func (p *Profile) ResolveVariables(overrides map[string]string) (map[string]string, error) {
	vars := make(map[string]string, len(p.Variables))
	for k, v := range p.Variables {
		vars[k] = v
	}
	var unknown []string
	for k, v := range overrides {
		if _, ok := p.Variables[k]; !ok {
			unknown = append(unknown, k)
			continue
		}
		vars[k] = v
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("profile %s declares no variable %s", p.Name, strings.Join(unknown, ", "))
	}
	return vars, nil
}

// expand replaces each ${NAME} in s with its value. "$${" stands for a
// literal "${"; a "$" not followed by "{" is kept as it is. References to
// variables not in vars are collected in missing. Nothing else is
// interpreted: no shell expansion, no defaults syntax, no nesting.
func expand(s string, vars map[string]string, missing map[string]bool) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated variable reference in %q", s)
			}
			name := s[i+2 : i+2+end]
			if !variableName.MatchString(name) {
				return "", fmt.Errorf("invalid variable reference ${%s}: a name is letters, digits and _", name)
			}
			v, ok := vars[name]
			if !ok {
				missing[name] = true
			}
			b.WriteString(v)
			i += 2 + end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

// substituteYAML expands variables in the scalars (values and keys) of
// each YAML document of data, never in its structure or comments: a value
// can not inject YAML. A plain (unquoted) scalar takes the type of its
// expanded text (`replicas: ${N}` becomes a number); a quoted one stays a
// string. It returns the documents, each re-encoded, without empty ones.
// With nil vars it only splits the documents.
func substituteYAML(data string, vars map[string]string) ([][]byte, error) {
	dec := yaml.NewDecoder(strings.NewReader(data))
	var docs [][]byte
	missing := map[string]bool{}
	for i := 1; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(node.Content) == 0 || (len(node.Content) == 1 && node.Content[0].Tag == "!!null") {
			continue // an empty document, e.g. after a trailing ---
		}
		if vars != nil {
			if err := substituteNode(&node, vars, missing); err != nil {
				return nil, fmt.Errorf("document %d: %w", i, err)
			}
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(&node); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		docs = append(docs, buf.Bytes())
	}
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("undeclared variable(s) %s", strings.Join(names, ", "))
	}
	return docs, nil
}

func substituteNode(n *yaml.Node, vars map[string]string, missing map[string]bool) error {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := expand(n.Value, vars, missing)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if v != n.Value {
			n.Value = v
			if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				n.Tag = "" // resolve the type of the new text
			}
		}
	case yaml.AliasNode:
		// The anchor's node is substituted where it is defined.
	default:
		for _, c := range n.Content {
			if err := substituteNode(c, vars, missing); err != nil {
				return err
			}
		}
	}
	return nil
}
