"""Scenario files in general: YAML with line numbers (no alias bombs), strict schema
helpers that turn validation errors into file/line/field messages, and field docs."""
