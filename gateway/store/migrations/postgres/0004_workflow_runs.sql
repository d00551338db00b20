-- PLACEHOLDER in branch wt-wf-ui only: wf-engine's 0004_workflow_runs.sql
-- replaces this file when both branches are merged (migrations have no gaps).
SELECT 1;
