package usertoken

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"

	"github.com/golang-jwt/jwt/v5"
)

// Types the parser decodes the header and the payload into.
var (
	headerType  = reflect.TypeFor[map[string]any]()
	payloadType = reflect.TypeFor[payload]()
)

// parseError turns an error from jwt.Parser into an *Error. The library's
// own messages are not passed on: some quote bytes of the token.
func parseError(err error) *Error {
	var (
		own    *Error
		b64    base64.CorruptInputError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &own): // from keyFor
		return own
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(ErrSignature, "the signature does not verify with this project's key")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The only other way the parser reports this: alg missing or not
		// one it knows.
		return refuse(ErrAlgorithm, "alg is missing or unsupported; use RS256 or ES256")
	case errors.As(err, &b64):
		return refuse(ErrMalformed, "a segment is not unpadded base64url")
	case errors.As(err, &syntax):
		return refuse(ErrMalformed, "the header or the payload is not JSON")
	case errors.As(err, &typ) && (typ.Type == headerType || typ.Type == payloadType):
		return refuse(ErrMalformed, "the header and the payload must be JSON objects")
	case errors.Is(err, jwt.ErrTokenMalformed):
		// Whatever else fails to decode is a claim of the wrong type.
		return refuse(ErrClaims, "a claim has the wrong type (exp, nbf, iat: numbers; sub: string; id: string or integer; aud: string or array of strings)")
	default:
		return refuse(ErrMalformed, "not a JWT")
	}
}
