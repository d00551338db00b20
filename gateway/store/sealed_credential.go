package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/seal"
)

// credentialAAD is the associated data a connection's credential is sealed
// with: its id and its owner. A ciphertext copied to another row, or a row
// whose project, user or integration was edited in the database, does not
// open. Fields are length-prefixed so that no two tuples encode alike.
func credentialAAD(c *connection.Connection) []byte {
	b := make([]byte, 0, 32+len(c.ID)+len(c.ProjectID)+len(c.UserID)+len(c.IntegrationID))
	b = append(b, "plugboard/connection"...)
	for _, f := range []string{c.ID, c.ProjectID, c.UserID, c.IntegrationID} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// sealCredential encrypts c.Credential for c's row.
func sealCredential(kr *seal.Keyring, c *connection.Connection) (string, error) {
	pt, err := json.Marshal((*credentialJSON)(&c.Credential))
	if err != nil {
		return "", fmt.Errorf("encoding credential of connection %s: %w", c.ID, err)
	}
	defer clear(pt)
	return kr.Seal(pt, credentialAAD(c)), nil
}

// openCredential decrypts sealed into c.Credential; c's id and owner must
// already be set.
func openCredential(kr *seal.Keyring, c *connection.Connection, sealed string) error {
	pt, err := kr.Open(sealed, credentialAAD(c))
	if err != nil {
		return fmt.Errorf("decrypting credential of connection %s: %w", c.ID, err)
	}
	defer clear(pt)
	var cred connection.Credential
	if err := json.Unmarshal(pt, (*credentialJSON)(&cred)); err != nil {
		// json errors may quote the plaintext: do not wrap them.
		return fmt.Errorf("decoding credential of connection %s: decrypted value is not a credential", c.ID)
	}
	c.Credential = cred
	return nil
}

// credentialJSON is connection.Credential without its methods: its JSON is
// the real one (Credential's own MarshalJSON writes "<secret>").
type credentialJSON connection.Credential
