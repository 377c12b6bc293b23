// Command argolua runs Argo CD resource health checks (Lua) the way Argo CD's controller runs them, in
// gopher-lua, the VM Argo CD embeds. Checked against argoproj/argo-cd v3.5.1, util/lua/lua.go
// (runLuaWithResourceActionParameters, ExecuteHealthLua, decodeValue) and util/settings/settings.go
// (appendResourceOverridesFromSplitKeys, convertToOverrideKey); go.mod there pins gopher-lua v1.1.2 as here.
//
//	argolua --argocd-cm docs/argocd/argocd-cm.yaml < objects.json
//	argolua --script health.lua < objects.json
//
// stdin holds one object or a JSON array of objects; stdout gets a JSON array with, per object,
// {"status": ..., "message": ...}, or {"error": ...} when the script fails (Argo CD then shows the error).
// A test-bed tool: tests/support/gitops_tools.py runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"gopkg.in/yaml.v3"
)

const (
	customizationPrefix = "resource.customizations.health."
	invalidHealthStatus = "Lua returned an invalid health status" // Argo CD's own message (util/lua/lua.go)
	scriptTimeout       = 1 * time.Second                         // Argo CD's context timeout per script run
)

var validStatuses = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

type result struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// healthChecks reads argocd-cm's split keys resource.customizations.health.<group>_<Kind> into "<group>/<Kind>".
func healthChecks(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(data, &cm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	checks := map[string]string{}
	for key, script := range cm.Data {
		if !strings.HasPrefix(key, customizationPrefix) {
			continue
		}
		groupKind := strings.TrimPrefix(key, customizationPrefix)
		if group, kind, ok := strings.Cut(groupKind, "_"); ok {
			groupKind = group + "/" + kind
		}
		checks[groupKind] = script
	}
	return checks, nil
}

// objectKey is Argo CD's GetConfigMapKey: "<group>/<Kind>", or "<Kind>" for the core group.
func objectKey(obj map[string]any) string {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		return kind
	}
	return group + "/" + kind
}

// toLua converts decoded JSON as Argo CD's decodeValue does. Numbers arrive as int64 or float64 there (the
// object comes from unstructured); json.Number is turned into the same here.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return lua.LNumber(i)
		}
		f, _ := v.Float64()
		return lua.LNumber(f)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), toLua(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// osTime is the one function of Argo CD's safe os library (time, date) a health check could need.
func osTime(l *lua.LState) int {
	l.Push(lua.LNumber(time.Now().Unix()))
	return 1
}

func loadSafeOs(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{"time": osTime}))
	return 1
}

// newState opens what Argo CD opens when useOpenLibs is false: package, base and table only (no io, no os
// beyond the safe subset, no string or math library), with `require("os")` giving the safe subset.
func newState() *lua.LState {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			panic(err)
		}
	}
	l.PreloadModule(lua.OsLibName, loadSafeOs)
	return l
}

func field(tbl *lua.LTable, name string) string {
	if value := tbl.RawGetString(name); value != lua.LNil {
		return value.String()
	}
	return ""
}

func runCheck(obj map[string]any, script string) result {
	l := newState()
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return result{Error: err.Error()}
	}
	switch ret := l.Get(-1).(type) {
	case *lua.LTable:
		res := result{Status: field(ret, "status"), Message: field(ret, "message")}
		if !validStatuses[res.Status] {
			return result{Status: "Unknown", Message: invalidHealthStatus}
		}
		return res
	case *lua.LNilType:
		return result{} // Argo CD: an empty HealthStatus, i.e. the check gave no verdict
	default:
		return result{Error: fmt.Sprintf("expect table output from Lua script, not %s", ret.Type())}
	}
}

func decodeObjects(in io.Reader) ([]map[string]any, error) {
	dec := json.NewDecoder(in)
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	items, isList := raw.([]any)
	if !isList {
		items = []any{raw}
	}
	objs := make([]map[string]any, 0, len(items))
	for i, item := range items {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("item %d is not a JSON object", i)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

func run(args []string, in io.Reader, out io.Writer) error {
	flags := flag.NewFlagSet("argolua", flag.ContinueOnError)
	cmPath := flags.String("argocd-cm", "", "argocd-cm ConfigMap YAML holding resource.customizations.health.<group>_<Kind> keys")
	scriptPath := flags.String("script", "", "one health.lua to run on every object")
	if err := flags.Parse(args); err != nil {
		return err
	}
	var checks map[string]string
	var single string
	switch {
	case *cmPath != "" && *scriptPath == "":
		var err error
		if checks, err = healthChecks(*cmPath); err != nil {
			return err
		}
	case *scriptPath != "" && *cmPath == "":
		data, err := os.ReadFile(*scriptPath)
		if err != nil {
			return err
		}
		single = string(data)
	default:
		return fmt.Errorf("give exactly one of --argocd-cm or --script")
	}
	objs, err := decodeObjects(in)
	if err != nil {
		return fmt.Errorf("stdin is not a JSON object or array of objects: %w", err)
	}
	results := make([]result, 0, len(objs))
	for _, obj := range objs {
		script := single
		if checks != nil {
			key := objectKey(obj)
			if script = checks[key]; script == "" {
				return fmt.Errorf("argocd-cm has no health check for %s", key)
			}
		}
		results = append(results, runCheck(obj, script))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		return err
	}
	_, err = out.Write(buf.Bytes())
	return err
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "argolua:", err)
		os.Exit(1)
	}
}
