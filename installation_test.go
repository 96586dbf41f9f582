package addon

import (
	"fmt"
	"strings"
	"testing"
)

func TestInstallationIsGlobal(t *testing.T) {
	tests := []struct {
		roomID int
		want   bool
	}{
		{0, true},
		{1, false},
		{42, false},
	}
	for _, tt := range tests {
		inst := &Installation{OAuthID: "id", RoomID: tt.roomID}
		if got := inst.IsGlobal(); got != tt.want {
			t.Errorf("IsGlobal() with RoomID %d = %v, want %v", tt.roomID, got, tt.want)
		}
	}
}

func TestInstallationClone(t *testing.T) {
	if c := (*Installation)(nil).Clone(); c != nil {
		t.Errorf("Clone of nil = %v, want nil", c)
	}

	orig := fullInstallation("cloned", 42)
	c := orig.Clone()
	if c == orig {
		t.Fatal("Clone returned its receiver")
	}
	if d := installationDiff(c, orig); d != "" {
		t.Fatalf("Clone differs: %s", d)
	}

	scribble(c)
	if d := installationDiff(orig, fullInstallation("cloned", 42)); d != "" {
		t.Errorf("changing the clone changed the original: %s", d)
	}
}

func TestInstallationString(t *testing.T) {
	tests := []struct {
		name string
		inst *Installation
		want string
	}{
		{"global", fullInstallation("abc", 0), "installation abc (group 7, global)"},
		{"room", fullInstallation("abc", 42), "installation abc (group 7, room 42)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.inst.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := tt.inst.GoString(); got != tt.want {
				t.Errorf("GoString() = %q, want %q", got, tt.want)
			}
		})
	}
}

// holder has an Installation among other exported fields, the way a caller's
// own types might.
type holder struct {
	Name string
	Inst Installation
	Ptr  *Installation
}

func TestInstallationFormattingHidesSecret(t *testing.T) {
	inst := fullInstallation("oauth-id", 42)
	inst.OAuthSecret = "s3cr3t-value"
	values := []struct {
		name string
		v    any
	}{
		{"pointer", inst},
		{"value", *inst},
		{"slice of pointers", []*Installation{inst}},
		{"slice of values", []Installation{*inst}},
		{"map of values", map[string]Installation{"k": *inst}},
		{"struct field", holder{Name: "h", Inst: *inst, Ptr: inst}},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"}

	for _, val := range values {
		for _, verb := range verbs {
			got := fmt.Sprintf(verb, val.v)
			if !strings.Contains(got, "oauth-id") &&
				!strings.Contains(got, fmt.Sprintf("%x", "oauth-id")) &&
				!strings.Contains(got, fmt.Sprintf("%X", "oauth-id")) {
				t.Errorf("%s of a %s = %s, which does not name the installation",
					verb, val.name, got)
			}
			for _, leak := range []string{"s3cr3t-value", fmt.Sprintf("%x", "s3cr3t-value")} {
				if strings.Contains(strings.ToLower(got), leak) {
					t.Errorf("%s of a %s = %s, which holds the secret", verb, val.name, got)
				}
			}
		}
	}
}

func TestInstallationFormattingNil(t *testing.T) {
	var inst *Installation
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, inst); got != "<nil>" {
			t.Errorf("%s of a nil *Installation = %q, want <nil>", verb, got)
		}
	}
}

func TestInstallationFormatHidesSecretForEveryVerb(t *testing.T) {
	inst := fullInstallation("format-id", 3)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%T %v", "%10v"} {
		for _, v := range []any{inst, *inst, []Installation{*inst}} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, inst.OAuthSecret) {
				t.Errorf("%s of %T prints the secret: %s", verb, v, out)
			}
		}
	}
}
