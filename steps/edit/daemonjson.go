package edit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// DaemonJSON sets json-file logging with max-size 100m and
// max-file 5 in daemon.json, keeping every other key, their order and their
// values; an already right file comes back unchanged (byte for byte).
func DaemonJSON(old []byte) ([]byte, error) {
	type kv struct {
		k string
		v json.RawMessage
	}
	var items []kv
	if len(bytes.TrimSpace(old)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(old))
		bad := func(err error) error {
			return fmt.Errorf("%s is not a JSON object: %v", "/etc/docker/daemon.json", err)
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return nil, bad(fmt.Errorf("it does not start with {"))
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, bad(err)
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, bad(err)
			}
			items = append(items, kv{t.(string), v})
		}
		if _, err := dec.Token(); err != nil {
			return nil, bad(err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, bad(fmt.Errorf("text after the closing }"))
		}
	}
	get := func(k string) (json.RawMessage, int) {
		for i, it := range items {
			if it.k == k {
				return it.v, i
			}
		}
		return nil, -1
	}
	set := func(k string, v json.RawMessage) {
		if _, i := get(k); i >= 0 {
			items[i].v = v
		} else {
			items = append(items, kv{k, v})
		}
	}
	var driver string
	rawDriver, _ := get("log-driver")
	_ = json.Unmarshal(rawDriver, &driver)
	opts := map[string]any{}
	if raw, i := get("log-opts"); i >= 0 {
		if err := json.Unmarshal(raw, &opts); err != nil {
			return nil, fmt.Errorf("%s: log-opts is not an object: %v", "/etc/docker/daemon.json", err)
		}
	}
	if driver == "json-file" && opts["max-size"] == "100m" && opts["max-file"] == "5" {
		return old, nil
	}
	set("log-driver", json.RawMessage(`"json-file"`))
	opts["max-size"], opts["max-file"] = "100m", "5"
	o, _ := json.Marshal(opts)
	set("log-opts", o)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(it.k)
		b.Write(k)
		b.WriteByte(':')
		b.Write(it.v)
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
