package provider_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/nestcluster/nest/pkg/terraform/provider"
)

// TestDocs checks that every resource and data source has its page under
// docs/terraform, naming each of its attributes and, for resources, how to
// import it.
func TestDocs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := provider.New("test")()
	docs := filepath.Join("..", "..", "..", "docs", "terraform")
	check := func(t *testing.T, page, typ string, attrs []string, resource bool) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatalf("%s has no page: %v", typ, err)
		}
		text := string(data)
		if !strings.HasPrefix(text, "# "+typ+" (") || !strings.Contains(text, "```hcl") {
			t.Errorf("%s: want a title \"# %s (...)\" and an hcl example", page, typ)
		}
		for _, a := range attrs {
			if !strings.Contains(text, "`"+a+"`") {
				t.Errorf("%s does not describe attribute %s", page, a)
			}
		}
		if resource && !strings.Contains(text, "terraform import "+typ+".") {
			t.Errorf("%s does not show how to import", page)
		}
		index, err := os.ReadFile(filepath.Join(docs, "index.md"))
		if err != nil || !strings.Contains(string(index), "`"+typ+"`") {
			t.Errorf("docs/terraform/index.md does not list %s", typ)
		}
	}
	for _, newResource := range p.Resources(ctx) {
		r := newResource()
		var meta resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: provider.TypeName}, &meta)
		var schema resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &schema)
		var attrs []string
		for a := range schema.Schema.Attributes {
			attrs = append(attrs, a)
		}
		t.Run(meta.TypeName, func(t *testing.T) {
			check(t, filepath.Join(docs, "resources", strings.TrimPrefix(meta.TypeName, "nest_")+".md"), meta.TypeName, attrs, true)
		})
	}
	for _, newDataSource := range p.DataSources(ctx) {
		d := newDataSource()
		var meta datasource.MetadataResponse
		d.Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: provider.TypeName}, &meta)
		var schema datasource.SchemaResponse
		d.Schema(ctx, datasource.SchemaRequest{}, &schema)
		var attrs []string
		for a := range schema.Schema.Attributes {
			attrs = append(attrs, a)
		}
		t.Run("data."+meta.TypeName, func(t *testing.T) {
			check(t, filepath.Join(docs, "data-sources", strings.TrimPrefix(meta.TypeName, "nest_")+".md"), meta.TypeName, attrs, false)
		})
	}
}
