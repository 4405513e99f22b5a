// Package apitest checks HTTP answers against the REST API's own OpenAPI
// document, for the tests of every package that calls the API.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Document is an OpenAPI document compiled for checking answers, with a
// record of which operations answered 2xx.
type Document struct {
	raw      map[string]any
	compiler *jsonschema.Compiler
	routes   []route
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
	served   map[string]bool // "METHOD template" answered 2xx
}

type route struct {
	template string
	re       *regexp.Regexp
	literal  int // literal characters: the most specific template wins
}

var (
	placeholder       = regexp.MustCompile(`\{[^}]+\}`)
	quotedPlaceholder = regexp.MustCompile(`\\\{[^}]+\\\}`)
)

// Load compiles a document (its JSON).
func Load(doc []byte) (*Document, error) {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("openapi.json", m); err != nil {
		return nil, err
	}
	d := &Document{raw: m, compiler: c, schemas: map[string]*jsonschema.Schema{}, served: map[string]bool{}}
	paths, _ := m["paths"].(map[string]any)
	for p := range paths {
		pattern := quotedPlaceholder.ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`)
		d.routes = append(d.routes, route{template: p, re: regexp.MustCompile("^" + pattern + "$"),
			literal: len(placeholder.ReplaceAllString(p, ""))})
	}
	sort.Slice(d.routes, func(i, j int) bool { return d.routes[i].literal > d.routes[j].literal })
	return d, nil
}

// Check validates one answer: its path and status must be documented and
// its body must match the schema. An answer given before routing (401,
// 429, an unknown path) is checked against the error schema.
func (d *Document) Check(method, path string, status int, body []byte) error {
	template := ""
	for _, r := range d.routes {
		if r.re.MatchString(path) {
			template = r.template
			break
		}
	}
	if template == "" || status == http.StatusUnauthorized || status == http.StatusTooManyRequests {
		if status >= 400 {
			return d.validate("openapi.json#/components/schemas/ApiError", body)
		}
		return nil
	}
	op, _ := d.raw["paths"].(map[string]any)[template].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if op == nil {
		if status < 400 {
			return fmt.Errorf("%s %s is not documented", method, template)
		}
		return d.validate("openapi.json#/components/schemas/ApiError", body)
	}
	responses := op["responses"].(map[string]any)
	code := strconv.Itoa(status)
	if _, ok := responses[code]; !ok {
		if _, ok := responses["default"]; !ok {
			return fmt.Errorf("%s %s answered %d, which is not documented: %s", method, template, status, body)
		}
		code = "default"
	}
	if status < 300 {
		d.mu.Lock()
		d.served[method+" "+template] = true
		d.mu.Unlock()
	}
	pointer := "/paths/" + escape(template) + "/" + strings.ToLower(method) + "/responses/" + code +
		"/content/application~1json/schema"
	return d.validate("openapi.json#"+pointer, body)
}

func (d *Document) validate(location string, body []byte) error {
	d.mu.Lock()
	s, ok := d.schemas[location]
	if !ok {
		var err error
		if s, err = d.compiler.Compile(location); err != nil {
			d.mu.Unlock()
			return fmt.Errorf("%s: %w", location, err)
		}
		d.schemas[location] = s
	}
	d.mu.Unlock()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("the answer is not JSON: %s", body)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("the answer does not match %s: %w\n%s", location, err, body)
	}
	return nil
}

func escape(template string) string {
	return strings.ReplaceAll(strings.ReplaceAll(template, "~", "~0"), "/", "~1")
}

// Operations lists every "METHOD template" of the document.
func (d *Document) Operations() []string {
	var out []string
	for p, item := range d.raw["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			out = append(out, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(out)
	return out
}

// Unserved lists the operations no checked answer showed as a 2xx.
func (d *Document) Unserved() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, op := range d.Operations() {
		if !d.served[op] {
			out = append(out, op)
		}
	}
	return out
}
