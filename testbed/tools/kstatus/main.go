// Command kstatus prints what sigs.k8s.io/cli-utils' kstatus (status.Compute, the library behind Flux's health
// checks, kpt and Config Sync) makes of Kubernetes objects. It reads JSON on stdin: one object, a JSON array of
// objects, or a List (`kind: ...List` with `items`), and writes one JSON array with, per object in order,
// {"status": "Current|InProgress|Failed|Terminating|Unknown", "message": "..."}.
// It is a test-bed tool: tests/support/gitops_tools.py runs it on statuses the operator writes.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// objects splits the input into raw objects without decoding their numbers: unstructured's own UnmarshalJSON
// must read each one, as plain encoding/json makes float64 generations that status.Compute rejects.
func objects(data []byte) ([]json.RawMessage, error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		var items []json.RawMessage
		err := json.Unmarshal(data, &items)
		return items, err
	}
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, err
	}
	if strings.HasSuffix(list.Kind, "List") && list.Items != nil {
		return list.Items, nil
	}
	return []json.RawMessage{data}, nil
}

func compute(raw json.RawMessage) (result, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		return result{}, err
	}
	res, err := status.Compute(u)
	if err != nil {
		return result{}, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return result{Status: res.Status.String(), Message: res.Message}, nil
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	raws, err := objects(data)
	if err != nil {
		return fmt.Errorf("stdin is not a JSON object or list: %w", err)
	}
	results := make([]result, 0, len(raws))
	for i, raw := range raws {
		r, err := compute(raw)
		if err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		results = append(results, r)
	}
	return json.NewEncoder(out).Encode(results)
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}
