// Package schemas embeds the JSON Schemas that define Plugboard's file formats.
// The files are the published documentation as well: editors load them through
// the `# yaml-language-server: $schema=…` line at the top of each manifest.
package schemas

import _ "embed"

// Integration is the JSON Schema (draft 2020-12) of an integration manifest.
//
//go:embed integration.schema.json
var Integration []byte

// IntegrationURL is the $id of the integration schema.
const IntegrationURL = "https://plugboard.dev/schemas/integration.schema.json"

// Config is the JSON Schema of the optional gateway configuration file.
//
//go:embed config.schema.json
var Config []byte

// ConfigURL is the $id of the config schema.
const ConfigURL = "https://plugboard.dev/schemas/config.schema.json"

// Workflow is the JSON Schema of a workflow file (<name>.workflow.yaml).
//
//go:embed workflow.schema.json
var Workflow []byte

// WorkflowURL is the $id of the workflow schema.
const WorkflowURL = "https://plugboard.dev/schemas/workflow.schema.json"
