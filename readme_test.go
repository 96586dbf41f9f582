package addon

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeSnippetsCompile builds every Go snippet of README.md against
// this module. A snippet that is a whole program is built as it stands;
// the others are statements, built together inside functions of one
// program that has the names the README's prose gives them (descriptor,
// store, a, ...).
func TestReadmeSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs with the go command")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippets := goSnippets(string(readme))
	if len(snippets) < 6 {
		t.Fatalf("found %d Go snippets in README.md, want at least 6", len(snippets))
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}

	fragments := map[string]string{"prelude.go": snippetPrelude}
	for i, code := range snippets {
		if strings.HasPrefix(code, "package ") {
			buildSnippets(t, root, map[string]string{"main.go": code})
			continue
		}
		name := fmt.Sprintf("snippet%d.go", i+1)
		fragments[name] = wrapFragment(i+1, code)
	}
	buildSnippets(t, root, fragments)
}

// buildSnippets builds files as a program in a module that uses this one.
func buildSnippets(t *testing.T, root string, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	mod := strings.Replace(string(gomod), "module github.com/hipchat-connect/addon",
		"module readmesnippet", 1)
	mod += "\nrequire github.com/hipchat-connect/addon v0.0.0\n" +
		"replace github.com/hipchat-connect/addon => " + root + "\n"
	files["go.mod"], files["go.sum"] = mod, string(gosum)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command("go", "build", "-o", os.DevNull, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		var listing strings.Builder
		for name, content := range files {
			if strings.HasSuffix(name, ".go") {
				fmt.Fprintf(&listing, "--- %s ---\n%s\n", name, content)
			}
		}
		t.Fatalf("README snippets do not compile: %v\n%s\n%s", err, out, listing.String())
	}
}

var goFence = regexp.MustCompile("(?s)```go\n(.*?)```")

func goSnippets(md string) []string {
	var out []string
	for _, m := range goFence.FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// snippetPrelude declares what the README's fragments take as given.
const snippetPrelude = `package main

import (
	"context"

	"github.com/hipchat-connect/addon"
)

var (
	ctx          = context.Background()
	descriptor   *addon.CapabilitiesDescriptor
	store        addon.InstallationStore
	installation *addon.Installation
	fauxhttp     addon.HttpDoer
	a            *addon.HipChatAddon
)

func main() {}
`

// fragmentImports is what a fragment may use without importing it.
const fragmentImports = `package main

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/hipchat-connect/addon"
	"github.com/sirupsen/logrus"
)

var (
	_ = context.Background
	_ = fmt.Sprint
	_ = log.Println
	_ = http.NewServeMux
	_ = logrus.StandardLogger
	_ = addon.New
)
`

var shortDecl = regexp.MustCompile(`(?m)^\t?(\w+)(?:, (\w+))? :=`)

// preludeVar matches a fragment's short declaration of one of the
// prelude's variables, which becomes an assignment so that a fragment may
// set it twice, as the persistence section does.
var preludeVar = regexp.MustCompile(`(?m)^(\t?)(ctx|descriptor|store|installation|fauxhttp|a) :=`)

// wrapFragment makes the statements of snippet n a function of the
// program, using what they declare.
func wrapFragment(n int, code string) string {
	code = preludeVar.ReplaceAllString(code, "$1$2 =")
	var uses bytes.Buffer
	for _, m := range shortDecl.FindAllStringSubmatch(code, -1) {
		for _, name := range m[1:] {
			if name != "" && name != "_" {
				fmt.Fprintf(&uses, "\t_ = %s\n", name)
			}
		}
	}
	return fmt.Sprintf("%s\nfunc snippet%d() {\n%s%s}\n", fragmentImports, n, code, uses.String())
}
