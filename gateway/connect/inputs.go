package connect

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/manifest"
)

// checkInputs validates what a user typed against the manifest's inputs:
// every field is a string, required ones are present, patterns, enums and
// lengths hold, and nothing undeclared is accepted. It never echoes a value.
// Messages name fields by their labels ("API key is required"), as the
// form shows them; Field carries the key.
func checkInputs(in *manifest.Integration, payload map[string]any) (map[string]string, []apierror.FieldError) {
	values := map[string]string{}
	var errs []apierror.FieldError
	declared := map[string]bool{}
	// get returns the trimmed value, or "" when absent; a value that is
	// not text is reported here, once (bad).
	get := func(key, label string) (v string, bad bool) {
		raw, ok := payload[key]
		if !ok || raw == nil {
			return "", false
		}
		s, isString := raw.(string)
		if !isString {
			errs = append(errs, fieldError(key, label+" must be text"))
			return "", true
		}
		return strings.TrimSpace(s), false
	}
	for _, input := range in.Auth.Inputs {
		declared[input.Key] = true
		v, bad := get(input.Key, input.Label)
		if bad {
			continue
		}
		if v == "" {
			if input.Default != "" {
				values[input.Key] = input.Default
				continue
			}
			if input.Required {
				errs = append(errs, fieldError(input.Key, input.Label+" is required"))
			}
			continue
		}
		switch {
		case utf8.RuneCountInString(v) > input.MaxLength:
			errs = append(errs, fieldError(input.Key, fmt.Sprintf("%s is longer than %d characters", input.Label, input.MaxLength)))
		case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			errs = append(errs, fieldError(input.Key, input.Label+" contains a control character"))
		case input.Pattern != nil && !input.Pattern.MatchString(v):
			errs = append(errs, fieldError(input.Key, input.Label+" does not have the expected format"))
		case len(input.Enum) > 0 && !slices.Contains(input.Enum, v):
			errs = append(errs, fieldError(input.Key, input.Label+" must be one of: "+strings.Join(input.Enum, ", ")))
		default:
			values[input.Key] = v
		}
	}
	if in.Auth.Type == manifest.AuthClientCredentials {
		cc := in.Auth.ClientCredentials
		for _, f := range []struct{ key, label string }{{integration.FieldClientID, cc.ClientIDLabel}, {integration.FieldClientSecret, cc.ClientSecretLabel}} {
			declared[f.key] = true
			v, bad := get(f.key, f.label)
			if bad {
				continue
			}
			if v == "" {
				errs = append(errs, fieldError(f.key, f.label+" is required"))
				continue
			}
			if len(v) > 4096 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				errs = append(errs, fieldError(f.key, f.label+" is not a valid value"))
				continue
			}
			values[f.key] = v
		}
	}
	var unknown []string
	for k := range payload {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, fieldError(apierror.Quote(k), in.Name+" has no field "+apierror.Quote(k)))
	}
	return values, errs
}

func fieldError(field, message string) apierror.FieldError {
	return apierror.FieldError{Field: field, Message: message}
}
