package manifest

import "time"

// A workflow file is <name>.workflow.yaml (or .yml) in the manifest folder,
// validated against schemas/workflow.schema.json. It belongs to one
// integration and runs for one connected user at a time.

// Workflow is one compiled workflow file. Immutable once built.
type Workflow struct {
	ID          string // unique across the folder; [a-z0-9][a-z0-9-]*
	Title       string
	Description string
	Integration string // the id of the integration it belongs to
	// EnabledByDefault: the workflow runs for users who never chose;
	// otherwise each user enables it.
	EnabledByDefault bool
	Trigger          Trigger
	Settings         []WorkflowSetting // what the end user fills in the Connect Portal, in file order
	Steps            []*Step           // in order; ids unique across the whole tree

	Source   string // file path
	Hash     string // hex SHA-256 of the file
	Warnings Problems

	// Where fields are written, for errors found when the workflow is
	// checked against the folder's integrations.
	idPos, integrationPos position
}

// TriggerType says what starts a run.
type TriggerType string

const (
	// TriggerRequest: the app calls the SDK's workflow(id, {body}), and the
	// run's response step answers it.
	TriggerRequest TriggerType = "request"
	// TriggerEvent: the app sends an event with the SDK's event(name,
	// payload); every enabled workflow listening for that name runs.
	TriggerEvent TriggerType = "event"
	// TriggerLifecycle: a connection event (the webhook event types:
	// connection.created, connection.disconnected, connection.failed …).
	TriggerLifecycle TriggerType = "lifecycle"
	// TriggerSchedule: a cron schedule, one run per user who has the
	// integration connected and the workflow enabled.
	TriggerSchedule TriggerType = "schedule"
)

// Trigger is a workflow's trigger.
type Trigger struct {
	Type      TriggerType
	Event     string   // TriggerEvent: the app event's name
	Lifecycle []string // TriggerLifecycle: event types
	Cron      string   // TriggerSchedule: five-field cron, in Timezone
	Timezone  *time.Location
}

// WorkflowSetting is one setting the end user fills in.
type WorkflowSetting struct {
	Key      string
	Label    string
	Help     string
	Type     string // "string", "number" or "boolean"
	Required bool
	Default  any      // nil when none
	Enum     []string // for strings; empty when free
}

// StepKind is what a step does.
type StepKind string

const (
	StepAction    StepKind = "action"    // runs one of the integration's actions
	StepRequest   StepKind = "request"   // a request on the integration's API, relative to api.baseUrl
	StepCondition StepKind = "condition" // runs Then or Else
	StepLoop      StepKind = "loop"      // runs Do once per item of a list, at most MaxItems
	StepResponse  StepKind = "response"  // answers a request trigger and ends the run
)

// Step is one step of a workflow.
type Step struct {
	ID    string
	Kind  StepKind
	Title string

	// StepAction
	Action     string     // the action's name in the integration's manifest
	Parameters *StepValue // an object; nil when none

	// StepRequest
	Method  string
	Path    *StepValue // a string, relative to api.baseUrl
	Query   map[string]*StepValue
	Headers map[string]*StepValue
	Body    *StepValue // nil: no body

	// StepCondition
	If   *Expr
	Then []*Step
	Else []*Step

	// StepLoop
	Foreach  *Expr
	As       string // the item's variable name; default "item"
	MaxItems int    // a longer list fails the step
	Do       []*Step

	// StepResponse
	Status       int        // default 200
	ResponseBody *StepValue // nil: no body

	// For StepAction and StepRequest.
	Retry   Retry
	Timeout time.Duration // per attempt
	// ContinueOnError lets the run go on after the step failed for good;
	// its output is then {"error": message}.
	ContinueOnError bool

	ptr         string   // JSON pointer of the step in its file
	actionPos   position // where action is written
	paramKeys   []string // the literal keys of Parameters when it is an object
	paramKeyPos map[string]position
	paramsPos   position
}

type position struct{ line, col int }

// Retry says how a failed action or request is tried again: a transport
// error, a 429 or a 5xx answer, or a timeout. Attempts counts the first
// try (1: never again); Backoff is the wait before the second try,
// doubled each time.
type Retry struct {
	Attempts int
	Backoff  time.Duration
}

// Defaults and bounds of workflow files.
const (
	DefaultWorkflowStepTimeout = 30 * time.Second
	MaxWorkflowStepTimeout     = 5 * time.Minute
	DefaultWorkflowAttempts    = 3
	MaxWorkflowAttempts        = 10
	DefaultWorkflowBackoff     = time.Second
	DefaultLoopMaxItems        = 100
	MaxLoopMaxItems            = 1000
	MaxWorkflowSteps           = 100 // in the whole tree
)
