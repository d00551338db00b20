package manifest

import (
	"strings"
	"testing"
)

// TestInputPatternMatchesWholeValue: a pattern constrains the whole value,
// however it is written; one that would break out of the anchoring group
// is refused rather than compiled into "match anything".
func TestInputPatternMatchesWholeValue(t *testing.T) {
	manifest := func(pattern string) []byte {
		return []byte(`id: acme
name: Acme
description: x
icon: <svg xmlns="http://www.w3.org/2000/svg"/>
auth:
  type: api_key
  inputs:
    - key: region
      label: Region
      pattern: '` + pattern + `'
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: https://{{inputs.region}}.acme.com
  authorization:
    type: bearer
    token: "{{inputs.api_key}}"
  testEndpoint: /me
`)
	}
	for _, pattern := range []string{"eu|us", "(eu)|(us)", "(?i)eu|us"} {
		in, probs := Parse("acme.yaml", manifest(pattern), Options{})
		if in == nil {
			t.Fatalf("%s: %v", pattern, probs)
		}
		re := in.Auth.Inputs[0].Pattern
		for _, v := range []string{"evil.com/x", "eu.evil.com/x", "xeu", "eux", "eu|us", ""} {
			if re.MatchString(v) {
				t.Errorf("pattern %q accepts %q", pattern, v)
			}
		}
		if !re.MatchString("us") {
			t.Errorf("pattern %q refuses us", pattern)
		}
	}
	for _, pattern := range []string{"eu|us)|(.*", "eu)|(?:.*", `eu|us)|(\.*`, "a)(b", `eu|\Qus`} {
		in, probs := Parse("acme.yaml", manifest(pattern), Options{})
		if in != nil {
			t.Errorf("pattern %q was accepted; it matches evil.com/x: %v", pattern, in.Auth.Inputs[0].Pattern.MatchString("evil.com/x"))
			continue
		}
		errs := probs.Errors()
		if len(errs) == 0 || errs[0].Line != 10 || errs[0].Path != "auth.inputs[0].pattern" || !strings.Contains(errs[0].Message, "invalid regular expression") {
			t.Errorf("pattern %q: want a located invalid-pattern error first, got %v", pattern, probs)
		}
	}
}
