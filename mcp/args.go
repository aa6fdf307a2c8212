package mcp

import (
	"math"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/mark3labs/mcp-go/mcp"
)

// Argument helpers: a wrong type is a tool error naming the argument.

func optString(req mcp.CallToolRequest, key string) (string, error) {
	v, ok := req.GetArguments()[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", store.Errorf(store.EINVALID, "%s must be a string", key)
	}
	return s, nil
}

func optBool(req mcp.CallToolRequest, key string) (bool, error) {
	v, ok := req.GetArguments()[key]
	if !ok || v == nil {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, store.Errorf(store.EINVALID, "%s must be true or false", key)
	}
	return b, nil
}

func optInt(req mcp.CallToolRequest, key string) (int, error) {
	v, ok := req.GetArguments()[key]
	if !ok || v == nil {
		return 0, nil
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		return 0, store.Errorf(store.EINVALID, "%s must be a non-negative integer", key)
	}
	return int(f), nil
}

func requiredString(req mcp.CallToolRequest, key string) (string, error) {
	s, err := optString(req, key)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", store.Errorf(store.EINVALID, "%s is required", key)
	}
	return s, nil
}

// stringArgs reads several optional string arguments at once.
func stringArgs(req mcp.CallToolRequest, keys ...string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		s, err := optString(req, k)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}
