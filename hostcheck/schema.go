package hostcheck

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// InfoSchema is the JSON Schema of `urun info --format json`.
//
//go:embed info.schema.json
var InfoSchema []byte

// DoctorSchema is the JSON Schema of `urun doctor --format json`.
//
//go:embed doctor.schema.json
var DoctorSchema []byte

// Validate checks a JSON document against one of the schemas above. It
// knows the part of JSON Schema they use: type, properties, required,
// additionalProperties (false or a schema), items and enum.
func Validate(schema, doc []byte) error {
	var s, d any
	if err := json.Unmarshal(schema, &s); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return validate(s.(map[string]any), d, "$")
}

func validate(s map[string]any, v any, at string) error {
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
	}
	switch t, _ := s["type"].(string); t {
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", at, v)
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := o[r.(string)]; !ok {
				return fmt.Errorf("%s: required field %q is missing", at, r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				if err := validate(ps, o[k], at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: field %q is not in the schema", at, k)
				}
			case map[string]any:
				if err := validate(ap, o[k], at+"."+k); err != nil {
					return err
				}
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, v)
		}
		if is, ok := s["items"].(map[string]any); ok {
			for i, e := range a {
				if err := validate(is, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: want a string, got %T", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, v)
		}
	case "integer":
		n, ok := v.(float64)
		if !ok || n != float64(int64(n)) {
			return fmt.Errorf("%s: want an integer, got %v", at, v)
		}
	}
	return nil
}
