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
func checkInputs(in *manifest.Integration, payload map[string]any) (map[string]string, []apierror.FieldError) {
	values := map[string]string{}
	var errs []apierror.FieldError
	declared := map[string]bool{}
	get := func(key string) (string, bool) {
		v, ok := payload[key]
		if !ok || v == nil {
			return "", false
		}
		s, isString := v.(string)
		if !isString {
			errs = append(errs, fieldError(key, "must be text"))
			return "", false
		}
		return strings.TrimSpace(s), true
	}
	for _, input := range in.Auth.Inputs {
		declared[input.Key] = true
		v, ok := get(input.Key)
		if !ok || v == "" {
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
			v, ok := get(f.key)
			if !ok || v == "" {
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
		errs = append(errs, fieldError(apierror.Quote(k), "is not a field of "+in.Name))
	}
	return values, errs
}

func fieldError(field, message string) apierror.FieldError {
	return apierror.FieldError{Field: field, Message: message}
}
