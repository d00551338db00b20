package sdk

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/apierror"
)

// decodeBody reads a management-API JSON body into v strictly: one JSON
// object of at most limit bytes, no field v does not declare (a misspelt
// field is an error, not silently ignored). shape is the body's form for
// messages ({"integrationId": …}). On failure it has answered with
// 400 bad_request, or 413 body_too_large.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, shape string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err == nil {
		return true
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	msg := "The body must be JSON " + shape + "."
	switch {
	case errors.As(err, &tooLarge):
		apierror.Write(w, apierror.New(http.StatusRequestEntityTooLarge, apierror.BodyTooLarge, "The body is larger than the limit of this route."))
		return false
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		msg = "Unknown field " + apierror.Quote(field) + ": the body must be JSON " + shape + "."
	case errors.As(err, &typeErr) && typeErr.Field != "":
		msg = "Field " + apierror.Quote(typeErr.Field) + " must be a JSON " + jsonKind(typeErr.Type.Kind().String()) + ", not " + typeErr.Value + ": the body must be JSON " + shape + "."
	}
	apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BadRequest, msg))
	return false
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return "number"
}

// decodeOptionalBody is decodeBody for a body that may be absent: an empty
// body leaves v as it is.
func decodeOptionalBody(w http.ResponseWriter, r *http.Request, limit int64, v any, shape string) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		apierror.Write(w, apierror.New(http.StatusRequestEntityTooLarge, apierror.BodyTooLarge, "The body is larger than the limit of this route."))
		return false
	case err != nil:
		apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BodyUnreadable, "The body broke off while it was read."))
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	r.Body = io.NopCloser(strings.NewReader(string(b)))
	return decodeBody(w, r, limit, v, shape)
}
